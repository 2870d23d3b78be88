import { type Browser } from 'playwright-core';
import { ChangeFeed } from '../src/feed/change-feed.js';
import { type FeedPosition, decodePosition } from '../src/feed/feed-position.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { SseClient, listenUrl } from './support/sse.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { describeInBrowser, launchChromium } from './support/browser.js';

/**
 * GET /changes followed by a real browser's EventSource (Debian's chromium): the id-only message
 * that begins every stream becomes its last event id, so a stream dropped before any change
 * resumes where it began. Skipped without Chromium, except in CI.
 */

describeInBrowser('GET /changes in a browser', () => {
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

  it('resumes from the first message of a stream dropped before any change, with the changes committed meanwhile', async () => {
    const deviceId = `browser-${newCommandId()}`;
    // The service's own first message: a stream opened now, read up to it.
    const probe = await SseClient.open(`${base}/changes?deviceId=${deviceId}`);
    await probe.waitUntil(() => probe.lastEventId !== undefined, 5000);
    probe.close();
    const start = probe.lastEventId ?? '';
    expect(probe.changes()).toEqual([]);
    const body = callbackBody({ deviceId });
    const pushed = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: body,
    });
    expect(pushed.statusCode).toBe(200);

    const feed = t.app.get(ChangeFeed);
    const resumedAfter: (FeedPosition | undefined)[] = [];
    const stream = feed.stream.bind(feed);
    feed.stream = (response, options) => {
      resumedAfter.push(options.after);
      return stream(response, options);
    };

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      let requests = 0;
      await page.route('**/changes?*', async (route) => {
        requests += 1;
        if (requests === 1) {
          // That same first message, then the connection drops: no change reached the browser.
          await route.fulfill({
            status: 200,
            headers: { 'content-type': 'text/event-stream' },
            body: `id: ${start}\n\nretry: 100\n\n`,
          });
        } else {
          await route.continue();
        }
      });
      await page.goto(`${base}/health/live`);
      const received = await page.evaluate(
        `new Promise((resolve) => {
          const source = new EventSource('/changes?deviceId=${deviceId}');
          const messages = [];
          source.onmessage = (event) => messages.push('message:' + event.data);
          source.addEventListener('command-status', (event) => {
            source.close();
            resolve([...messages, JSON.parse(event.data).commandId]);
          });
        })`,
      );
      // The id-only message fired no event; the change committed after it came on resuming.
      expect(received).toEqual([body.commandId]);
      expect(requests).toBe(2);
      // What the service was asked for: Playwright does not show the Last-Event-ID header that
      // Chromium adds to a reconnection.
      expect(resumedAfter).toEqual([decodePosition(start)]);
    } finally {
      feed.stream = stream;
      await context.close();
    }
  }, 60_000);
});
