import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { type PlatformEmulator } from '../tools/platform-emulator.js';
import { describeInBrowser, launchChromium } from './support/browser.js';
import { ensureDashboardBuilt } from './support/dashboard-page.js';
import { eventuallyDefined } from './support/eventually.js';
import { callbackBody, registrationBody } from './support/factories.js';
import { platformEnv, startEmulator, startPlatformApp } from './support/platform.js';
import { listenUrl } from './support/sse.js';
import { type TestApp } from './support/test-app.js';

/**
 * The operations page over what the service sends: a command's dispatch and its attempts, a
 * device's open dispatches, campaigns with their progress and actions, the analytics by command,
 * and the status list read from the service. Chromium against the service and the IoTDA emulator.
 */

const KEY = 'browser-test-key-0123456789';
const KEY_IN_SESSION = {
  content: `sessionStorage.setItem('command-tracker.api-key', ${JSON.stringify(KEY)})`,
};
const DOCS = resolve(import.meta.dirname, '../docs');
const WAIT = { timeout: 15_000 };

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  commandId: string | null;
  attempts: { outcome: string }[];
}

interface CampaignJson {
  campaignId: string;
  state: string;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
}

describeInBrowser('operations page: dispatches, campaigns, analytics', () => {
  let emulator: PlatformEmulator;
  let t: TestApp;
  let base: string;
  let db: DataSource;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const tag = Math.random().toString(36).slice(2, 8);
  // Offline all along: its dispatch stays queued, with offline attempts and no command.
  const offlineDevice = `meter-${tag}-offline`;
  // Offline for its first attempt, then online: its command has a dispatch of two attempts.
  const lateDevice = `meter-${tag}-late`;
  const campaignDevices = [0, 1, 2, 3].map((n) => `valve-${tag}-${n}`);
  let queuedDispatch: DispatchJson;
  let sentDispatch: DispatchJson;
  let campaignId: string;

  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    for (;;) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // 503 says to ask again later: the embedded database's one connection is busy.
      if (response.status !== 503) {
        expect(response.status).toBeLessThan(300);
        return (await response.json()) as T;
      }
      await sleep(100);
    }
  };
  const dispatch = (deviceId: string) =>
    call<DispatchJson>('POST', '/dispatches', {
      deviceId,
      serviceId: 'Meter',
      method: 'SET_PERIOD',
      paras: { value: 5 },
    });
  const dispatchWhen = (dispatchId: string, what: string, holds: (d: DispatchJson) => boolean) =>
    eventuallyDefined(what, async () => {
      const current = await call<DispatchJson>('GET', `/dispatches/${dispatchId}`);
      return holds(current) ? current : undefined;
    });
  const campaign = () => call<CampaignJson>('GET', `/campaigns/${campaignId}`);
  /** The device ends the command on the platform, and the service learns it. */
  const finish = async (commandId: string, status: 'SUCCESSFUL' | 'FAILED') => {
    await emulator.advance(commandId, status, { code: status === 'SUCCESSFUL' ? 0 : 1 });
    await call('POST', `/commands/${commandId}/reconcile`);
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    emulator = await startEmulator();
    t = await startPlatformApp(
      platformEnv('iotda', emulator, {
        // Offline devices are tried again about every second, and never given up on here.
        DISPATCH_RETRY_BASE_SECONDS: '1',
        DISPATCH_RETRY_MAX_SECONDS: '2',
        DISPATCH_MAX_ATTEMPTS: '100',
      }),
      { apiKeys: [KEY] },
    );
    base = await listenUrl(t.app);
    db = t.app.get(DataSource);
    browser = await launchChromium();

    emulator.offline.add(offlineDevice);
    emulator.offline.add(lateDevice);
    emulator.offline.add(campaignDevices[0]);
    // Its earlier commands, registered by other means, as a device page usually has.
    for (const status of ['SUCCESSFUL', 'SUCCESSFUL', 'FAILED']) {
      await call('POST', '/callbacks/command-status', {
        ...callbackBody({ deviceId: offlineDevice }),
        result: { resultCode: status, resultDetail: null },
      });
    }
    queuedDispatch = await dispatch(offlineDevice);
    const late = await dispatch(lateDevice);
    await dispatchWhen(late.dispatchId, 'an offline attempt', (d) => d.attempts.length > 0);
    emulator.offline.delete(lateDevice);
    sentDispatch = await dispatchWhen(late.dispatchId, 'sent', (d) => d.state === 'sent');
    queuedDispatch = await dispatchWhen(
      queuedDispatch.dispatchId,
      'an offline attempt',
      (d) => d.attempts.length > 0,
    );

    // A campaign in progress: one device offline (queued), one SUCCESSFUL, one FAILED, one open.
    campaignId = (
      await call<CampaignJson>('POST', '/campaigns', {
        name: `reporting period ${tag}`,
        command: { serviceId: 'Valve', method: 'SET_PERIOD', paras: { value: 5 } },
        devices: campaignDevices,
        ratePerMinute: 6000,
      })
    ).campaignId;
    const commands = await eventuallyDefined('three campaign commands', async () => {
      const page = await call<{ items: DispatchJson[] }>(
        'GET',
        `/dispatches?campaignId=${campaignId}&state=sent`,
      );
      return page.items.length === 3 ? page.items : undefined;
    });
    const byDevice = new Map(commands.map((d) => [d.deviceId, d.commandId ?? '']));
    await finish(byDevice.get(campaignDevices[1]) ?? '', 'SUCCESSFUL');
    await finish(byDevice.get(campaignDevices[2]) ?? '', 'FAILED');
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await emulator?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    await context.addInitScript(KEY_IN_SESSION);
    page = await context.newPage();
  });

  afterEach(async () => {
    await context.close();
  });

  const open = async (hash: string) => {
    await page.goto(`${base}/dashboard${hash}`);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
  };
  const focusedId = () => page.evaluate<string>('document.activeElement?.id ?? ""');
  /** Presses Tab until the focused element's text is `text`. */
  const tabTo = async (text: string | RegExp) => {
    for (let i = 0; i < 80; i += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate<string>('document.activeElement?.textContent ?? ""');
      if (typeof text === 'string' ? focused.trim() === text : text.test(focused)) {
        return;
      }
    }
    throw new Error(`no focusable element says ${String(text)}`);
  };
  const screenshot = (name: string) =>
    page.screenshot({ path: join(DOCS, `dashboard-${name}.png`), fullPage: true });

  it("shows a device's open dispatch, and the dispatch with its attempts before it has a command", async () => {
    await open(`#/device/${offlineDevice}`);
    const row = page.locator(
      `#device-open-dispatches tr[data-dispatch-id="${queuedDispatch.dispatchId}"]`,
    );
    await row.waitFor(WAIT);
    // Sending only for the instant of each attempt.
    expect(await row.locator('td').nth(1).innerText()).toMatch(/^(queued|sending)$/);
    expect(await row.locator('td').nth(5).innerText()).toBe('offline');
    expect(await page.locator('#device-open-dispatches tbody tr').count()).toBe(1);
    await screenshot('device');

    // By keyboard: the dispatch's link, Enter, focus on its heading.
    // The view reads again by itself (a dispatch's attempts are not on the change feed), and the
    // keyboard stays where it was.
    await row.locator('a').focus();
    const attempts = await row.locator('td').nth(4).innerText();
    await page
      .locator(`#device-open-dispatches tr[data-dispatch-id="${queuedDispatch.dispatchId}"] td`)
      .nth(4)
      .filter({ hasNotText: new RegExp(`^${attempts}$`) })
      .waitFor(WAIT);
    expect(await page.evaluate<string>('document.activeElement?.getAttribute("href") ?? ""')).toBe(
      `#/dispatch/${queuedDispatch.dispatchId}`,
    );
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`#/dispatch/${queuedDispatch.dispatchId}$`));
    await page.locator('#dispatch-facts').waitFor(WAIT);
    expect(await focusedId()).toBe('dispatch-title');
    expect(await page.title()).toBe(`Dispatch ${queuedDispatch.dispatchId} · command-tracker`);
    expect(await page.locator('#dispatch-facts').innerText()).toContain('none yet');
    const outcomes = await page
      .locator('#dispatch-attempts tbody tr')
      .evaluateAll((rows) => rows.map((tr) => tr.getAttribute('data-outcome')));
    expect(outcomes.length).toBeGreaterThan(0);
    expect(new Set(outcomes)).toEqual(new Set(['offline']));
    expect(await page.locator('#dispatch-attempts tbody tr').first().innerText()).toContain(
      'IOTDA.014016',
    );
  });

  it('finds a queued dispatch by its id from the search box', async () => {
    await open('#/');
    const box = page.getByRole('searchbox', { name: 'Command id or device id' });
    await box.fill(queuedDispatch.dispatchId);
    await box.press('Enter');
    const found = page.locator('#search-dispatch');
    await found.waitFor(WAIT);
    expect(await found.innerText()).toMatch(/\(device .*-offline, (queued|sending)\)$/);
    await found.getByRole('link').click();
    await page.waitForURL(new RegExp(`#/dispatch/${queuedDispatch.dispatchId}$`));
    await page.locator('#dispatch-facts').waitFor(WAIT);
  });

  it('shows no open dispatch for a device whose dispatch was sent', async () => {
    await open(`#/device/${lateDevice}`);
    await page.locator('#device-dispatches', { hasText: 'No open dispatch' }).waitFor(WAIT);
  });

  it("shows a command's dispatch and its attempts with their outcomes", async () => {
    const commandId = sentDispatch.commandId ?? '';
    await open(`#/command/${encodeURIComponent(commandId)}`);
    const part = page.locator(`#command-dispatch [data-dispatch-id="${sentDispatch.dispatchId}"]`);
    await part.waitFor(WAIT);
    expect(await part.locator('#dispatch-facts').innerText()).toContain('sent');
    expect(
      await part
        .locator('#dispatch-attempts tbody tr')
        .evaluateAll((rows) => rows.map((tr) => tr.getAttribute('data-outcome'))),
    ).toEqual(sentDispatch.attempts.map((attempt) => attempt.outcome));
    expect(sentDispatch.attempts.map((attempt) => attempt.outcome).at(-1)).toBe('sent');
    expect(sentDispatch.attempts[0].outcome).toBe('offline');
  });

  it('shows no dispatch for a command registered without one', async () => {
    const body = callbackBody({ deviceId: `plain-${tag}` });
    await call('POST', '/callbacks/command-status', body);
    const looked = page.waitForResponse((response) =>
      response.url().endsWith(`/dashboard/api/commands/${body.commandId}/dispatch`),
    );
    await open(`#/command/${body.commandId}`);
    expect(await (await looked).json()).toEqual({ dispatchId: null });
    await page.locator('#timeline').waitFor(WAIT);
    expect(await page.locator('#command-dispatch').innerText()).toBe('');
  });

  it('lists campaigns and shows one in progress, by keyboard, with its failures', async () => {
    await open('#/');
    await page.locator('#status-counts').waitFor(WAIT);
    await tabTo('Campaigns');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/campaigns$/);
    const link = page.locator(`#campaign-list tr[data-campaign-id="${campaignId}"] a`);
    await link.waitFor(WAIT);
    expect(await focusedId()).toBe('campaigns-title');
    expect(await page.title()).toBe('Campaigns · command-tracker');
    expect(await page.locator('nav.tabs a[aria-current="page"]').allTextContents()).toEqual([
      'Campaigns',
    ]);

    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`#/campaign/${campaignId}$`));
    await page.locator('#campaign-states').waitFor(WAIT);
    expect(await focusedId()).toBe('campaign-title');
    expect(await page.title()).toBe(`Campaign ${campaignId} · command-tracker`);
    // The offline device's dispatch is queued, or sending for the instant of each attempt: the
    // page's table matches the API's counts read at the same moment (the view reads every 5 s).
    const shown = async () => {
      const current = await campaign();
      expect(current.dispatches.queued + current.dispatches.sending).toBe(1);
      const expected = [
        ['dispatch queued', current.dispatches.queued],
        ['dispatch sending', current.dispatches.sending],
        ['command PENDING', current.commands.PENDING],
        ['command SENT', current.commands.SENT],
        ['command SUCCESSFUL', 1],
        ['command FAILED', 1],
      ]
        .filter(([, count]) => count !== 0)
        .map(([label, count]) => `${label}\t${count}`);
      const rows = await page.locator('#campaign-states tbody tr').allInnerTexts();
      return rows.join('|') === expected.join('|') ? rows : undefined;
    };
    const rows = await eventuallyDefined('the page shows the campaign as the API counts it', shown);
    expect(rows).toHaveLength(4);
    await page
      .locator('#campaign-summary', { hasText: /^2 of 4 dispatches finished/ })
      .waitFor(WAIT);
    expect(await page.locator('#campaign-progress rect.seg').count()).toBe(4);
    // The failed command is listed, and the link opens the list of its FAILED commands.
    expect(await page.locator('#campaign-failed tbody tr').count()).toBe(1);
    await screenshot('campaign');
    await page.getByRole('link', { name: 'All its FAILED commands' }).click();
    await page.waitForURL(/#\/commands\?campaignId=.*&status=FAILED$/);
    await page.locator('#command-list').waitFor(WAIT);
    expect(await page.locator('#command-list tbody tr td:nth-child(3)').allTextContents()).toEqual([
      'FAILED',
    ]);
    expect(await page.locator('#campaign-filter').innerText()).toContain(campaignId);
    // No live region holds a table: updates announce one short line.
    expect(await page.locator('[aria-live] table, [role="status"] table').count()).toBe(0);
  });

  it('follows a campaign live, and pauses, resumes, retries and cancels it (after a confirmation)', async () => {
    await open(`#/campaign/${campaignId}`);
    await page.locator('#campaign-state', { hasText: 'running' }).waitFor(WAIT);
    // The last open command ends while the view shows: the view reads it without a reload.
    const open3 = (
      await call<{ items: DispatchJson[] }>(
        'GET',
        `/dispatches?campaignId=${campaignId}&deviceId=${campaignDevices[3]}`,
      )
    ).items[0];
    await finish(open3.commandId ?? '', 'SUCCESSFUL');
    await page
      .locator('#campaign-summary', { hasText: /^3 of 4 dispatches finished/ })
      .waitFor(WAIT);
    await page
      .locator('#campaign-states tr[data-segment="command-successful"]', { hasText: '2' })
      .waitFor(WAIT);

    await page.locator('#campaign-pause').focus();
    await page.keyboard.press('Enter');
    await page.locator('#campaign-state', { hasText: 'paused' }).waitFor(WAIT);
    expect((await campaign()).state).toBe('paused');
    expect(await page.locator('#campaign-pause').isDisabled()).toBe(true);
    await page.locator('#campaign-resume').click();
    await page.locator('#campaign-state', { hasText: 'running' }).waitFor(WAIT);
    expect((await campaign()).state).toBe('running');

    // Retry failed: a new dispatch for the device whose command FAILED.
    await page.locator('#campaign-retry-failed').click();
    await page.locator('#campaign-message', { hasText: 'Retry failed: done' }).waitFor(WAIT);
    const retried = await call<{ items: DispatchJson[] }>(
      'GET',
      `/dispatches?campaignId=${campaignId}&deviceId=${campaignDevices[2]}`,
    );
    expect(retried.items.length).toBe(2);

    // Cancel asks first: dismissed, nothing happens; accepted, the campaign is canceled.
    const answers = [false, true];
    const asked: string[] = [];
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void (answers.shift() ? dialog.accept() : dialog.dismiss());
    });
    await page.locator('#campaign-cancel').click();
    expect(asked).toHaveLength(1);
    expect((await campaign()).state).toBe('running');
    await page.locator('#campaign-cancel').click();
    await page.locator('#campaign-state', { hasText: 'canceled' }).waitFor(WAIT);
    expect(asked).toHaveLength(2);
    expect((await campaign()).state).toBe('canceled');
    expect(await page.locator('#campaign-cancel').isDisabled()).toBe(true);
  });

  it('shows success rate and latency percentiles by command, over the window, by keyboard', async () => {
    // Three commands of one kind, each 1.5 s to SENT, 4 s to DELIVERED and 2 min to final.
    const service = `Probe${tag}`;
    const ids: string[] = [];
    for (const status of ['SUCCESSFUL', 'SUCCESSFUL', 'FAILED']) {
      const body = registrationBody({
        deviceId: `probe-${tag}`,
        serviceId: service,
        method: 'READ',
      });
      await call('POST', '/commands', body);
      await call('POST', '/callbacks/command-status', {
        ...callbackBody({ deviceId: `probe-${tag}`, commandId: body.commandId as string }),
        result: { resultCode: status, resultDetail: null },
      });
      ids.push(body.commandId as string);
    }
    await db.query(
      `UPDATE commands SET created_at = now() - interval '10 minutes',
         sent_at = now() - interval '10 minutes' + interval '1.5 seconds',
         delivered_at = now() - interval '10 minutes' + interval '4 seconds',
         completed_at = now() - interval '10 minutes' + interval '2 minutes'
       WHERE command_id = ANY($1)`,
      [ids],
    );
    await open('#/');
    await page.locator('#status-counts').waitFor(WAIT);
    await tabTo('Analytics');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/analytics$/);
    const row = page.locator(`#analytics-table tr[data-command="${service} / READ"]`);
    await row.waitFor(WAIT);
    expect(await focusedId()).toBe('analytics-title');
    expect(await page.title()).toBe('Analytics · command-tracker');
    expect((await row.innerText()).split('\t')).toEqual([
      `${service} / READ`,
      '3',
      '66.7%',
      '1.5 s',
      '1.5 s',
      '1.5 s',
      '4.0 s',
      '4.0 s',
      '4.0 s',
      '2 min',
      '2 min',
      '2 min',
    ]);
    await screenshot('analytics');

    // A window of 15 minutes leaves out commands created 20 minutes ago.
    await db.query(
      `UPDATE commands SET created_at = now() - interval '20 minutes' WHERE command_id = ANY($1)`,
      [ids],
    );
    await page.locator('#analytics-window').selectOption('15');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/#\/analytics\?window=15$/);
    await page.locator('#analytics-table, #analytics-empty').first().waitFor(WAIT);
    expect(await row.count()).toBe(0);
  });

  it('takes the status list from the service, not from a copy in the page', async () => {
    // The service's list, served in another order and without CANCELED: the page follows it.
    await page.route('**/dashboard/api/statuses', async (route) => {
      const response = await route.fetch();
      const { statuses } = (await response.json()) as { statuses: { name: string }[] };
      await route.fulfill({
        response,
        json: { statuses: statuses.filter((s) => s.name !== 'CANCELED').reverse() },
      });
    });
    await open('#/');
    await page.locator('#status-counts').waitFor(WAIT);
    expect(
      await page
        .locator('#status-counts tbody tr')
        .evaluateAll((rows) => rows.map((tr) => tr.getAttribute('data-status'))),
    ).toEqual(['FAILED', 'SUCCESSFUL', 'EXPIRED', 'TIMEOUT', 'DELIVERED', 'SENT', 'PENDING']);
    await open('#/commands');
    await page.locator('#command-list').waitFor(WAIT);
    expect(await page.locator('#filter-CANCELED').count()).toBe(0);
    expect(await page.locator('#filter-PENDING').count()).toBe(1);
  });
});
