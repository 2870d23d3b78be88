import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from './support/eventually.js';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { type CommandStatus, decide, isCommandStatus } from '../src/commands/command-status.js';
import { DeadlineSweeper, SWEEP_BATCH_SIZE } from '../src/commands/deadline-sweeper.js';
import { CommandMetrics } from '../src/metrics/command-metrics.js';
import { callbackBody, newCommandId, registrationBody } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { FaultProxy } from './support/fault-proxy.js';
import { type TestDatabase, createTestDatabase, serverUrl } from './support/test-database.js';

const PAST = '2020-01-01T00:00:00Z';

interface HistoryEntry {
  id: string;
  status: string;
  outcome: string;
  source: string;
  payload: unknown;
  resultDetail: unknown;
}

async function getCommand(t: TestApp, commandId: string) {
  const response = await t.app.inject({ method: 'GET', url: `/commands/${commandId}` });
  expect(response.statusCode).toBe(200);
  return response.json<{
    status: string;
    version: number;
    deadline: string;
    createdAt: string;
    completedAt: string | null;
    resultDetail: unknown;
    history: HistoryEntry[];
  }>();
}

async function register(t: TestApp, body: object): Promise<void> {
  const response = await t.app.inject({ method: 'POST', url: '/commands', payload: body });
  expect([200, 201]).toContain(response.statusCode);
}

async function push(t: TestApp, body: object): Promise<string> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/callbacks/command-status',
    payload: body,
  });
  expect(response.statusCode).toBe(200);
  return response.json<{ outcome: string }>().outcome;
}

/** Inserts `count` overdue open commands straight into the table, half PENDING, half SENT. */
async function insertOverdue(t: TestApp, prefix: string, count: number): Promise<void> {
  await t.app.get(DataSource).query(
    `INSERT INTO commands (command_id, device_id, status, rank, created_at, updated_at, deadline, version)
     SELECT $1 || g, 'bulk-device',
            CASE WHEN g % 2 = 0 THEN 'PENDING' ELSE 'SENT' END, g % 2,
            now(), now(), now() - interval '1 minute', 1
     FROM generate_series(1, $2::integer) g`,
    [prefix, count],
  );
}

/** How the sweeper left the commands starting with `prefix`. */
async function sweptState(t: TestApp, prefix: string) {
  return t.app
    .get(DataSource)
    .query<{ command_id: string; status: string; version: number; sweeper_entries: number }[]>(
      `SELECT c.command_id, c.status, c.version,
            (SELECT count(*)::integer FROM command_history h
             WHERE h.command_id = c.command_id AND h.source = 'sweeper') AS sweeper_entries
     FROM commands c WHERE c.command_id LIKE $1 || '%' ORDER BY c.command_id`,
      [prefix],
    );
}

/** Every history entry must follow from the rank rule applied to the ones before it. */
function expectHistoryFollowsTheRule(history: HistoryEntry[], finalVersion: number): void {
  let current: CommandStatus | undefined;
  let applied = 0;
  for (const entry of history) {
    if (!isCommandStatus(entry.status)) {
      throw new Error(`unexpected status ${entry.status}`);
    }
    const expected = decide(current, entry.status);
    expect(entry.outcome).toBe(expected);
    if (expected === 'applied') {
      current = entry.status;
      applied++;
    }
  }
  expect(applied).toBe(finalVersion);
}

