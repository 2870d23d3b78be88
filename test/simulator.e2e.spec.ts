import Fastify, { type FastifyInstance } from 'fastify';
import { type AddressInfo } from 'node:net';
import { runSimulation, type SimulationOptions } from '../tools/simulator.js';
import { type TestApp, startTestApp } from './support/test-app.js';

const options = (target: string): SimulationOptions => ({
  target,
  commands: 24,
  concurrency: 6,
  register: true,
  pushTimeoutMs: 10_000,
  retryDelayMs: 20,
  repushWindowMs: 30_000,
  devices: 5,
  seed: 3,
});

describe('the platform simulator against the service on a real socket', () => {
  let t: TestApp;
  let target: string;

  beforeAll(async () => {
    t = await startTestApp({ callbackToken: 'sim-token', apiKeys: ['sim-key'] });
    await t.app.listen(0, '127.0.0.1');
    const address = t.app.getHttpServer().address() as AddressInfo;
    target = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await t.close();
  });

  it('pushes registered lifecycles with duplicates and reordering, and every command ends by the rule', async () => {
    const summary = await runSimulation({
      ...options(target),
      token: 'sim-token',
      apiKey: 'sim-key',
    });
    expect(summary.mismatches).toEqual([]);
    expect(summary.rejected).toBe(0);
    expect(summary.acked).toBe(summary.sent);
    expect(summary.outcomes.applied).toBeGreaterThanOrEqual(summary.commands * 2);
    const finals = Object.values(summary.finalStatuses).reduce((a, b) => a + b, 0);
    expect(finals).toBe(summary.commands);
  });

  it('counts a refused push as a mismatch: a wrong token is 401, which the platform does not retry', async () => {
    const summary = await runSimulation({
      ...options(target),
      commands: 2,
      register: false,
      token: 'wrong',
    });
    expect(summary.rejected).toBeGreaterThan(0);
    expect(summary.mismatches.length).toBeGreaterThan(0);
  });

  describe('behind a flaky network', () => {
    let proxy: FastifyInstance;
    let proxied: string;
    let calls = 0;

    beforeAll(async () => {
      // Every 4th push is answered 503 unseen; every 7th is stored but its answer is lost (503).
      proxy = Fastify();
      proxy.all('/*', async (request, reply) => {
        calls++;
        const isPush = request.method === 'POST';
        if (isPush && calls % 4 === 0) {
          return reply.status(503).send({ status: 503 });
        }
        const response = await t.app.inject({
          method: request.method as 'GET' | 'POST',
          url: request.url,
          headers: request.headers,
          payload: request.body === undefined ? undefined : JSON.stringify(request.body),
        });
        if (isPush && calls % 7 === 0) {
          return reply.status(503).send({ status: 503 });
        }
        return reply
          .status(response.statusCode)
          .header('content-type', response.headers['content-type'])
          .send(response.body);
      });
      await proxy.listen({ port: 0, host: '127.0.0.1' });
      proxied = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await proxy.close();
    });

    it('re-pushes after 503 like the platform, and the stored commands still match', async () => {
      const summary = await runSimulation({
        ...options(proxied),
        token: 'sim-token',
        apiKey: 'sim-key',
        seed: 4,
      });
      expect(summary.retried).toBeGreaterThan(0);
      expect(summary.abandoned).toBe(0);
      expect(summary.mismatches).toEqual([]);
    });
  });
});
