import { type Browser } from 'playwright-core';
import { listenUrl } from './support/sse.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { describeInBrowser, launchChromium } from './support/browser.js';

/**
 * Swagger UI at /docs in a real browser (Debian's chromium) under its Content-Security-Policy:
 * it renders, and the browser reports no violation. Skipped without Chromium, except in CI.
 */

const WAIT = { timeout: 15_000 };
// Run in the page before its scripts: a string, as this file is type-checked without the DOM's types.
const RECORD_VIOLATIONS = {
  content: `window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
    });`,
};
describeInBrowser('Swagger UI in a browser', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestApp();
    base = await listenUrl(t.app);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('renders every operation under its Content-Security-Policy, with no violation', async () => {
    const context = await browser.newContext();
    try {
      await context.addInitScript(RECORD_VIOLATIONS);
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') {
          consoleErrors.push(message.text());
        }
      });
      const response = await page.goto(`${base}/docs`);
      expect(response?.status()).toBe(200);
      const headers = response?.headers() ?? {};
      expect(headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
      expect(headers['x-content-type-options']).toBe('nosniff');

      await page.locator('.swagger-ui .info .title', { hasText: 'command-tracker' }).waitFor(WAIT);
      const changes = page.locator('.opblock-summary-path', { hasText: /^\/changes$/ }).first();
      await changes.waitFor(WAIT);
      const document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json<{
        paths: Record<string, Record<string, unknown>>;
      }>();
      const operations = Object.values(document.paths).flatMap((path) => Object.keys(path));
      expect(await page.locator('.opblock').count()).toBe(operations.length);
      // Opening an operation renders its parameters: React's inline styles at work.
      await changes.click();
      await page.locator('.parameters-container').first().waitFor(WAIT);
      await page.locator('.parameter__name', { hasText: 'Last-Event-ID' }).first().waitFor(WAIT);

      const violations = await page.evaluate<string[]>('window.cspViolations');
      expect(violations).toEqual([]);
      expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
