import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { ensureDashboardBuilt } from './support/dashboard-page.js';
import { listenUrl } from './support/sse.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { describeInBrowser, launchChromium } from './support/browser.js';

/**
 * The operations page as on call uses it first: the stuck view, a device, time in one zone,
 * search, export, and the keyboard and screen-reader paths, in Chromium against the service.
 * Skipped without Chromium, as dashboard.browser.e2e.spec.ts is.
 */

const KEY = 'browser-test-key-0123456789';
const KEY_IN_SESSION = {
  content: `sessionStorage.setItem('command-tracker.api-key', ${JSON.stringify(KEY)})`,
};
const DOCS = resolve(import.meta.dirname, '../docs');
const WAIT = { timeout: 10_000 };
describeInBrowser('operations page: stuck commands, devices, time, search, keyboard', () => {
  let t: TestApp;
  let base: string;
  let db: DataSource;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const tag = newCommandId().slice(0, 6);
  const pumpA = `pump-${tag}-a`;
  const pumpB = `pump-${tag}-b`;
  const tank = `tank-${tag}`;
  // Open commands and how long ago each last changed, in minutes.
  const silent: [device: string, id: string, status: string, minutes: number][] = [
    [pumpA, `s1-${tag}`, 'SENT', 200],
    [pumpA, `s2-${tag}`, 'DELIVERED', 90],
    [pumpB, `s3-${tag}`, 'PENDING', 30],
    [tank, `s4-${tag}`, 'SENT', 45],
    [pumpA, `s5-${tag}`, 'SENT', 3],
  ];
  // Finished commands of pumpA: 3 successful, 2 failed.
  const finished: [string, string][] = [
    [`f1-${tag}`, 'SUCCESSFUL'],
    [`f2-${tag}`, 'SUCCESSFUL'],
    [`f3-${tag}`, 'SUCCESSFUL'],
    [`f4-${tag}`, 'FAILED'],
    [`f5-${tag}`, 'FAILED'],
  ];
  const longId = `long-${tag}`;

  const report = async (
    deviceId: string,
    commandId: string,
    resultCode: string,
    detail?: unknown,
  ) => {
    const response = await fetch(`${base}/callbacks/command-status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        callbackBody({ deviceId, commandId, result: { resultCode, resultDetail: detail ?? null } }),
      ),
    });
    expect(response.status).toBe(200);
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    t = await startTestApp({ apiKeys: [KEY] });
    base = await listenUrl(t.app);
    db = t.app.get(DataSource);
    browser = await launchChromium();
    for (const [device, id, status] of silent) {
      await report(device, id, status);
    }
    for (const [id, status] of finished) {
      await report(pumpA, id, status);
    }
    await report(tank, `f6-${tag}`, 'FAILED');
    // 30 KB of result detail, as a chatty codec sends.
    await report(tank, longId, 'FAILED', { trace: 'x'.repeat(30_000), code: 7 });
    for (const [, id, , minutes] of silent) {
      await db.query(
        `UPDATE commands SET updated_at = now() - $2 * interval '1 minute',
                             created_at = now() - ($2 + 1) * interval '1 minute'
         WHERE command_id = $1`,
        [id, minutes],
      );
    }
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({
      viewport: { width: 1200, height: 900 },
      // Eight hours from UTC: the page must still show and take times in UTC.
      timezoneId: 'Asia/Shanghai',
    });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context.close();
  });

  const open = async (hash = '') => {
    await context.addInitScript(KEY_IN_SESSION);
    await page.goto(`${base}/dashboard${hash}`);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
  };

  const rowIds = (table: string) =>
    page
      .locator(`${table} tbody tr`)
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-command-id')));

  /** Presses Tab (or Shift+Tab) until the focused element's text is `text`. */
  const tabTo = async (text: string | RegExp, key = 'Tab') => {
    for (let i = 0; i < 60; i += 1) {
      await page.keyboard.press(key);
      const focused = await page.evaluate<string>('document.activeElement?.textContent ?? ""');
      if (typeof text === 'string' ? focused.trim() === text : text.test(focused)) {
        return;
      }
    }
    throw new Error(`no focusable element says ${String(text)}`);
  };

  const focusedId = () => page.evaluate<string>('document.activeElement?.id ?? ""');

  it('reaches the stuck view by keyboard: skip link, focus on the heading, a new title', async () => {
    await open('#/');
    await page.locator('#status-counts').waitFor(WAIT);
    await page.keyboard.press('Tab');
    expect(await focusedId()).toBe('skip-link');
    await page.keyboard.press('Enter');
    expect(await focusedId()).toBe('main');

    // The tabs are before the content: back from it.
    await tabTo('Stuck', 'Shift+Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/stuck/);
    await page.locator('#stuck-list').waitFor(WAIT);
    expect(await focusedId()).toBe('stuck-title');
    expect(await page.title()).toBe('Stuck commands · command-tracker');
    expect(await page.locator('nav.tabs a[aria-current="page"]').allTextContents()).toEqual([
      'Stuck',
    ]);

    // Silent for more than 10 minutes: longest first, with their ages and a total.
    expect(await rowIds('#stuck-list')).toEqual([
      `s1-${tag}`,
      `s2-${tag}`,
      `s4-${tag}`,
      `s3-${tag}`,
    ]);
    expect(await page.locator('#stuck-list tbody tr .age').allTextContents()).toEqual([
      '3 h 20 min',
      '1 h 30 min',
      '45 min',
      '30 min',
    ]);
    await page
      .locator('#stuck-total', { hasText: /^4 open commands silent for more than 10 min/ })
      .waitFor(WAIT);
    expect(await page.locator('#stuck-by-device tbody tr').allInnerTexts()).toEqual([
      `${pumpA}\t2`,
      `${pumpB}\t1`,
      `${tank}\t1`,
    ]);
    await page.locator('#stuck-by-command tbody tr').first().waitFor(WAIT);
    await screenshot('stuck');

    // The filter by keyboard: the minutes field, a new number, Enter.
    await tabTo(/^Show$/);
    await page.keyboard.press('Shift+Tab');
    expect(await focusedId()).toBe('silent-minutes');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('60');
    await page.keyboard.press('Enter');
    await page.waitForURL(/minutes=60/);
    await page.locator('#stuck-total', { hasText: /^2 open commands/ }).waitFor(WAIT);
    expect(await rowIds('#stuck-list')).toEqual([`s1-${tag}`, `s2-${tag}`]);
    expect(await focusedId()).toBe('stuck-title');
  });

  it('marks a stuck command that changes, and the view drops it on its next read', async () => {
    const id = `m1-${tag}`;
    await report(pumpB, id, 'SENT');
    await db.query(
      `UPDATE commands SET updated_at = now() - interval '500 minutes' WHERE command_id = $1`,
      [id],
    );
    await open('#/stuck?minutes=10');
    await page.locator(`#stuck-list tr[data-command-id="${id}"]`).waitFor(WAIT);
    await report(pumpB, id, 'SUCCESSFUL');
    await page
      .locator(`#stuck-list tr[data-command-id="${id}"][data-no-match="true"]`)
      .waitFor(WAIT);
    await page
      .locator(`#stuck-list tr[data-command-id="${id}"]`)
      .waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('links each open count of the overview to the stuck view of that status', async () => {
    await open('#/');
    const sent = page.locator('#status-counts tr[data-status="SENT"] th a');
    await sent.click();
    await page.waitForURL(/#\/stuck\?minutes=10&status=SENT$/);
    await page.locator('#stuck-list').waitFor(WAIT);
    expect(await rowIds('#stuck-list')).toEqual([`s1-${tag}`, `s4-${tag}`]);
  });

  it('shows a device: its commands, success rate and last seen status', async () => {
    await open('#/stuck?minutes=10');
    await page.locator('#stuck-by-device a', { hasText: pumpA }).click();
    await page.waitForURL(new RegExp(`#/device/${pumpA}$`));
    await page.locator('#device-facts').waitFor(WAIT);
    expect(await focusedId()).toBe('device-title');
    expect(await page.title()).toBe(`Device ${pumpA} · command-tracker`);
    await page.locator('#success-rate', { hasText: '60% (3 of 5 finished)' }).waitFor(WAIT);
    // The command that changed last: one of the finished ones, reported after the open ones.
    await page.locator('#last-seen', { hasText: /SUCCESSFUL|FAILED/ }).waitFor(WAIT);
    expect((await rowIds('#device-commands')).sort()).toEqual(
      [`s1-${tag}`, `s2-${tag}`, `s5-${tag}`, ...finished.map(([id]) => id)].sort(),
    );
  });

  it('names the top failing devices and commands of the window on the overview', async () => {
    await open('#/');
    await page.locator('#failing-devices').waitFor(WAIT);
    expect(await page.locator('#failing-devices tbody tr').allInnerTexts()).toEqual([
      `${pumpA}\t2`,
      `${tank}\t2`,
    ]);
    expect(await page.locator('#failing-commands tbody tr').allInnerTexts()).toEqual(['— / —\t4']);
  });

  it('shows and takes times in UTC, named, with relative ages, in a browser eight hours off', async () => {
    await open(`#/commands?deviceId=${pumpB}`);
    const cell = page.locator(`#command-list tr[data-command-id="s3-${tag}"] td`).nth(4);
    await cell.waitFor(WAIT);
    expect(await cell.innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(3\d min ago\)$/);
    await page.getByLabel('Created from (UTC)').fill('2026-03-01T08:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/since=2026-03-01T08%3A00%3A00.000Z/);
    expect(await page.getByLabel('Created from (UTC)').inputValue()).toBe('2026-03-01T08:00');
  });

  it('searches a command id (the command only) and a device id prefix (their commands)', async () => {
    await open('#/');
    const box = page.getByRole('searchbox', { name: 'Command id or device id' });
    await box.fill(`s2-${tag}`);
    await box.press('Enter');
    await page.locator('#search-result a', { hasText: `s2-${tag}` }).waitFor(WAIT);
    expect(await page.locator('#list-part').isHidden()).toBe(true);
    expect(await page.locator('#command-list').count()).toBe(0);

    await box.fill(`pump-${tag}`);
    await box.press('Enter');
    await page.getByText(`No command has the id pump-${tag}`).waitFor(WAIT);
    await page.locator('#command-list tbody tr').first().waitFor(WAIT);
    const devices = await page.locator('#command-list tbody tr td:nth-child(2)').allTextContents();
    expect(devices.length).toBe(10);
    expect(devices.every((device) => device === pumpA || device === pumpB)).toBe(true);
  });

  it('marks listed rows that no longer match the filter as changes arrive', async () => {
    await open(`#/commands?deviceId=${pumpA}&status=SENT`);
    const row = page.locator(`#command-list tr[data-command-id="s5-${tag}"]`);
    await row.waitFor(WAIT);
    await report(pumpA, `s5-${tag}`, 'DELIVERED');
    await page
      .locator(`#command-list tr[data-command-id="s5-${tag}"][data-no-match="true"]`)
      .waitFor(WAIT);
    expect(await row.innerText()).toMatch(/no longer matches the filter/);
    // No live region re-reads the table: the list's announcements are one short status line.
    expect(await page.locator('[aria-live] table, [role="status"] table').count()).toBe(0);
  });

  it('shows when the data was read, and that it is stale while the stream is down', async () => {
    await page.route('**/changes?*', (route) =>
      route.fulfill({ status: 503, headers: { 'retry-after': '30' }, body: '' }),
    );
    await context.addInitScript(KEY_IN_SESSION);
    await page.goto(`${base}/dashboard#/commands`);
    await page.locator('#command-list').waitFor(WAIT);
    const readAt = page.locator('#read-at[data-stale="true"]');
    await readAt.waitFor(WAIT);
    expect(await readAt.innerText()).toMatch(
      /^Data read \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ s ago\): not live, may be out of date$/,
    );
  });

  it('reads fresh data as not stale while live', async () => {
    await open('#/commands');
    await page.locator('#read-at[data-stale="false"]').waitFor(WAIT);
  });

  it('exports the current filter as CSV', async () => {
    await open(`#/commands?deviceIdPrefix=pump-${tag}&status=SENT,DELIVERED`);
    await page.locator('#command-list').waitFor(WAIT);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('commands.csv');
    const text = await readFile((await download.path()) ?? '', 'utf8');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'commandId,deviceId,status,serviceId,method,createdAt,updatedAt,deadline,sentAt,deliveredAt,completedAt,version,resultDetail',
    );
    const [expected] = await db.query(
      `SELECT count(*)::int AS n FROM commands
       WHERE device_id LIKE $1 AND status IN ('SENT', 'DELIVERED')`,
      [`pump-${tag}%`],
    );
    expect(lines.length - 1).toBe(expected.n);
    await page
      .locator('#export-message', { hasText: `Exported ${expected.n} commands.` })
      .waitFor(WAIT);
  });

  it('wraps a 30 KB result detail, shows all of it on demand, and keeps the page narrow', async () => {
    await open(`#/command/${longId}`);
    const show = page.locator('.summary').getByRole('button', { name: /^Show all \(30,/ });
    await show.waitFor(WAIT);
    const overflow = () =>
      page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await show.focus();
    await page.keyboard.press('Enter');
    const full = page.locator('.summary pre.detail');
    await full.waitFor(WAIT);
    expect(await full.innerText()).toContain('"code": 7');
    expect(await overflow()).toBeLessThanOrEqual(0);
  });

  it('answers an unknown route with "Page not found", under no tab', async () => {
    await open('#/nowhere');
    await page.getByRole('heading', { name: 'Page not found' }).waitFor(WAIT);
    expect(await page.locator('nav.tabs a[aria-current]').count()).toBe(0);
    expect(await page.locator('#status-counts').count()).toBe(0);
    expect(await page.title()).toBe('Page not found · command-tracker');
  });

  it('changes the window only on an explicit action, also by keyboard', async () => {
    await open('#/');
    await page.locator('#status-counts').waitFor(WAIT);
    await page.locator('#window').focus();
    await page.keyboard.press('ArrowUp');
    await page.waitForTimeout(300);
    expect(page.url()).not.toMatch(/window=/);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/window=60$/);
    expect(await focusedId()).toBe('overview-title');
  });

  it('ignores a feed message without data, as a stream begins', async () => {
    let served = false;
    await page.route('**/changes?*', async (route) => {
      if (served) {
        return route.continue();
      }
      served = true;
      await route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: 'retry: 200\n\nid: 0\nevent: command-status\n\nevent: command-status\ndata: not json\n\n',
      });
    });
    await open(`#/command/s3-${tag}`);
    await page.locator('.summary').waitFor(WAIT);
    await report(pumpB, `s3-${tag}`, 'SENT');
    await page.locator('.summary', { hasText: 'SENT' }).waitFor(WAIT);
    expect(await page.locator('.message.error').count()).toBe(0);
  });

  const screenshot = async (name: string) => {
    await page.screenshot({ path: join(DOCS, `dashboard-${name}.png`), fullPage: true });
  };
});
