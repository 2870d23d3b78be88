import pg from 'pg';
import { DataSource } from 'typeorm';
import { serverUrl } from '../support/test-database.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { callbackBody, newCommandId } from '../support/factories.js';
import { eventually } from '../support/eventually.js';

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

  // Once the write path is full, a push is refused before its body is read: a body that is not
  // even JSON gets the same 503, and the refusal is counted.
  const expectRefusedUnread = async () => {
    const before = await overloadedCount();
    const response = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      headers: { 'content-type': 'application/json' },
      payload: '{ not json',
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(await overloadedCount()).toBe(before + 1);
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
      // In waves of 100 a tick apart: each answer is timed from its own wave's start.
      const pending: Promise<{
        commandId: string;
        status: number;
        retryAfter: unknown;
        ms: number;
      }>[] = [];
      for (let wave = 0; wave < ids.length; wave += 100) {
        const started = performance.now();
        for (const commandId of ids.slice(wave, wave + 100)) {
          pending.push(
            push(commandId).then((response) => ({
              commandId,
              status: response.statusCode,
              retryAfter: response.headers['retry-after'],
              ms: performance.now() - started,
            })),
          );
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Full once the burst has been read as far as the queue's bound: pushes are being refused.
      await eventually(
        async () => (await overloadedCount()) > refusedBefore,
        4000,
        () => 'no push of the burst was refused',
      );
      await expectRefusedUnread();
      await holder.release();
      const answers = await Promise.all(pending);
      const acknowledged = answers.filter((answer) => answer.status === 200);
      const refused = answers.filter((answer) => answer.status === 503);
      expect(acknowledged.length + refused.length).toBe(ids.length);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((answer) => answer.retryAfter !== undefined)).toBe(true);
      expect(Math.max(...refused.map((answer) => answer.ms))).toBeLessThan(5000);

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
      const ids = Array.from({ length: 1400 }, () => newCommandId());
      const answers = Promise.all(
        ids.map(async (commandId) => {
          const response = await push(commandId);
          return { commandId, status: response.statusCode, duringStall: stalled };
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 600));
      await expectRefusedUnread();
      stalled = false;
      await stall.query('COMMIT');
      await stall.end();
      const settled = await answers;

      const refusedDuringStall = settled.filter((a) => a.status === 503 && a.duringStall);
      expect(refusedDuringStall.length).toBeGreaterThan(0);
      const acknowledged = settled.filter((answer) => answer.status === 200);
      expect(acknowledged.length).toBeGreaterThan(0);
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
