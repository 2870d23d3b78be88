import pg from 'pg';
import { type CommandStatus } from '../../src/commands/command-status.js';
import { CommandsRepository } from '../../src/commands/commands.repository.js';
import { TooLateError } from '../../src/commands/report-batcher.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { callbackBody, newCommandId } from '../support/factories.js';
import { serverUrl } from '../support/test-database.js';

// A command locked by another session (another tool, a long migration, a stuck connection) holds
// up only its own reports: the others are batched, committed and answered as usual.
const describeOnServer = serverUrl() !== undefined ? describe : describe.skip;

const DEVICE = 'isolation-device';

describeOnServer('a command locked elsewhere (PostgreSQL only)', () => {
  let t: TestApp;
  let foreign: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ groupCommit: true });
  });

  afterAll(async () => {
    await t.close();
  });

  beforeEach(async () => {
    foreign = new pg.Client({ connectionString: t.database.url });
    await foreign.connect();
  });

  afterEach(async () => {
    await foreign.end();
  });

  const push = (commandId: string, resultCode: CommandStatus) =>
    t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ commandId, deviceId: DEVICE, result: { resultCode } }),
    });

  const historyOf = async (commandId: string) =>
    (await t.app.inject({ method: 'GET', url: `/commands/${commandId}` }))
      .json<{ history: { status: string; outcome: string }[] }>()
      .history.map((entry) => `${entry.status}:${entry.outcome}`);

  it.each([
    ['a row lock', 'SELECT 1 FROM commands WHERE command_id = $1 FOR UPDATE'],
    ['its advisory lock', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))'],
  ])(
    'answers other commands within 1.5 s while one is held by %s, and applies its reports in order once free',
    async (_, lockSql) => {
      const locked = newCommandId();
      expect((await push(locked, 'SENT')).statusCode).toBe(200);
      await foreign.query('BEGIN');
      await foreign.query(lockSql, [locked]);

      const started = performance.now();
      let lockedSettled = false;
      const lockedAnswers = Promise.all([push(locked, 'DELIVERED'), push(locked, 'SUCCESSFUL')]);
      void lockedAnswers.then(() => (lockedSettled = true));
      const others = await Promise.all(
        Array.from({ length: 30 }, async () => {
          const response = await push(newCommandId(), 'SENT');
          return { status: response.statusCode, ms: performance.now() - started };
        }),
      );
      expect(others.map((answer) => answer.status)).toEqual(Array(30).fill(200));
      expect(Math.max(...others.map((answer) => answer.ms))).toBeLessThan(1500);
      expect(lockedSettled).toBe(false);

      await foreign.query('COMMIT');
      const answers = await lockedAnswers;
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      expect(await historyOf(locked)).toEqual([
        'SENT:applied',
        'DELIVERED:applied',
        'SUCCESSFUL:applied',
      ]);
    },
  );

  it('answers 503 within 5 s to a report of a command held past the deadline, stores nothing of it, and serves the others', async () => {
    const locked = newCommandId();
    expect((await push(locked, 'SENT')).statusCode).toBe(200);
    await foreign.query('BEGIN');
    await foreign.query('SELECT 1 FROM commands WHERE command_id = $1 FOR UPDATE', [locked]);

    const started = performance.now();
    const held = push(locked, 'DELIVERED').then((response) => ({
      response,
      ms: performance.now() - started,
    }));
    const other = await push(newCommandId(), 'SENT');
    expect(other.statusCode).toBe(200);
    const { response, ms } = await held;
    await foreign.query('ROLLBACK');

    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    expect(ms).toBeLessThan(5000);
    expect(await historyOf(locked)).toEqual(['SENT:applied']);
  });

  it('ends a wait for a locked command at its deadline with TooLateError and writes nothing', async () => {
    const locked = newCommandId();
    expect((await push(locked, 'SENT')).statusCode).toBe(200);
    await foreign.query('BEGIN');
    await foreign.query('SELECT 1 FROM commands WHERE command_id = $1 FOR UPDATE', [locked]);

    const report = {
      commandId: locked,
      deviceId: DEVICE,
      status: 'DELIVERED' as const,
      resultDetail: null,
      payload: { commandId: locked },
      source: 'callback' as const,
    };
    const started = performance.now();
    const attempt = t.app.get(CommandsRepository).applyAlone(report, started + 300);
    await expect(attempt).rejects.toBeInstanceOf(TooLateError);
    expect(performance.now() - started).toBeLessThan(2000);
    await foreign.query('ROLLBACK');
    expect(await historyOf(locked)).toEqual(['SENT:applied']);
  });
});
