import { DeadlineSweeper } from '../src/commands/deadline-sweeper.js';
import { callbackBody, registrationBody } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-database.js';

describe('operations', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const get = (url: string) => t.app.inject({ method: 'GET', url });

  describe('health', () => {
    it('answers GET /health/live with 200', async () => {
      const response = await get('/health/live');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ status: 'ok' });
    });

    it('answers GET /health/ready with 200 and the database up while it answers', async () => {
      const response = await get('/health/ready');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        status: 'ok',
        details: { database: { status: 'up' } },
      });
    });

    it('answers /health/ready with 503 problem details once the database is gone, live stays 200', async () => {
      // Its own app and database: this one is stopped (embedded) or dropped with its sessions.
      const database = await createTestDatabase();
      const gone = await startTestApp({}, database);
      try {
        expect((await gone.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(
          200,
        );
        await database.drop();

        const started = Date.now();
        const ready = await gone.app.inject({ method: 'GET', url: '/health/ready' });
        expect(Date.now() - started).toBeLessThan(5000);
        expect(ready.statusCode).toBe(503);
        expect(ready.headers['content-type']).toMatch(/^application\/problem\+json/);
        const body = ready.json();
        expect(body).toMatchObject({
          type: 'about:blank',
          title: 'Service Unavailable',
          status: 503,
          requestId: ready.headers['x-request-id'],
          checks: { status: 'error', error: { database: { status: 'down' } } },
        });
        expect(JSON.stringify(body)).not.toMatch(/postgres:\/\/|password/i);

        const live = await gone.app.inject({ method: 'GET', url: '/health/live' });
        expect(live.statusCode).toBe(200);
      } finally {
        await gone.app.close();
      }
    });
  });

  describe('GET /metrics', () => {
    it('counts callbacks by reported status and outcome', async () => {
      const body = callbackBody();
      for (const resultCode of ['SENT', 'SENT', 'DELIVERED', 'SENT']) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/callbacks/command-status',
          payload: { ...body, result: { resultCode, resultDetail: null } },
        });
        expect(response.statusCode).toBe(200);
      }

      const response = await get('/metrics');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.body;
      expect(text).toContain('# TYPE command_callbacks_total counter');
      expect(text).toContain('command_callbacks_total{status="SENT",outcome="applied"} 1');
      expect(text).toContain('command_callbacks_total{status="SENT",outcome="duplicate"} 1');
      expect(text).toContain('command_callbacks_total{status="SENT",outcome="stale"} 1');
      expect(text).toContain('command_callbacks_total{status="DELIVERED",outcome="applied"} 1');
      expect(text).toContain('command_callbacks_total{status="FAILED",outcome="conflict"} 0');
    });

    it('times HTTP requests by route pattern, not by raw URL', async () => {
      await get('/commands/some-command-that-does-not-exist');
      await get('/no/such/route');
      const text = (await get('/metrics')).body;
      expect(text).toContain('# TYPE http_request_duration_seconds histogram');
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="GET",route="\/commands\/:commandId",status_code="404"\} 1/,
      );
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="POST",route="\/callbacks\/command-status",status_code="200"\} \d+/,
      );
      expect(text).toMatch(/route="unmatched",status_code="404"/);
      expect(text).not.toContain('some-command-that-does-not-exist');
    });

    it('counts sweeps and the commands they timed out or expired', async () => {
      for (const status of ['SENT', 'PENDING']) {
        const registered = await t.app.inject({
          method: 'POST',
          url: '/commands',
          payload: registrationBody({ status, deadline: '2020-01-01T00:00:00Z' }),
        });
        expect(registered.statusCode).toBe(201);
      }
      const before = (await get('/metrics')).body;
      const result = await t.app.get(DeadlineSweeper).sweep();
      expect(result).toMatchObject({ timedOut: 1, expired: 1 });

      const after = (await get('/metrics')).body;
      const value = (text: string, series: string) =>
        Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1]);
      expect(value(after, 'command_sweeps_total')).toBe(value(before, 'command_sweeps_total') + 1);
      expect(value(after, 'command_swept_total{status="TIMEOUT"}')).toBe(
        value(before, 'command_swept_total{status="TIMEOUT"}') + 1,
      );
      expect(value(after, 'command_swept_total{status="EXPIRED"}')).toBe(
        value(before, 'command_swept_total{status="EXPIRED"}') + 1,
      );
    });

    it('reports the database pool, sweeps and the process metrics', async () => {
      const text = (await get('/metrics')).body;
      expect(text).toMatch(/db_pool_connections\{state="in_use"\} \d+/);
      expect(text).toMatch(/db_pool_connections\{state="idle"\} \d+/);
      expect(text).toMatch(/db_pool_waiting_clients \d+/);
      expect(text).toMatch(new RegExp(`db_pool_max_connections ${t.database.poolSize}\\b`));
      expect(text).toContain('# TYPE command_sweeps_total counter');
      expect(text).toContain('# TYPE command_swept_total counter');
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toContain('nodejs_eventloop_lag_seconds');
    });
  });

  describe('API documentation', () => {
    it('serves Swagger UI at /docs', async () => {
      const response = await get('/docs');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.body).toContain('swagger-ui');
    });

    it('serves an OpenAPI 3 document of every endpoint at /docs-json', async () => {
      const response = await get('/docs-json');
      expect(response.statusCode).toBe(200);
      const document = response.json();
      expect(document.openapi).toMatch(/^3\./);
      const paths = Object.keys(document.paths);
      expect(paths).toEqual(
        expect.arrayContaining([
          '/callbacks/command-status',
          '/commands',
          '/commands/{commandId}',
          '/commands/{commandId}/history',
          '/changes',
          '/health/live',
          '/health/ready',
          '/metrics',
        ]),
      );
      const callback = document.paths['/callbacks/command-status'].post;
      expect(JSON.stringify(callback.requestBody)).toContain('108a9c71462a48e09426e06e844d47ba');
      expect(document.paths['/health/ready'].get.responses['503']).toBeDefined();
      const parameters = (path: string) =>
        (document.paths[path].get.parameters as { name: string; in: string }[]).map(
          (parameter) => `${parameter.in}:${parameter.name}`,
        );
      expect(parameters('/commands')).toEqual([
        'query:deviceId',
        'query:deviceIdPrefix',
        'query:status',
        'query:since',
        'query:until',
        'query:updatedBefore',
        'query:campaignId',
        'query:order',
        'query:limit',
        'query:cursor',
      ]);
      expect(parameters('/analytics/commands')).toEqual([
        'query:serviceId',
        'query:method',
        'query:campaignId',
        'query:deviceId',
        'query:since',
        'query:until',
      ]);
      expect(parameters('/commands/{commandId}/history')).toEqual([
        'path:commandId',
        'query:limit',
        'query:cursor',
      ]);
      const lookup = document.components.schemas.CommandWithHistoryResponse.properties;
      expect(Object.keys(lookup).slice(-2)).toEqual(['historyTruncated', 'history']);
      expect(Object.keys(document.paths['/metrics'].get.responses['200'].content)).toContain(
        'text/plain',
      );
    });
  });
});
