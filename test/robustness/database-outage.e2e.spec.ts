import { type LightMyRequestResponse } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { FaultProxy } from '../support/fault-proxy.js';
import { callbackBody, newCommandId } from '../support/factories.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../support/test-database.js';

// With the database unreachable or hung, callbacks are answered 503 (problem
// details) within 5 s, readiness is 503, and the service recovers by itself when the database
// comes back. A TCP proxy between the service and the database injects the faults.

const CONTRACT_BOUND_MS = 5000;
const onServer = serverUrl() !== undefined;

describe('database outage', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await FaultProxy.start(database.url);
    t = await startTestApp({}, { ...database, url: proxy.url(database.url), drop: async () => {} });
  });

  afterEach(async () => {
    await proxy.restore();
  });

  afterAll(async () => {
    await t.close();
    await proxy.close();
    await database.drop();
  });

  const push = (body: object) =>
    t.app.inject({ method: 'POST', url: '/callbacks/command-status', payload: body });

  /** Answers one request and how long it took, as the client saw it. */
  const timed = async (request: () => Promise<LightMyRequestResponse>) => {
    const started = performance.now();
    const response = await request();
    return { response, ms: performance.now() - started };
  };

  const expect503 = ({ response, ms }: { response: LightMyRequestResponse; ms: number }) => {
    expect({ status: response.statusCode, within: ms < CONTRACT_BOUND_MS }).toEqual({
      status: 503,
      within: true,
    });
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.json()).toMatchObject({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
    });
    expect(response.body).not.toMatch(/\n\s+at |ECONN|127\.0\.0\.1|postgres:\/\//);
  };

  /** Pushes until one is stored: how a platform re-push after 503 reaches a recovered service. */
  const pushUntilStored = async (body: object, withinMs: number) => {
    const until = Date.now() + withinMs;
    for (;;) {
      const response = await push(body);
      if (response.statusCode === 200 || Date.now() > until) {
        return response;
      }
      expect(response.statusCode).toBe(503);
      await sleep(200);
    }
  };

  const readiness = () => t.app.inject({ method: 'GET', url: '/health/ready' });

  /** After recovery, every connection in the pool must work: no request may hit a dead one. */
  const expectFullyRecovered = async (deviceId: string) => {
    // Twice the pool: every pooled connection serves at least one of them.
    const count = Math.max(4, database.poolSize * 2);
    const bodies = Array.from({ length: count }, () =>
      callbackBody({ deviceId, result: { resultCode: 'DELIVERED', resultDetail: null } }),
    );
    const responses = await Promise.all(bodies.map((body) => push(body)));
    expect(responses.map((response) => response.statusCode)).toEqual(bodies.map(() => 200));
    const listed = await t.app.inject({ method: 'GET', url: `/commands?deviceId=${deviceId}` });
    expect(listed.statusCode).toBe(200);
    expect(listed.json<{ items: unknown[] }>().items).toHaveLength(count);
  };

  it('is ready while the database is reachable', async () => {
    expect((await readiness()).statusCode).toBe(200);
    expect((await push(callbackBody())).statusCode).toBe(200);
  });

  it('answers 503 within 5 s while connections are cut, stores nothing, and recovers by itself', async () => {
    const body = callbackBody({ commandId: newCommandId() });
    proxy.cut();

    const during = await Promise.all(
      Array.from({ length: 5 }, () => timed(() => push({ ...body, deviceId: body.deviceId }))),
    );
    during.forEach(expect503);
    expect503(await timed(() => t.app.inject({ method: 'GET', url: '/commands' })));
    expect503(
      await timed(() => t.app.inject({ method: 'GET', url: `/commands/${body.commandId}` })),
    );
    expect((await readiness()).statusCode).toBe(503);

    await proxy.restore();
    const stored = await pushUntilStored(body, 10_000);
    expect(stored.statusCode).toBe(200);
    expect(stored.json()).toEqual({
      commandId: body.commandId,
      status: 'SENT',
      outcome: 'applied',
    });
    const command = (
      await t.app.inject({ method: 'GET', url: `/commands/${body.commandId}` })
    ).json<{ history: unknown[] }>();
    // None of the refused pushes left anything behind.
    expect(command.history).toHaveLength(1);
    expect((await readiness()).statusCode).toBe(200);
    await expectFullyRecovered(`after-cut-${newCommandId()}`);
  });

  it('answers 503 within 5 s while the database refuses connections, and recovers by itself', async () => {
    const body = callbackBody();
    proxy.refuse();
    const during = await Promise.all(Array.from({ length: 3 }, () => timed(() => push(body))));
    during.forEach(expect503);
    expect503(await timed(() => t.app.inject({ method: 'GET', url: '/commands' })));
    expect((await readiness()).statusCode).toBe(503);

    await proxy.restore();
    expect((await pushUntilStored(body, 10_000)).statusCode).toBe(200);
    expect((await readiness()).statusCode).toBe(200);
    await expectFullyRecovered(`after-refusal-${newCommandId()}`);
  });

  it('answers 503 within 5 s while the database hangs, and recovers by itself', async () => {
    // Every pooled connection gets a request in flight when the database freezes, and then some.
    const body = callbackBody();
    proxy.hang();
    const during = await Promise.all(
      Array.from({ length: database.poolSize + 3 }, () =>
        timed(() => push(callbackBody({ deviceId: body.deviceId }))),
      ),
    );
    during.forEach(expect503);
    // Later requests meet the hung connections the earlier ones left in the pool.
    expect503(await timed(() => push(body)));
    expect503(await timed(() => push(body)));
    const ready = await timed(readiness);
    expect(ready.response.statusCode).toBe(503);
    expect(ready.ms).toBeLessThan(CONTRACT_BOUND_MS);

    await proxy.restore();
    const stored = await pushUntilStored(body, 15_000);
    expect(stored.statusCode).toBe(200);
    expect((await readiness()).statusCode).toBe(200);
    await expectFullyRecovered(`after-hang-${newCommandId()}`);
  });

  (onServer ? it : it.skip)(
    'answers 503 within 5 s while a lock holds the table (PostgreSQL only), then stores again',
    async () => {
      // A database that is up but too slow: another session holds the commands table.
      const locker = new pg.Client({ connectionString: database.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE commands IN ACCESS EXCLUSIVE MODE');
        const body = callbackBody();
        const during = await Promise.all(Array.from({ length: 3 }, () => timed(() => push(body))));
        during.forEach(expect503);
        await locker.query('ROLLBACK');
        const stored = await pushUntilStored(body, 5000);
        expect(stored.json()).toMatchObject({ status: 'SENT' });
        // Statements cancelled by the timeout stored nothing: only the last push is in history.
        const rows = await locker.query(
          'SELECT count(*)::int AS n FROM command_history WHERE command_id = $1',
          [body.commandId],
        );
        expect(rows.rows[0]).toEqual({ n: 1 });
      } finally {
        await locker.end();
      }
    },
  );
});
