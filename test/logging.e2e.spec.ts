import { jest } from '@jest/globals';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { GroupCommit } from '../src/commands/group-commit.js';
import { eventually } from './support/eventually.js';
import { callbackBody } from './support/factories.js';
import { freePort, spawnService } from './support/service-process.js';
import { SseClient, listenUrl } from './support/sse.js';
import { startTestApp } from './support/test-app.js';
import { type TestDatabase, createTestDatabase } from './support/test-database.js';

describe('logs', () => {
  let database: TestDatabase;
  let app: NestFastifyApplication;
  let dropped = false;
  const lines: string[] = [];
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    database = await createTestDatabase();
    // Given the database, so that close() leaves dropping it to this file (one test drops it).
    ({ app } = await startTestApp(
      { logLevel: 'info', callbackToken: 'callback-secret', apiKeys: ['key-secret'] },
      database,
      { logDestination: { write: (line: string) => void lines.push(line) } },
    ));
  });

  afterAll(async () => {
    await app.close();
    if (!dropped) {
      await database.drop();
    }
  });

  it('writes every line as JSON', () => {
    // Start-up (module initialisation, migrations) has logged already.
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
  });

  it('logs each request with the request id it answers in X-Request-Id and in problem details', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/commands/unknown-command',
      headers: { 'x-request-id': 'req-ops-1', authorization: 'Bearer key-secret' },
    });
    expect(response.statusCode).toBe(404);
    expect(response.headers['x-request-id']).toBe('req-ops-1');
    expect(response.json().requestId).toBe('req-ops-1');

    const completed = logs().find((log) => log.requestId === 'req-ops-1');
    expect(completed).toMatchObject({
      level: 40,
      req: { method: 'GET', url: '/commands/unknown-command' },
      res: { statusCode: 404 },
    });
    expect(typeof completed?.responseTime).toBe('number');
  });

  it('puts the problem type, title and detail on the line of a 4xx answer', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/commands?limit=0',
      headers: { 'x-request-id': 'req-ops-problem', authorization: 'Bearer key-secret' },
    });
    expect(response.statusCode).toBe(400);
    const answer = response.json<{ type: string; title: string; detail: string }>();
    const line = logs().find((log) => log.requestId === 'req-ops-problem');
    expect(line).toMatchObject({
      level: 40,
      res: { statusCode: 400 },
      problem: { type: answer.type, title: answer.title, detail: answer.detail },
    });
    expect(answer.detail.length).toBeGreaterThan(0);
  });

  it('logs a status push shed under overload at warn, with its problem', async () => {
    // The write path's own measure of being full, forced: the refusal and its line are the real ones.
    const overloaded = jest.spyOn(app.get(GroupCommit), 'overloaded', 'get').mockReturnValue(true);
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/callbacks/command-status',
        headers: { 'x-request-id': 'req-ops-shed', 'x-callback-token': 'callback-secret' },
        payload: callbackBody(),
      });
      expect(response.statusCode).toBe(503);
    } finally {
      overloaded.mockRestore();
    }
    expect(logs().find((log) => log.requestId === 'req-ops-shed')).toMatchObject({
      level: 40,
      msg: 'request errored',
      res: { statusCode: 503 },
      problem: { title: 'Service Unavailable', detail: 'The service is overloaded; try again' },
      req: { headers: { 'x-callback-token': '[redacted]' } },
    });
  });

  it('does not log each health probe and metrics scrape', async () => {
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      const response = await app.inject({
        method: 'GET',
        url,
        headers: { 'x-request-id': 'req-ops-quiet' },
      });
      expect(response.statusCode).toBe(200);
    }
    expect(logs().filter((log) => log.requestId === 'req-ops-quiet')).toEqual([]);
  });

  it('makes a request id when the client sends none', async () => {
    const response = await app.inject({ method: 'GET', url: '/health/live' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never logs the callback token or the API key, in headers or in the query string', async () => {
    const body = callbackBody();
    const byQuery = await app.inject({
      method: 'POST',
      url: '/callbacks/command-status?token=callback-secret',
      headers: { 'x-request-id': 'req-ops-2' },
      payload: body,
    });
    expect(byQuery.statusCode).toBe(200);
    const byHeader = await app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      headers: { 'x-request-id': 'req-ops-3', 'x-callback-token': 'callback-secret' },
      payload: body,
    });
    expect(byHeader.statusCode).toBe(200);
    const wrongKey = await app.inject({
      method: 'GET',
      url: '/commands?access_token=key-secret-wrong&limit=1',
      headers: { 'x-request-id': 'req-ops-4', authorization: 'Bearer key-secret-wrong' },
    });
    expect(wrongKey.statusCode).toBe(401);

    const requestLogs = logs().filter((log) =>
      ['req-ops-2', 'req-ops-3', 'req-ops-4'].includes(log.requestId as string),
    );
    expect(requestLogs).toHaveLength(3);
    const text = lines.join('\n');
    expect(text).not.toContain('callback-secret');
    expect(text).not.toContain('key-secret');
    expect(requestLogs[0]).toMatchObject({
      req: { url: '/callbacks/command-status?token=[redacted]' },
    });
    expect(requestLogs[1]).toMatchObject({
      req: { headers: { 'x-callback-token': '[redacted]' } },
    });
    expect(requestLogs[2]).toMatchObject({
      req: { headers: { authorization: '[redacted]' } },
    });
  });

  it('logs a change feed the client leaves as an aborted request, at info', async () => {
    const client = await SseClient.open(`${await listenUrl(app)}/changes`, {
      'x-request-id': 'req-ops-feed',
      authorization: 'Bearer key-secret',
    });
    expect(client.status).toBe(200);
    client.close();
    const line = () => logs().find((log) => log.requestId === 'req-ops-feed');
    await eventually(
      () => line() !== undefined,
      5000,
      () => 'no line for the aborted feed',
    );
    expect(line()).toMatchObject({
      level: 30,
      msg: 'request aborted',
      req: { method: 'GET', url: '/changes', headers: { authorization: '[redacted]' } },
    });
  });

  it('puts the request id on lines the application logs while serving a request', async () => {
    lines.length = 0;
    dropped = true;
    await database.drop();
    const response = await app.inject({
      method: 'GET',
      url: '/health/ready',
      headers: { 'x-request-id': 'req-ops-5' },
    });
    expect(response.statusCode).toBe(503);
    const notReady = logs().find((log) => log.msg === 'Not ready');
    expect(notReady).toMatchObject({ level: 40, requestId: 'req-ops-5', context: 'Health' });
  });

  it('logs a request answered with a 5xx as errored, with its status', async () => {
    // The database is gone (previous test): reads and callbacks are answered 503.
    const response = await app.inject({
      method: 'GET',
      url: '/commands/some-command',
      headers: { 'x-request-id': 'req-ops-6', authorization: 'Bearer key-secret' },
    });
    const callback = await app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      headers: { 'x-callback-token': 'callback-secret' },
      payload: callbackBody(),
    });
    expect(response.statusCode).toBe(503);
    expect(callback.statusCode).toBe(503);
    const errored = logs().find((log) => log.requestId === 'req-ops-6' && 'res' in log);
    expect(errored).toMatchObject({
      level: 40,
      msg: 'request errored',
      req: { method: 'GET', url: '/commands/some-command' },
      res: { statusCode: 503 },
    });
  });
});

