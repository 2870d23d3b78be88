import pg from 'pg';
import { DataSource } from 'typeorm';
import { serverUrl } from '../support/test-database.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { callbackBody, newCommandId } from '../support/factories.js';

// More reports at once than the write path may hold waiting: the excess is refused with 503 and
// Retry-After without being stored, and everything acknowledged with 200 is stored.
describe('admission control on the callback path', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ groupCommit: true });
  });

  afterAll(async () => {
    await t.close();
  });

  const push = (commandId: string) =>
    t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ commandId, deviceId: 'admission-device' }),
    });

  const overloadedCount = async () => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    return Number(/command_callback_failures_total\{reason="overloaded"\} (\d+)/.exec(text)?.[1]);
  };

  /** A push's answer, and whether it was refused for want of room (counted as overloaded). */
  const pushed = async (commandId: string) => {
    const response = await push(commandId);
    return {
      commandId,
      status: response.statusCode,
      retryAfter: response.headers['retry-after'],
      overloaded: response.statusCode === 503 && response.body.includes('overloaded'),
    };
  };

  /** Settles at the first answer `watch` sees refused for want of room; fails after `withinMs`. */
  const firstRefusal = (withinMs: number) => {
    let seen: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const refused = new Promise<void>((resolve, reject) => {
      seen = resolve;
      timer = setTimeout(
        () => reject(new Error(`no push of the burst was refused within ${withinMs} ms`)),
        withinMs,
      );
    }).finally(() => clearTimeout(timer));
    return {
      refused,
      watch<T extends { overloaded: boolean }>(answer: T): T {
        if (answer.overloaded) {
          seen();
        }
        return answer;
      },
    };
  };

  // Once the write path is full, a push is refused before its body is read: a body that is not
  // even JSON gets the same 503. Probed as soon as the burst's first refusal arrives: the path
  // stays full for a while then (its oldest report waits past maxWaitMs before any leaves).
  const expectRefusedUnread = async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      headers: { 'content-type': 'application/json' },
      payload: '{ not json',
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['content-type']).toContain('application/problem+json');
  };

  const describeOnServer = serverUrl() !== undefined ? describe : describe.skip;
  const describeEmbedded = serverUrl() === undefined ? describe : describe.skip;

  // The embedded database has one connection: while something else holds it, reports queue up.
  // A PostgreSQL pool has more, so holding one stalls nothing there: its case is the lock below.
  describeEmbedded('a burst while the one connection is taken (embedded database only)', () => {
    it('refuses the excess of a burst with 503 and Retry-After within 5 s, before reading the bodies once full, stores exactly what it acknowledged, and answers 200 right after', async () => {
      const holder = t.app.get(DataSource).createQueryRunner();
      await holder.connect();
      const refusedBefore = await overloadedCount();
      const ids = Array.from({ length: 1500 }, () => newCommandId());
      const burst = firstRefusal(5000);
      // In waves of 100 a tick apart: each answer is timed from its own wave's start.
      const pending: Promise<Awaited<ReturnType<typeof pushed>> & { ms: number }>[] = [];
      for (let wave = 0; wave < ids.length; wave += 100) {
        const started = performance.now();
        for (const commandId of ids.slice(wave, wave + 100)) {
          pending.push(
            pushed(commandId).then((answer) =>
              burst.watch({ ...answer, ms: performance.now() - started }),
            ),
          );
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      await burst.refused;
      await expectRefusedUnread();
      await holder.release();
      const answers = await Promise.all(pending);
      const acknowledged = answers.filter((answer) => answer.status === 200);
      const refused = answers.filter((answer) => answer.status === 503);
      expect(acknowledged.length + refused.length).toBe(ids.length);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((answer) => answer.retryAfter !== undefined)).toBe(true);
      expect(Math.max(...refused.map((answer) => answer.ms))).toBeLessThan(5000);
      // Each refusal for want of room is counted, the unread probe's too.
      expect(await overloadedCount()).toBe(
        refusedBefore + answers.filter((answer) => answer.overloaded).length + 1,
      );

      const stored = await t.app
        .get(DataSource)
        .query<{ command_id: string }[]>(
          'SELECT command_id FROM commands WHERE command_id = ANY($1::text[])',
          [ids],
        );
      expect(stored.map((row) => row.command_id).sort()).toEqual(
        acknowledged.map((answer) => answer.commandId).sort(),
      );

      expect((await push(newCommandId())).statusCode).toBe(200);
    });
  });

  describeOnServer('while the database is stalled (PostgreSQL only)', () => {
    it('answers the reports beyond the queue 503 while the database is still stalled, before reading the bodies once full, and commits the admitted ones once it is back', async () => {
      const stall = new pg.Client({ connectionString: t.database.url });
      await stall.connect();
      await stall.query('BEGIN');
      await stall.query('LOCK TABLE command_history IN EXCLUSIVE MODE');
      let stalled = true;
      const refusedBefore = await overloadedCount();
      const ids = Array.from({ length: 1400 }, () => newCommandId());
      const burst = firstRefusal(5000);
      const answers = Promise.all(
        ids.map(async (commandId) =>
          burst.watch({ ...(await pushed(commandId)), duringStall: stalled }),
        ),
      );
      await burst.refused;
      await expectRefusedUnread();
      stalled = false;
      await stall.query('COMMIT');
      await stall.end();
      const settled = await answers;

      const refusedDuringStall = settled.filter((a) => a.status === 503 && a.duringStall);
      expect(refusedDuringStall.length).toBeGreaterThan(0);
      const acknowledged = settled.filter((answer) => answer.status === 200);
      expect(acknowledged.length).toBeGreaterThan(0);
      expect(await overloadedCount()).toBe(
        refusedBefore + settled.filter((answer) => answer.overloaded).length + 1,
      );
      const stored = await t.app
        .get(DataSource)
        .query<{ command_id: string }[]>(
          'SELECT command_id FROM commands WHERE command_id = ANY($1::text[])',
          [ids],
        );
      expect(stored.map((row) => row.command_id).sort()).toEqual(
        acknowledged.map((answer) => answer.commandId).sort(),
      );
    });
  });
});
