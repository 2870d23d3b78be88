import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { CommandsService } from '../../src/commands/commands.service.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { callbackBody } from '../support/factories.js';
import { iotdaMessage } from '../support/iotda.js';
import { spawnService } from '../support/service-process.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import {
  type TestDatabase,
  adminQuery,
  createTestDatabase,
  serverUrl,
  withDatabase,
} from '../support/test-database.js';

// A fault of the service must not look like a database outage, and a database that refuses the
// service for good (credentials, a missing database) must not look like one that will come back.

interface LogLine {
  level: number;
  msg?: string;
  err?: unknown;
  sqlState?: string;
}

const ERROR = 50;
const WARN = 40;

function capture(): { lines: LogLine[]; write: (line: string) => void } {
  const lines: LogLine[] = [];
  return { lines, write: (line: string) => void lines.push(JSON.parse(line) as LogLine) };
}

async function metric(t: TestApp, pattern: RegExp): Promise<number> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(pattern.exec(text)?.[1] ?? 'NaN');
}

const UNEXPECTED = /command_callback_failures_total\{reason="unexpected"\} (\d+)/;
const DATABASE = /command_callback_failures_total\{reason="database"\} (\d+)/;

describe('an unexpected error on a status push', () => {
  let t: TestApp;
  const log = capture();

  beforeAll(async () => {
    t = await startTestApp({ logLevel: 'warn' }, undefined, { logDestination: log });
  });

  afterAll(async () => {
    await t.close();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it.each([
    ['/callbacks/command-status', () => callbackBody()],
    ['/callbacks/iotda', () => iotdaMessage()],
  ])(
    'on %s is answered 503 with Retry-After, logged at error with its stack, and counted',
    async (url, body) => {
      jest
        .spyOn(t.app.get(CommandsService), 'report')
        .mockRejectedValueOnce(new TypeError('a bug in the service'));
      const before = await metric(t, UNEXPECTED);
      const databaseBefore = await metric(t, DATABASE);
      log.lines.length = 0;

      const response = await t.app.inject({ method: 'POST', url, payload: body() });

      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBeDefined();
      expect(response.body).not.toContain('a bug in the service');
      const logged = log.lines.find((line) =>
        line.msg?.includes('Unexpected error on a status push'),
      );
      expect(logged?.level).toBe(ERROR);
      expect(String(logged?.err)).toMatch(/TypeError: a bug in the service\n\s+at /);
      expect(await metric(t, UNEXPECTED)).toBe(before + 1);
      expect(await metric(t, DATABASE)).toBe(databaseBefore);
    },
  );
});

describe('a database outage on a status push', () => {
  it('is logged at warn, not error, and counted as reason="database"', async () => {
    const database = await createTestDatabase();
    const proxy = await FaultProxy.start(database.url);
    const log = capture();
    const t = await startTestApp(
      { logLevel: 'warn' },
      { ...database, url: proxy.url(database.url), drop: async () => {} },
      { logDestination: log },
    );
    try {
      const before = await metric(t, DATABASE);
      proxy.cut();
      const response = await t.app.inject({
        method: 'POST',
        url: '/callbacks/command-status',
        payload: callbackBody(),
      });
      expect(response.statusCode).toBe(503);
      expect(await metric(t, DATABASE)).toBe(before + 1);
      const answered = log.lines.filter((line) => line.msg?.startsWith('Answered 503'));
      expect(answered.map((line) => line.level)).toEqual([WARN]);
      expect(log.lines.filter((line) => line.level >= ERROR)).toEqual([]);
    } finally {
      await proxy.restore();
      await t.close();
      await proxy.close();
      await database.drop();
    }
  });
});

const server = serverUrl();
const onServer = server === undefined ? describe.skip : describe;

onServer('a database that refuses the service for good (PostgreSQL)', () => {
  /** Readiness, and one push, once new connections are refused; with what was logged. */
  async function observe(t: TestApp, log: { lines: LogLine[] }) {
    log.lines.length = 0;
    // The pool may still hold a connection that the server is closing: ask until it is gone.
    let ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    for (
      let attempt = 0;
      attempt < 20 && ready.json().checks?.error?.database?.reason !== 'configuration';
      attempt++
    ) {
      ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    }
    const push = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody(),
    });
    return { ready, push, lines: log.lines };
  }

  it('reports a missing database (SQLSTATE 3D) as a configuration error in /health/ready and at error in the log', async () => {
    const database: TestDatabase = await createTestDatabase();
    const log = capture();
    const t = await startTestApp({ logLevel: 'warn' }, database, { logDestination: log });
    try {
      await database.drop();
      const { ready, push, lines } = await observe(t, log);
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.error.database).toMatchObject({
        status: 'down',
        reason: 'configuration',
        message: expect.stringContaining('does not exist (SQLSTATE 3D000)'),
      });
      expect(push.statusCode).toBe(503);
      const configurationLines = lines.filter((line) =>
        line.msg?.includes('Database configuration error'),
      );
      expect(configurationLines.length).toBeGreaterThanOrEqual(2);
      expect(configurationLines.every((line) => line.level === ERROR)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('reports refused credentials (SQLSTATE 28) as a configuration error', async () => {
    const database = await createTestDatabase();
    const role = `ct_login_${randomBytes(4).toString('hex')}`;
    await adminQuery(database.url, `CREATE ROLE ${role} LOGIN SUPERUSER`);
    const url = new URL(database.url);
    url.username = role;
    const log = capture();
    const t = await startTestApp(
      { logLevel: 'warn' },
      { ...database, url: url.toString(), drop: async () => {} },
      { logDestination: log },
    );
    try {
      expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      await adminQuery(database.url, `ALTER ROLE ${role} NOLOGIN`);
      await adminQuery(
        database.url,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`,
        [role],
      );
      const { ready, push, lines } = await observe(t, log);
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.error.database).toMatchObject({
        reason: 'configuration',
        message: expect.stringContaining('credentials (SQLSTATE 28000)'),
      });
      expect(push.statusCode).toBe(503);
      expect(lines.some((line) => line.level === ERROR && line.sqlState === '28000')).toBe(true);
    } finally {
      await t.close();
      await database.drop();
      await adminQuery(server ?? '', `DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('says so when it cannot start on a database that does not exist', async () => {
    const service = await spawnService({
      DATABASE_URL: withDatabase(server ?? '', `ct_missing_${randomBytes(4).toString('hex')}`),
    });
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    expect(service.output()).toContain('database configuration error');
    expect(service.output()).toContain('SQLSTATE 3D000');
  });

  it('reports an outage that passes as reason "unavailable"', async () => {
    const database = await createTestDatabase();
    const proxy = await FaultProxy.start(database.url);
    const t = await startTestApp(
      {},
      { ...database, url: proxy.url(database.url), drop: async () => {} },
    );
    try {
      proxy.cut();
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.error.database.reason).toBe('unavailable');
    } finally {
      await proxy.restore();
      await t.close();
      await proxy.close();
      await database.drop();
    }
  });
});