describe('deadline sweeper', () => {
  let t: TestApp;
  let sweeper: DeadlineSweeper;

  beforeAll(async () => {
    t = await startTestApp({ sweepIntervalSeconds: 1, commandDeadlineSeconds: 3600 });
    sweeper = t.app.get(DeadlineSweeper);
  });

  afterAll(async () => {
    await t.close();
  });

  it('gives a command first seen in a callback the default deadline from that moment', async () => {
    const body = callbackBody();
    await push(t, body);
    const command = await getCommand(t, body.commandId);
    expect(Date.parse(command.deadline) - Date.parse(command.createdAt)).toBe(3600 * 1000);

    const registered = registrationBody();
    await register(t, registered);
    const other = await getCommand(t, registered.commandId as string);
    expect(Date.parse(other.deadline) - Date.parse(other.createdAt)).toBe(3600 * 1000);
  });

  it('times out overdue commands on its own timer: PENDING becomes EXPIRED, SENT and DELIVERED TIMEOUT', async () => {
    const pending = registrationBody({ deadline: PAST });
    const sent = registrationBody({ deadline: PAST, status: 'SENT' });
    const delivered = registrationBody({ deadline: PAST, status: 'DELIVERED' });
    const notDue = registrationBody({ timeoutSeconds: 3600, status: 'SENT' });
    const finished = registrationBody({ deadline: PAST, status: 'SUCCESSFUL' });
    for (const body of [pending, sent, delivered, notDue, finished]) {
      await register(t, body);
    }
    await eventually(
      async () => (await getCommand(t, delivered.commandId as string)).status !== 'DELIVERED',
      10_000,
      () => 'the sweeper did not run',
    );

    const expectations: [Record<string, unknown>, string, string][] = [
      [pending, 'PENDING', 'EXPIRED'],
      [sent, 'SENT', 'TIMEOUT'],
      [delivered, 'DELIVERED', 'TIMEOUT'],
    ];
    for (const [body, before, after] of expectations) {
      const command = await getCommand(t, body.commandId as string);
      expect(command).toMatchObject({ status: after, version: 2, resultDetail: null });
      expect(command.completedAt).not.toBeNull();
      expect(command.history).toHaveLength(2);
      expect(command.history[0]).toMatchObject({ status: before, source: 'registration' });
      expect(command.history[1]).toMatchObject({
        status: after,
        outcome: 'applied',
        source: 'sweeper',
        payload: null,
        resultDetail: null,
      });
    }
    expect(await getCommand(t, notDue.commandId as string)).toMatchObject({ status: 'SENT' });
    expect(await getCommand(t, finished.commandId as string)).toMatchObject({
      status: 'SUCCESSFUL',
      version: 1,
    });
    expect(await t.app.get(CommandMetrics).counterValue('command_sweeps_total')).toBeGreaterThan(0);
  });

  it('lets a late result apply after TIMEOUT, and never sweeps a command twice', async () => {
    const body = registrationBody({ deadline: PAST, status: 'SENT' });
    await register(t, body);
    await sweeper.sweep();
    expect((await getCommand(t, body.commandId as string)).status).toBe('TIMEOUT');
    const callback = {
      deviceId: body.deviceId,
      commandId: body.commandId,
      result: { resultCode: 'SUCCESSFUL', resultDetail: { value: 1 } },
    };
    expect(await push(t, callback)).toBe('applied');
    expect(await push(t, { ...callback, result: { resultCode: 'TIMEOUT' } })).toBe('stale');
    await sweeper.sweep();
    const command = await getCommand(t, body.commandId as string);
    expect(command).toMatchObject({ status: 'SUCCESSFUL', version: 3, resultDetail: { value: 1 } });
    expect(command.history.map((entry) => [entry.status, entry.outcome, entry.source])).toEqual([
      ['SENT', 'applied', 'registration'],
      ['TIMEOUT', 'applied', 'sweeper'],
      ['SUCCESSFUL', 'applied', 'callback'],
      ['TIMEOUT', 'stale', 'callback'],
    ]);
  });

  it('sweeps a backlog larger than one batch in one sweep', async () => {
    const prefix = `backlog-${newCommandId()}-`;
    const count = SWEEP_BATCH_SIZE * 2 + 37;
    await insertOverdue(t, prefix, count);
    // The timer may take some of them meanwhile: count what is left afterwards.
    await sweeper.sweep();
    const state = await sweptState(t, prefix);
    expect(state).toHaveLength(count);
    for (const row of state) {
      expect(row.sweeper_entries).toBe(1);
      expect(row.version).toBe(2);
      expect(row.status).toBe(
        Number(row.command_id.slice(prefix.length)) % 2 === 0 ? 'EXPIRED' : 'TIMEOUT',
      );
    }
  });

  it('keeps every command consistent when callbacks race the sweeper', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('SENT', 'DELIVERED', 'SUCCESSFUL', 'FAILED', 'TIMEOUT'), {
          minLength: 1,
          maxLength: 4,
        }),
        async (codes) => {
          const body = registrationBody({ deadline: PAST, status: 'SENT' });
          await register(t, body);
          const commandId = body.commandId as string;
          await Promise.all([
            sweeper.sweep(),
            ...codes.map((resultCode) =>
              push(t, { deviceId: body.deviceId, commandId, result: { resultCode } }),
            ),
            sweeper.sweep(),
          ]);
          await sweeper.sweep();
          const command = await getCommand(t, commandId);
          expect(
            command.history.filter((entry) => entry.source === 'sweeper').length,
          ).toBeLessThanOrEqual(1);
          expect(['TIMEOUT', 'SUCCESSFUL', 'FAILED']).toContain(command.status);
          expectHistoryFollowsTheRule(command.history, command.version);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('retention', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ retentionDays: 2 });
  });

  afterAll(async () => {
    await t.close();
  });

  it('deletes finished commands unchanged for RETENTION_DAYS, with their history, and keeps the rest', async () => {
    const oldFinished = [callbackBody(), callbackBody()];
    const oldOpen = callbackBody();
    const recentFinished = callbackBody();
    for (const body of oldFinished) {
      await push(t, body);
      await push(t, { ...body, result: { resultCode: 'SUCCESSFUL' } });
    }
    await push(t, oldOpen);
    await push(t, recentFinished);
    await push(t, { ...recentFinished, result: { resultCode: 'FAILED' } });
    const dataSource = t.app.get(DataSource);
    // Last changed three days ago; the open one's deadline is still ahead.
    await dataSource.query(
      `UPDATE commands SET updated_at = now() - interval '3 days' WHERE command_id = ANY($1)`,
      [[...oldFinished, oldOpen].map((body) => body.commandId)],
    );

    const result = await t.app.get(DeadlineSweeper).sweep();
    expect(result.purged).toBeGreaterThanOrEqual(2);
    for (const body of oldFinished) {
      const response = await t.app.inject({ method: 'GET', url: `/commands/${body.commandId}` });
      expect(response.statusCode).toBe(404);
    }
    const orphans = await dataSource.query<{ count: number }[]>(
      `SELECT count(*)::integer AS count FROM command_history WHERE command_id = ANY($1)`,
      [oldFinished.map((body) => body.commandId)],
    );
    expect(orphans[0].count).toBe(0);
    expect((await getCommand(t, oldOpen.commandId)).status).toBe('SENT');
    expect((await getCommand(t, recentFinished.commandId)).status).toBe('FAILED');
  });
});

