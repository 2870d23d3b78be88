import { join, resolve } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
  type Request,
} from 'playwright-core';
import { DataSource } from 'typeorm';
import { ensureDashboardBuilt } from './support/dashboard-page.js';
import { listenUrl } from './support/sse.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { describeInBrowser, launchChromium } from './support/browser.js';

/**
 * The operations page in a real browser (Debian's chromium), against the service on a real port.
 * Without Chromium these tests are skipped, except in CI, where that is a failure.
 */

const KEY = 'browser-test-key-0123456789';
// Scripts run in the page are strings: this file is type-checked without the DOM's types.
const KEY_IN_SESSION = {
  content: `sessionStorage.setItem('command-tracker.api-key', ${JSON.stringify(KEY)})`,
};
const DOCS = resolve(import.meta.dirname, '../docs');
const WAIT = { timeout: 10_000 };
describeInBrowser('operations page in a browser', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const device = `meter-${newCommandId().slice(0, 8)}`;
  const other = `valve-${newCommandId().slice(0, 8)}`;
  // Commands of `device`, oldest first.
  const commands: string[] = [];

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

  /** Waits until the element's text matches: the page updates by itself. */
  const waitForText = async (locator: Locator, text: RegExp) => {
    await locator.filter({ hasText: text }).first().waitFor(WAIT);
  };

  const screenshot = async (name: string) => {
    await page.screenshot({ path: join(DOCS, `dashboard-${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    t = await startTestApp({ apiKeys: [KEY] });
    base = await listenUrl(t.app);
    browser = await launchChromium();
    // 30 commands of one device over several statuses, a few of another.
    const statuses = ['SENT', 'DELIVERED', 'SUCCESSFUL', 'FAILED', 'PENDING', 'TIMEOUT'];
    for (let i = 0; i < 30; i += 1) {
      const id = `cmd-${String(i).padStart(2, '0')}-${newCommandId().slice(0, 12)}`;
      commands.push(id);
      await report(device, id, statuses[i % statuses.length], { value: i });
    }
    for (let i = 0; i < 3; i += 1) {
      await report(other, newCommandId(), 'SENT');
    }
    // Repeats and late reports, as a platform backlog brings them.
    for (let i = 0; i < 30; i += 3) {
      await report(device, commands[i], statuses[i % statuses.length]);
      await report(device, commands[i], 'PENDING');
    }
    // Spread creation over the last days, so the list's order is unambiguous.
    await t.app.get(DataSource).query(
      `UPDATE commands SET created_at = now() - (interval '1 minute' * (100 - (substr(command_id, 5, 2))::int))
         WHERE command_id LIKE 'cmd-%'`,
    );
    // And the reports over the last hour, for the chart.
    await t.app
      .get(DataSource)
      .query(`UPDATE command_history SET received_at = now() - interval '1 minute' * (id % 45)`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context.close();
  });

  /** Opens the page with the key already entered in this tab's session. */
  const open = async (hash = '') => {
    await context.addInitScript(KEY_IN_SESSION);
    await page.goto(`${base}/dashboard${hash}`);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
  };

  it('asks for a key, refuses a wrong one, and keeps a good one for the session only', async () => {
    const requests: Request[] = [];
    page.on('request', (request) => requests.push(request));
    await page.goto(`${base}/dashboard`);
    await page.getByRole('heading', { name: 'An API key is needed' }).waitFor(WAIT);
    await page.getByText('No key? Ask whoever runs the service').waitFor(WAIT);
    await screenshot('key');

    await page.getByRole('textbox', { name: 'API key' }).fill('not-the-key-0123456789');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByText('That key was not accepted').waitFor(WAIT);

    await page.getByRole('textbox', { name: 'API key' }).fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.locator('#status-counts').waitFor(WAIT);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    expect(
      await page.evaluate<string | null>("sessionStorage.getItem('command-tracker.api-key')"),
    ).toBe(KEY);
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);

    // A reload keeps it: no second prompt.
    await page.reload();
    await page.locator('#status-counts').waitFor(WAIT);
    expect(await page.getByRole('heading', { name: 'An API key is needed' }).count()).toBe(0);

    // The key travels in a header; only /changes (EventSource) carries it in its URL.
    const withKeyInUrl = requests.filter((request) => request.url().includes(KEY));
    expect(withKeyInUrl.length).toBeGreaterThan(0);
    expect(withKeyInUrl.every((request) => new URL(request.url()).pathname === '/changes')).toBe(
      true,
    );

    await page.getByRole('button', { name: 'Forget key' }).click();
    await page.getByRole('heading', { name: 'An API key is needed' }).waitFor(WAIT);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  });

  it('shows counts by status, the chart of the last hour and the oldest open commands', async () => {
    await open();
    const counts = page.locator('#status-counts');
    await counts.waitFor(WAIT);
    const [expected] = await t.app.get(DataSource).query(
      `SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent, count(*)::int AS total,
              (SELECT count(*)::int FROM command_history WHERE outcome = 'applied') AS applied,
              (SELECT count(*)::int FROM command_history WHERE outcome = 'stale') AS stale
       FROM commands`,
    );
    await waitForText(
      counts.locator('tr[data-status="SENT"] td').first(),
      new RegExp(`^${expected.sent}$`),
    );
    await waitForText(counts.locator('tfoot td').first(), new RegExp(`^${expected.total}$`));
    // Every report was stored in the last hour: the chart counts them all.
    const legend = page.locator('.legend');
    await waitForText(legend, new RegExp(`applied \\(${expected.applied}\\)`));
    await waitForText(legend, new RegExp(`stale \\(${expected.stale}\\)`));
    expect(expected.stale).toBe(10);
    const oldest = page.locator('#oldest-open tbody tr');
    expect(await oldest.count()).toBe(10);
    await waitForText(oldest.first(), new RegExp(commands[0]));
    await screenshot('overview');

    // A shorter window counts fewer commands, once asked for.
    await page.getByLabel('Window', { exact: true }).selectOption({ label: 'Last 15 minutes' });
    expect(page.url()).not.toMatch(/window=15/);
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.waitForURL(/window=15/);
    await waitForText(counts.locator('tfoot td').nth(1), /^3$/);

    // A count opens the list behind it.
    await page.getByRole('link', { name: /^\d+ commands TIMEOUT, all/ }).click();
    await page.waitForURL(/#\/commands\?status=TIMEOUT$/);
    const rows = page.locator('#command-list tbody tr');
    await rows.first().waitFor(WAIT);
    expect(await rows.locator('.status-cell').allTextContents()).toEqual(Array(5).fill('TIMEOUT'));
  });

  it('reads on a phone without sideways scrolling of the page', async () => {
    await context.close();
    context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    page = await context.newPage();
    await open();
    await page.locator('#status-counts').waitFor(WAIT);
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot('phone');
  });

  it('filters by device and status and pages newest first, as GET /commands does', async () => {
    await open('#/commands');
    await page.getByRole('textbox', { name: 'Device id', exact: true }).fill(device);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.locator('#command-list tbody tr');
    await waitForText(rows.first(), new RegExp(commands[29]));
    expect(await rows.count()).toBe(25);
    const firstPage = await rows.evaluateAll((trs) =>
      trs.map((tr) => tr.getAttribute('data-command-id')),
    );
    expect(firstPage).toEqual([...commands].reverse().slice(0, 25));
    await screenshot('commands');

    await page.getByRole('button', { name: 'Older →' }).click();
    await waitForText(rows.first(), new RegExp(commands[4]));
    const secondPage = await rows.evaluateAll((trs) =>
      trs.map((tr) => tr.getAttribute('data-command-id')),
    );
    expect(secondPage).toEqual([...commands].reverse().slice(25));
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: '← Newer' }).click();
    await waitForText(rows.first(), new RegExp(commands[29]));

    await page.getByLabel('FAILED').check();
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/status=FAILED/);
    await waitForText(rows.first(), /FAILED/);
    const shown = await rows.locator('.status-cell').allTextContents();
    expect(shown).toEqual(Array(5).fill('FAILED'));
  });

  it('finds a command by its id and a device by its id from one search box', async () => {
    await open();
    await page.getByRole('searchbox', { name: 'Command id or device id' }).fill(commands[7]);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('#search-result a', { hasText: commands[7] }).click();
    await page.getByRole('heading', { name: `Command ${commands[7]}` }).waitFor(WAIT);

    await page.getByRole('searchbox', { name: 'Command id or device id' }).fill(other);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByText(`No command has the id ${other}`).waitFor(WAIT);
    await waitForText(page.locator('#command-list tbody tr').first(), new RegExp(other));
    expect(await page.locator('#command-list tbody tr').count()).toBe(3);
  });

  it('shows a command’s timeline in order, with outcomes, sources and the raw payload on demand', async () => {
    const id = `timeline-${newCommandId()}`;
    await report(device, id, 'SENT');
    await report(device, id, 'DELIVERED', { step: 2 });
    await report(device, id, 'SENT'); // stale
    await report(device, id, 'SUCCESSFUL', { value: 42 });
    await open(`#/command/${encodeURIComponent(id)}`);
    const entries = page.locator('#timeline li');
    await waitForText(entries.nth(3), /SUCCESSFUL/);
    expect(
      await entries.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-outcome'))),
    ).toEqual(['applied', 'applied', 'stale', 'applied']);
    expect(await entries.locator('.source').allTextContents()).toEqual(
      Array(4).fill('from callback'),
    );
    await waitForText(page.locator('.summary'), /SUCCESSFUL/);
    await waitForText(page.locator('.summary'), /"value":42/);
    expect(await page.getByRole('button', { name: 'Reconcile now' }).count()).toBe(0);

    const payload = entries.nth(1).locator('pre');
    expect(await payload.isVisible()).toBe(false);
    await entries.nth(1).getByText('Raw payload').click();
    await waitForText(payload, new RegExp(`"commandId": "${id}"`));
    await waitForText(payload, /"step": 2/);
    await screenshot('timeline');
  });

  it('offers reconcile and cancel with a platform, and says what the platform answered', async () => {
    // The platform endpoints are the platform module's: here their answers are played back.
    const id = commands[1];
    await page.route('**/dashboard/api/settings', (route) =>
      route.fulfill({ json: { platform: 'oceanconnect', reconcile: true, cancel: true } }),
    );
    const problem = (status: number, title: string, extra: Record<string, unknown> = {}) => ({
      status,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title, status, ...extra }),
    });
    const answers = [
      problem(502, 'Bad Gateway', {
        detail: 'The platform refused the request',
        platformError: { code: '100418', message: 'The deviceData is not existed.' },
      }),
      problem(504, 'Gateway Timeout', { detail: 'The platform did not answer in time' }),
    ];
    const posted: string[] = [];
    await page.route(`**/commands/${id}/*`, async (route) => {
      if (route.request().method() !== 'POST') {
        return route.fallback();
      }
      posted.push(new URL(route.request().url()).pathname);
      const answer = answers.shift();
      if (answer !== undefined) {
        return route.fulfill(answer);
      }
      if (route.request().url().endsWith('/cancel')) {
        return route.fulfill(
          problem(409, 'Conflict', {
            detail: 'The platform cancels only PENDING commands',
            platformError: { code: '100434', message: 'The command status is not PENDING.' },
          }),
        );
      }
      // Reconciled: the command as GET shows it.
      const real = await fetch(`${base}/commands/${id}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      return route.fulfill({ json: await real.json() });
    });
    page.on('dialog', (dialog) => void dialog.accept());
    await open(`#/command/${encodeURIComponent(id)}`);
    const reconcile = page.getByRole('button', { name: 'Reconcile now' });
    const message = page.locator('#action-message');

    await reconcile.click();
    await waitForText(message, /Reconcile now failed: .*502 Bad Gateway.*100418/);
    await reconcile.click();
    await waitForText(message, /Reconcile now failed: the platform did not answer in time/);
    await reconcile.click();
    await waitForText(message, /Reconcile now: done; the status is DELIVERED/);
    await page.getByRole('button', { name: 'Cancel command' }).click();
    await waitForText(message, /Cancel command failed: the platform refused.*PENDING/);
    expect(posted).toEqual([
      `/commands/${id}/reconcile`,
      `/commands/${id}/reconcile`,
      `/commands/${id}/reconcile`,
      `/commands/${id}/cancel`,
    ]);
  });

  it('asks for the whole history when the command’s answer is truncated', async () => {
    const id = commands[3];
    await page.route(`**/commands/${id}`, async (route) => {
      const response = await route.fetch();
      const command = await response.json();
      await route.fulfill({
        response,
        json: { ...command, history: command.history.slice(-1), historyTruncated: true },
      });
    });
    const pages: string[] = [];
    await page.route(`**/commands/${id}/history?*`, async (route) => {
      const url = new URL(route.request().url());
      pages.push(url.search);
      const real = await fetch(`${base}/commands/${id}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      const { history } = (await real.json()) as { history: unknown[] };
      // Two pages of the real history, one entry each then the rest.
      const first = url.searchParams.get('cursor') === null;
      await route.fulfill({
        json: first
          ? { items: history.slice(0, 1), nextCursor: 'opaque-next' }
          : { items: history.slice(1), nextCursor: null },
      });
    });
    await open(`#/command/${encodeURIComponent(id)}`);
    await page.locator('#history-truncated').waitFor(WAIT);
    expect(await page.locator('#timeline li').count()).toBe(1);
    await page.getByRole('button', { name: 'Load the whole history' }).click();
    await page.getByText(/The whole history: \d+ entries/).waitFor(WAIT);
    expect(pages).toEqual(['?limit=1000', '?limit=1000&cursor=opaque-next']);
    expect(await page.locator('#history-truncated').count()).toBe(0);
    const [{ count }] = await t.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS count FROM command_history WHERE command_id = $1`, [id]);
    expect(await page.locator('#timeline li').count()).toBe(count);
  });

  it('updates counts, the list and an open timeline live, without a reload', async () => {
    await open('#/');
    const sent = page.locator('#status-counts tr[data-status="SENT"] td').first();
    await sent.waitFor(WAIT);
    const before = Number(await sent.textContent());
    const fresh = `live-${newCommandId()}`;
    await report(device, fresh, 'SENT');
    await waitForText(sent, new RegExp(`^${before + 1}$`));

    await page.goto(`${base}/dashboard#/commands?deviceId=${device}`);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    const newest = `live-${newCommandId()}`;
    await report(device, newest, 'PENDING');
    await page.locator(`#command-list tr[data-command-id="${newest}"]`).waitFor(WAIT);
    await report(device, newest, 'DELIVERED');
    await waitForText(
      page.locator(`#command-list tr[data-command-id="${newest}"] .status-cell`),
      /DELIVERED/,
    );

    await page.locator(`#command-list a`, { hasText: newest }).click();
    const entries = page.locator('#timeline li');
    await waitForText(entries.nth(1), /DELIVERED/);
    await report(device, newest, 'SUCCESSFUL');
    await waitForText(entries.nth(2), /SUCCESSFUL/);
    await waitForText(page.locator('.summary'), /SUCCESSFUL/);
  });

  it('resumes after the feed is refused and after a dropped stream, and stays live', async () => {
    let attempts = 0;
    let realStream: () => void = () => undefined;
    const realStreamRequested = new Promise<void>((resolve) => {
      realStream = resolve;
    });
    await page.route('**/changes?*', async (route) => {
      attempts += 1;
      if (attempts === 1) {
        // Refused: EventSource gives up, and the page opens a new stream itself.
        await route.fulfill({ status: 503, headers: { 'retry-after': '1' }, body: '' });
      } else if (attempts === 2) {
        // Accepted, then cut: EventSource reconnects by itself.
        await route.fulfill({
          status: 200,
          headers: { 'content-type': 'text/event-stream' },
          body: 'retry: 200\n\n: dropped\n\n',
        });
      } else {
        realStream();
        await route.continue();
      }
    });
    await context.addInitScript(KEY_IN_SESSION);
    const id = commands[0]; // SENT
    await page.goto(`${base}/dashboard#/command/${encodeURIComponent(id)}`);
    await page.locator('.summary').waitFor(WAIT);
    await realStreamRequested;
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    await report(device, id, 'FAILED');
    await waitForText(page.locator('.summary'), /FAILED/);
  });
});