describe('logs of a start-up that fails', () => {
  const jsonLines = (output: string) =>
    output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it('reports a bad variable as one JSON line at fatal', async () => {
    const service = await spawnService({ PORT: 'not-a-port', LOG_LEVEL: 'info' });
    expect(await service.exited).toEqual({ code: 1, signal: null });
    expect(jsonLines(service.output())).toEqual([
      expect.objectContaining({
        level: 60,
        variable: 'PORT',
        msg: expect.stringContaining('Invalid configuration: PORT') as unknown,
      }),
    ]);
  });

  it('writes every line as JSON when the database cannot be reached, ending with why at fatal', async () => {
    // Nothing listens on this port: every connection is refused.
    const port = await freePort();
    const service = await spawnService({
      DATABASE_URL: `postgres://tracker:db-secret@127.0.0.1:${port}/tracker`,
    });
    expect(await service.exited).toEqual({ code: 1, signal: null });
    const lines = jsonLines(service.output());
    // Nest's own lines (module initialisation, TypeORM's retries) have the service's shape too.
    expect(lines.some((line) => line.context === 'InstanceLoader' && line.level === 30)).toBe(true);
    expect(lines.at(-1)).toMatchObject({
      level: 60,
      context: 'Bootstrap',
      msg: expect.stringMatching(/^Failed to start: .*ECONNREFUSED/) as unknown,
    });
    expect(service.output()).not.toContain('db-secret');
  }, 60_000);
});
