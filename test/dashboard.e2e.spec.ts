import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { dashboardSettings } from '../src/dashboard/dashboard-settings.js';
import { CommandMetrics } from '../src/metrics/command-metrics.js';
import { PAGE_BUILT, ensureDashboardBuilt } from './support/dashboard-page.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';

const KEY = 'dashboard-test-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };

describe('dashboard', () => {
  let t: TestApp;
  let sql: DataSource;

  beforeAll(async () => {
    await ensureDashboardBuilt();
    t = await startTestApp({ apiKeys: [KEY] });
    sql = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  const get = (url: string, headers: Record<string, string> = AUTH) =>
    t.app.inject({ method: 'GET', url, headers });

  const report = async (deviceId: string, commandId: string, resultCode: string) => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ deviceId, commandId, result: { resultCode } }),
    });
    expect(response.statusCode).toBe(200);
  };

  describe('GET /dashboard/api/overview', () => {
    const device = `overview-${newCommandId()}`;
    let old: string;
    let open: string[];

    beforeAll(async () => {
      // Reset counts: this describe owns the database's commands.
      await sql.query('TRUNCATE commands CASCADE');
      open = [];
      for (const status of ['SENT', 'SENT', 'DELIVERED', 'PENDING']) {
        const id = newCommandId();
        open.push(id);
        await report(device, id, status);
      }
      for (const status of ['SUCCESSFUL', 'FAILED', 'TIMEOUT']) {
        await report(device, newCommandId(), status);
      }
      // One open command created two days ago: counted in total, not in a one-day window.
      old = open[1];
      await sql.query(
        `UPDATE commands SET created_at = now() - interval '2 days' WHERE command_id = $1`,
        [old],
      );
    });

    it('counts commands by status, in total and created since the window start', async () => {
      const since = new Date(Date.now() - 24 * 3600_000).toISOString();
      const response = await get(`/dashboard/api/overview?since=${since}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.statusCounts).toEqual({
        PENDING: 1,
        SENT: 2,
        DELIVERED: 1,
        TIMEOUT: 1,
        EXPIRED: 0,
        CANCELED: 0,
        SUCCESSFUL: 1,
        FAILED: 1,
      });
      expect(body.window).toEqual({
        since,
        statusCounts: { ...body.statusCounts, SENT: 1 },
      });
    });

    it('takes a one-day window when no since is given', async () => {
      const body = (await get('/dashboard/api/overview')).json();
      const windowMs = Date.parse(body.generatedAt) - Date.parse(body.window.since);
      expect(Math.abs(windowMs - 24 * 3600_000)).toBeLessThan(5_000);
      expect(body.window.statusCounts.SENT).toBe(1);
    });

    it('lists the open commands, oldest first, as GET /commands shows them', async () => {
      const body = (await get('/dashboard/api/overview')).json();
      expect(body.oldestOpen.map((c: { commandId: string }) => c.commandId)).toEqual([
        old,
        open[0],
        open[2],
        open[3],
      ]);
      const listed = (await get(`/commands?deviceId=${device}&limit=500`)).json().items;
      expect(body.oldestOpen[1]).toEqual(
        listed.find((c: { commandId: string }) => c.commandId === open[0]),
      );
    });

    it('shows at most ten open commands', async () => {
      const many = `many-${newCommandId()}`;
      for (let i = 0; i < 12; i += 1) {
        await report(many, newCommandId(), 'SENT');
      }
      const body = (await get('/dashboard/api/overview')).json();
      expect(body.oldestOpen).toHaveLength(10);
      expect(body.oldestOpen[0].commandId).toBe(old);
    });

    it('counts the last hour’s stored reports per minute and outcome, 60 minutes oldest first', async () => {
      const id = newCommandId();
      await report(device, id, 'DELIVERED'); // applied
      await report(device, id, 'DELIVERED'); // duplicate
      await report(device, id, 'SENT'); // stale
      await report(device, id, 'SUCCESSFUL'); // applied
      await report(device, id, 'FAILED'); // conflict
      const entries: { id: string; outcome: string }[] = await sql.query(
        `SELECT id::text, outcome FROM command_history WHERE command_id = $1 ORDER BY id`,
        [id],
      );
      // Move the stale one five minutes back and the duplicate out of the hour (its id stays the
      // highest but one: as a transaction that took a minute to commit would leave it).
      await sql.query(
        `UPDATE command_history SET received_at = now() - interval '5 minutes' WHERE id = $1`,
        [entries[2].id],
      );
      await sql.query(
        `UPDATE command_history SET received_at = now() - interval '61 minutes' WHERE id = $1`,
        [entries[1].id],
      );

      const body = (await get('/dashboard/api/overview')).json();
      const minutes: Record<string, number | string>[] = body.reportsPerMinute.minutes;
      expect(minutes).toHaveLength(60);
      const starts = minutes.map((bar) => Date.parse(bar.minute as string));
      expect(starts.every((start, i) => i === 0 || start - starts[i - 1] === 60_000)).toBe(true);
      expect(starts[59]).toBe(Math.floor(Date.parse(body.generatedAt) / 60_000) * 60_000);

      const total = (outcome: string) =>
        minutes.reduce((sum, bar) => sum + (bar[outcome] as number), 0);
      // Earlier reports of this file are in the hour too: compare with what the history holds.
      const [expected] = await sql.query(
        `SELECT count(*) FILTER (WHERE outcome = 'applied')::int AS applied,
                count(*) FILTER (WHERE outcome = 'duplicate')::int AS duplicate,
                count(*) FILTER (WHERE outcome = 'stale')::int AS stale,
                count(*) FILTER (WHERE outcome = 'conflict')::int AS conflict
         FROM command_history WHERE received_at >= $1`,
        [minutes[0].minute],
      );
      expect({
        applied: total('applied'),
        duplicate: total('duplicate'),
        stale: total('stale'),
        conflict: total('conflict'),
      }).toEqual(expected);
      expect(expected.duplicate).toBe(0);
      expect(expected.stale).toBe(1);
      expect(expected.conflict).toBe(1);
      const staleMinute = minutes.findIndex((bar) => bar.stale === 1);
      expect([54, 55]).toContain(staleMinute);
    });

    it('still counts the hour after a backfill stored old reports with the highest ids', async () => {
      const id = newCommandId();
      await report(device, id, 'SENT');
      // A backfill: history entries received two days ago, stored now (so with the newest ids).
      await sql.query(
        `INSERT INTO command_history (command_id, status, outcome, source, previous_status, version,
                                      result_detail, payload, received_at)
         SELECT $1, 'SENT', 'duplicate', 'reconcile', 'SENT', 1, NULL, NULL,
                now() - interval '2 days' - g * interval '1 second'
         FROM generate_series(1, 20) g`,
        [id],
      );
      const body = (await get('/dashboard/api/overview')).json();
      const minutes: Record<string, number | string>[] = body.reportsPerMinute.minutes;
      const [expected] = await sql.query(
        `SELECT count(*)::int AS reports FROM command_history WHERE received_at >= $1`,
        [minutes[0].minute],
      );
      const shown = minutes.reduce(
        (sum, bar) =>
          sum +
          ['applied', 'duplicate', 'stale', 'conflict'].reduce((s, o) => s + (bar[o] as number), 0),
        0,
      );
      expect(expected.reports).toBeGreaterThan(0);
      expect(shown).toBe(expected.reports);
    });

    it('counts ignored pushes from this instance’s metrics counter, since it started', async () => {
      const counter = t.app
        .get(CommandMetrics)
        .registry.getSingleMetric('command_callbacks_total') as Counter;
      const before = (await get('/dashboard/api/overview')).json().reportsPerMinute;
      counter.inc({ status: 'SENT', outcome: 'ignored' }, 4);
      const after = (await get('/dashboard/api/overview')).json().reportsPerMinute;
      const ignored = (bars: { ignored: number }[]) =>
        bars.reduce((sum, bar) => sum + bar.ignored, 0);
      expect(ignored(after.minutes) - ignored(before.minutes)).toBe(4);
      expect(Date.parse(after.ignoredCountedSince)).toBeLessThanOrEqual(Date.now());
    });

    it.each(['yesterday', '2026-13-01T00:00:00Z', '2026-11-26T00:00:00', ''])(
      'answers 400 problem details to since=%p',
      async (since) => {
        const response = await get(`/dashboard/api/overview?since=${encodeURIComponent(since)}`);
        expect(response.statusCode).toBe(400);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.json().errors).toEqual([
          { field: 'since', message: expect.stringMatching(/^since must be an ISO 8601/) },
        ]);
      },
    );
  });

  describe('keys', () => {
    it.each([
      '/dashboard/api/overview',
      '/dashboard/api/settings',
      '/dashboard/api/statuses',
      '/dashboard/api/commands/any-command/dispatch',
    ])('answers 401 to %s without a valid key, 200 with one', async (url) => {
      expect((await get(url, {})).statusCode).toBe(401);
      expect((await get(url, { authorization: 'Bearer wrong-key-0123456789' })).statusCode).toBe(
        401,
      );
      expect((await get(url)).statusCode).toBe(200);
    });

    it('serves the page itself without a key, so that it can ask for one', async () => {
      expect((await get('/dashboard', {})).statusCode).toBe(200);
    });
  });

  describe('GET /dashboard/api/settings', () => {
    it('offers neither reconcile nor cancel without a platform', async () => {
      expect((await get('/dashboard/api/settings')).json()).toEqual({
        platform: null,
        reconcile: false,
        cancel: false,
      });
    });

    it.each([
      [undefined, { platform: null, reconcile: false, cancel: false }],
      ['iotda', { platform: 'iotda', reconcile: true, cancel: false }],
      ['oceanconnect', { platform: 'oceanconnect', reconcile: true, cancel: true }],
    ] as const)('with PLATFORM=%p offers %p', (platform, settings) => {
      expect(dashboardSettings(platform)).toEqual(settings);
    });
  });

  describe('GET /dashboard/api/statuses', () => {
    it('lists the status model of the contract: names in order, ranks, open and final', async () => {
      const response = await get('/dashboard/api/statuses');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        statuses: [
          { name: 'PENDING', rank: 0, open: true, final: false },
          { name: 'SENT', rank: 1, open: true, final: false },
          { name: 'DELIVERED', rank: 2, open: true, final: false },
          { name: 'TIMEOUT', rank: 3, open: false, final: false },
          { name: 'EXPIRED', rank: 3, open: false, final: false },
          { name: 'CANCELED', rank: 3, open: false, final: false },
          { name: 'SUCCESSFUL', rank: 4, open: false, final: true },
          { name: 'FAILED', rank: 4, open: false, final: true },
        ],
      });
    });
  });

  describe('GET /dashboard/api/commands/{commandId}/dispatch', () => {
    const insertDispatch = (dispatchId: string, deviceId: string, commandId: string | null) =>
      sql.query(
        `INSERT INTO dispatches (dispatch_id, request_hash, device_id, service_id, method, paras,
           send_strategy, mode, not_before, send_by, state, next_attempt_at, command_id,
           created_at, updated_at)
         VALUES ($1, 'h', $2, 'S', 'M', '{}', 'immediately', 'async', now(), now() + interval '1 hour',
           $3, now(), $4, now(), now())`,
        [dispatchId, deviceId, commandId === null ? 'queued' : 'sent', commandId],
      );

    it('names the dispatch that created the command', async () => {
      const deviceId = `dispatched-${newCommandId().slice(0, 8)}`;
      const commandId = newCommandId();
      await report(deviceId, commandId, 'PENDING');
      await insertDispatch(`d-${commandId}`, deviceId, commandId);
      // Another device's queued dispatch, without a command, is nobody's.
      await insertDispatch(`d-other-${commandId}`, `${deviceId}-other`, null);
      const response = await get(`/dashboard/api/commands/${commandId}/dispatch`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ dispatchId: `d-${commandId}` });
    });

    it('answers null for a command not sent through /dispatches, and for an unknown one', async () => {
      const commandId = newCommandId();
      await report('plain-device', commandId, 'SENT');
      expect((await get(`/dashboard/api/commands/${commandId}/dispatch`)).json()).toEqual({
        dispatchId: null,
      });
      expect((await get(`/dashboard/api/commands/${newCommandId()}/dispatch`)).json()).toEqual({
        dispatchId: null,
      });
    });

    it('answers 400 to an invalid command id', async () => {
      const response = await get(`/dashboard/api/commands/${'x'.repeat(300)}/dispatch`);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0].field).toBe('commandId');
    });
  });

  describe('GET /dashboard', () => {
    it('serves the page with a policy that loads nothing from elsewhere', async () => {
      const response = await get('/dashboard', {});
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(response.headers['content-security-policy']).toMatch(/script-src 'self'/);
      expect(response.body).not.toMatch(/https?:\/\//);
    });

    it('serves every asset the page and its modules refer to, with its type', async () => {
      const page = (await get('/dashboard', {})).body;
      const referred = [...page.matchAll(/\/dashboard\/assets\/([\w.-]+)/g)].map((m) => m[1]);
      const queue = [...referred];
      const seen = new Set<string>();
      while (queue.length > 0) {
        const name = queue.shift() as string;
        if (seen.has(name)) {
          continue;
        }
        seen.add(name);
        const response = await get(`/dashboard/assets/${name}`, {});
        expect({ name, status: response.statusCode }).toEqual({ name, status: 200 });
        expect(response.headers['content-type']).toBe(
          name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
        );
        queue.push(...[...response.body.matchAll(/from '\.\/([\w.-]+)'/g)].map((m) => m[1]));
      }
      expect([...seen].sort()).toEqual(
        expect.arrayContaining(['app.js', 'api.js', 'live.js', 'style.css']),
      );
    });

    it.each(['nope.js', '..%2Fpackage.json', '..%2F..%2F..%2Fpackage.json', 'index.html'])(
      'answers 404 problem details for the asset %p',
      async (name) => {
        const response = await get(`/dashboard/assets/${name}`, {});
        expect(response.statusCode).toBe(404);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      },
    );

    it('keeps the built page under 200 KB gzipped', async () => {
      const files = await readdir(PAGE_BUILT);
      const served = files.filter((name) => /\.(js|css|html)$/.test(name));
      const sizes = await Promise.all(
        served.map(async (name) => gzipSync(await readFile(join(PAGE_BUILT, name))).length),
      );
      expect(sizes.reduce((sum, size) => sum + size, 0)).toBeLessThan(200 * 1024);
    });
  });
});