describe('deadline sweeper while the database is down', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await FaultProxy.start(database.url);
    t = await startTestApp(
      { sweepIntervalSeconds: 1 },
      { ...database, url: proxy.url(database.url), drop: async () => {} },
    );
  });

  afterAll(async () => {
    await proxy.restore();
    await t.close();
    await proxy.close();
    await database.drop();
  });

  it('keeps its timer through failed sweeps and sweeps again once the database is back', async () => {
    const metrics = t.app.get(CommandMetrics);
    const sweeps = () => metrics.counterValue('command_sweeps_total');
    const failures = () => metrics.counterValue('command_sweep_failures_total');
    proxy.cut();
    await eventually(
      async () => (await failures()) > 0,
      10_000,
      () => 'no sweep failed',
    );
    await proxy.restore();

    const body = registrationBody({ deadline: PAST, status: 'SENT' });
    const until = Date.now() + 20_000;
    for (;;) {
      const response = await t.app.inject({ method: 'POST', url: '/commands', payload: body });
      if (response.statusCode === 201) {
        break;
      }
      if (Date.now() > until) {
        throw new Error(`registration kept failing: ${response.statusCode}`);
      }
      await sleep(200);
    }
    // Two sweeps completed after the registration: the second one started after it.
    const before = await sweeps();
    await eventually(
      async () => (await sweeps()) > before + 1,
      20_000,
      () => 'no two sweeps',
    );
    expect((await getCommand(t, body.commandId as string)).status).toBe('TIMEOUT');
  });
});

const onPostgres = serverUrl() === undefined ? describe.skip : describe;

onPostgres('deadline sweeper with two instances on one PostgreSQL database', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const database = await createTestDatabase();
    a = await startTestApp({ sweepIntervalSeconds: 1 }, database);
    b = await startTestApp({ sweepIntervalSeconds: 1 }, database);
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await a.database.drop();
  });

  it('sweeps each overdue command exactly once when both instances sweep at the same time', async () => {
    const prefix = `both-${newCommandId()}-`;
    const count = SWEEP_BATCH_SIZE * 3;
    await insertOverdue(a, prefix, count);
    const sweepers = [a, b].map((t) => t.app.get(DeadlineSweeper));
    const results = await Promise.all([...sweepers, ...sweepers].map((s) => s.sweep()));
    const state = await sweptState(a, prefix);
    expect(state).toHaveLength(count);
    expect(state.filter((row) => row.sweeper_entries !== 1)).toEqual([]);
    expect(state.filter((row) => row.version !== 2)).toEqual([]);
    // Whatever the timers took meanwhile, no command was counted twice by these sweeps.
    const counted = results.reduce((sum, r) => sum + r.timedOut + r.expired, 0);
    expect(counted).toBeLessThanOrEqual(count);
  });

  it('applies a late result that races the sweep on the other instance, by the rank rule', async () => {
    const bodies = Array.from({ length: 40 }, () =>
      registrationBody({ deadline: PAST, status: 'DELIVERED' }),
    );
    for (const body of bodies) {
      await register(a, body);
    }
    await Promise.all([
      b.app.get(DeadlineSweeper).sweep(),
      ...bodies.map((body) =>
        push(a, {
          deviceId: body.deviceId,
          commandId: body.commandId,
          result: { resultCode: 'SUCCESSFUL' },
        }),
      ),
      a.app.get(DeadlineSweeper).sweep(),
    ]);
    for (const body of bodies) {
      const command = await getCommand(a, body.commandId as string);
      expect(command.status).toBe('SUCCESSFUL');
      expect(command.history.filter((e) => e.source === 'sweeper').length).toBeLessThanOrEqual(1);
      expectHistoryFollowsTheRule(command.history, command.version);
    }
  });
});
