import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { request as httpRequest } from 'node:http';
import { type AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/env-values.js';
import { secretMatches } from '../../src/http/auth.guards.js';
import { callbackBody, registrationBody } from '../support/factories.js';
import { spawnService } from '../support/service-process.js';
import { type TestApp, startTestApp } from '../support/test-app.js';

// Authentication per docs/api.md. CALLBACK_TOKEN on callbacks (query token or
// X-Callback-Token), API_KEYS bearer keys on /commands* and /changes (which also takes
// ?access_token=), constant-time comparison, the production refusal, secrets never logged, and
// health, metrics and docs open.

const TOKEN = 'cb-token-9f8e7d6c5b4a';
const KEYS = ['key-one-0123456789', 'key-two-abcdefghij'];
const WRONG = 'not-the-secret-xyz';

describe('authentication', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp({ callbackToken: TOKEN, apiKeys: KEYS });
    db = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  const historyRows = async () => {
    const [row] = await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM command_history`);
    return row.n;
  };

  const push = (query: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/callbacks/command-status${query}`,
      headers,
      payload: callbackBody(),
    });

  const expect401 = (response: { statusCode: number; headers: object; json(): unknown }) => {
    expect(response.statusCode).toBe(401);
    expect(response.headers).toMatchObject({
      'content-type': expect.stringContaining('problem+json'),
    });
    expect(response.json()).toMatchObject({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
    });
  };

  describe('CALLBACK_TOKEN on POST /callbacks/command-status', () => {
    it.each([
      ['no token', '', {}],
      ['a wrong token in the query', `?token=${WRONG}`, {}],
      ['a wrong X-Callback-Token', '', { 'x-callback-token': WRONG }],
      ['the token with a character more', `?token=${TOKEN}x`, {}],
      ['a prefix of the token', `?token=${TOKEN.slice(0, -1)}`, {}],
      ['an empty token', '?token=', {}],
      ['the token twice in the query', `?token=${TOKEN}&token=${TOKEN}`, {}],
      ['the token under another name', `?access_token=${TOKEN}`, {}],
      ['the token as a bearer key', '', { authorization: `Bearer ${TOKEN}` }],
      ['an API key instead', `?token=${KEYS[0]}`, {}],
    ])('refuses %s with 401 and stores nothing', async (_name, query, headers) => {
      const before = await historyRows();
      expect401(await push(query, headers));
      expect(await historyRows()).toBe(before);
    });

    it('accepts the token as query token or as header X-Callback-Token', async () => {
      expect((await push(`?token=${TOKEN}`)).statusCode).toBe(200);
      expect((await push(`?token=${encodeURIComponent(TOKEN)}`)).statusCode).toBe(200);
      expect((await push('', { 'x-callback-token': TOKEN })).statusCode).toBe(200);
      // A right header is enough even when the query carries something else, and vice versa.
      expect((await push(`?token=${WRONG}`, { 'x-callback-token': TOKEN })).statusCode).toBe(200);
      expect((await push(`?token=${TOKEN}`, { 'x-callback-token': WRONG })).statusCode).toBe(200);
    });

    it('does not ask callbacks for an API key', async () => {
      const response = await push('', { 'x-callback-token': TOKEN });
      expect(response.statusCode).toBe(200);
    });
  });

  describe('API_KEYS on /commands*', () => {
    const commandId = 'auth-known-command';

    beforeAll(async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/commands',
        headers: { authorization: `Bearer ${KEYS[0]}` },
        payload: registrationBody({ commandId }),
      });
      expect(response.statusCode).toBe(201);
    });

    const routes = [
      { method: 'GET' as const, url: '/commands' },
      { method: 'GET' as const, url: `/commands/${commandId}` },
      { method: 'POST' as const, url: '/commands', payload: registrationBody() },
      { method: 'GET' as const, url: '/analytics/counts?groupBy=status' },
    ];

    it.each([
      ['no Authorization', {}],
      ['a wrong key', { authorization: `Bearer ${WRONG}` }],
      ['a key with a character more', { authorization: `Bearer ${KEYS[0]}x` }],
      ['the Basic scheme', { authorization: `Basic ${Buffer.from(KEYS[0]).toString('base64')}` }],
      ['the key without a scheme', { authorization: KEYS[0] }],
      ['the callback token', { authorization: `Bearer ${TOKEN}` }],
      ['an empty bearer', { authorization: 'Bearer ' }],
    ])('refuses %s with 401 and a Bearer challenge', async (_name, headers) => {
      const before = await historyRows();
      for (const route of routes) {
        const response = await t.app.inject({ ...route, headers });
        expect401(response);
        expect(response.headers['www-authenticate']).toBe('Bearer');
      }
      expect(await historyRows()).toBe(before);
    });

    it('answers /analytics/counts with the key', async () => {
      const response = await t.app.inject({
        method: 'GET',
        url: `/analytics/counts?deviceIdPrefix=92d3`,
        headers: { authorization: `Bearer ${KEYS[1] ?? KEYS[0]}` },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json<{ total: number }>().total).toBeGreaterThanOrEqual(1);
    });

    it('does not take ?access_token= (only /changes does)', async () => {
      expect401(await t.app.inject({ method: 'GET', url: `/commands?access_token=${KEYS[0]}` }));
    });

    it('accepts every configured key', async () => {
      for (const key of KEYS) {
        for (const scheme of ['Bearer', 'bearer']) {
          for (const route of routes) {
            const response = await t.app.inject({
              ...route,
              payload: route.payload === undefined ? undefined : registrationBody(),
              headers: { authorization: `${scheme} ${key}` },
            });
            expect(response.statusCode).toBeLessThan(300);
          }
        }
      }
    });
  });

  describe('API_KEYS on /changes', () => {
    let app: NestFastifyApplication;
    let port: number;

    beforeAll(async () => {
      app = t.app;
      await app.listen({ port: 0, host: '127.0.0.1' });
      port = (app.getHttpServer().address() as AddressInfo).port;
    });

    /** Opens the stream and reports the status and content type; closes it straight away. */
    const open = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; type: string }>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port, path, headers }, (response) => {
          resolve({
            status: response.statusCode ?? 0,
            type: response.headers['content-type'] ?? '',
          });
          request.destroy();
        });
        request.on('error', reject);
        request.end();
      });

    it('refuses a stream without a valid key', async () => {
      expect(await open('/changes')).toMatchObject({
        status: 401,
        type: expect.stringContaining('problem+json'),
      });
      expect((await open(`/changes?access_token=${WRONG}`)).status).toBe(401);
      expect((await open('/changes', { authorization: `Bearer ${WRONG}` })).status).toBe(401);
      expect((await open(`/changes?token=${TOKEN}`)).status).toBe(401);
    });

    it('streams with the key as a bearer or as ?access_token=', async () => {
      for (const key of KEYS) {
        expect(await open('/changes', { authorization: `Bearer ${key}` })).toMatchObject({
          status: 200,
          type: expect.stringContaining('text/event-stream'),
        });
        expect(await open(`/changes?access_token=${encodeURIComponent(key)}`)).toMatchObject({
          status: 200,
          type: expect.stringContaining('text/event-stream'),
        });
      }
    });
  });

  it('keeps health, metrics and docs open', async () => {
    for (const url of ['/health/live', '/health/ready', '/metrics', '/docs', '/docs-json']) {
      const response = await t.app.inject({ method: 'GET', url });
      expect({ url, status: response.statusCode }).toEqual({ url, status: 200 });
    }
  });
});

describe('AUTH_DISABLED', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ authDisabled: true, callbackToken: TOKEN, apiKeys: [] });
  });

  afterAll(async () => {
    await t.close();
  });

  it('still requires a token that is set', async () => {
    const refused = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody(),
    });
    expect(refused.statusCode).toBe(401);
    const list = await t.app.inject({ method: 'GET', url: '/commands' });
    expect(list.statusCode).toBe(200);
  });
});

describe('secretMatches (constant-time comparison)', () => {
  it('matches only the exact secret, whatever the lengths', () => {
    expect(secretMatches(TOKEN, TOKEN)).toBe(true);
    expect(secretMatches(`${TOKEN} `, TOKEN)).toBe(false);
    expect(secretMatches(TOKEN.slice(1), TOKEN)).toBe(false);
    expect(secretMatches('', TOKEN)).toBe(false);
    expect(secretMatches(undefined, TOKEN)).toBe(false);
    expect(secretMatches('x'.repeat(10_000), TOKEN)).toBe(false);
    expect(secretMatches('ключ-🔑', 'ключ-🔑')).toBe(true);
  });
});

describe('production refusal', () => {
  const refusal = (env: Record<string, string | undefined>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) {
        return error.message;
      }
      throw error;
    }
    return undefined;
  };

  it('refuses NODE_ENV=production with neither CALLBACK_TOKEN nor API_KEYS, naming the way out', () => {
    for (const env of [
      { NODE_ENV: 'production' },
      { NODE_ENV: 'production', CALLBACK_TOKEN: '   ', API_KEYS: ' , ,' },
      { NODE_ENV: 'production', AUTH_DISABLED: 'false' },
    ]) {
      const message = refusal(env);
      expect(message).toMatch(/CALLBACK_TOKEN/);
      expect(message).toMatch(/API_KEYS/);
      expect(message).toMatch(/AUTH_DISABLED=true/);
    }
  });

  it('starts in production with both a token and keys, or with AUTH_DISABLED=true', () => {
    expect(
      refusal({ NODE_ENV: 'production', CALLBACK_TOKEN: TOKEN, API_KEYS: KEYS.join(',') }),
    ).toBeUndefined();
    expect(refusal({ NODE_ENV: 'production', AUTH_DISABLED: 'true' })).toBeUndefined();
    expect(refusal({})).toBeUndefined();
  });

  it('refuses production with only one of the two: the other surface would be open', () => {
    expect(refusal({ NODE_ENV: 'production', CALLBACK_TOKEN: TOKEN })).toMatch(
      /^Invalid configuration: API_KEYS/,
    );
    expect(refusal({ NODE_ENV: 'production', API_KEYS: KEYS.join(',') })).toMatch(
      /^Invalid configuration: CALLBACK_TOKEN/,
    );
  });

  it('makes the real process exit 1 with the message, before opening any database', async () => {
    const service = await spawnService({ NODE_ENV: 'production', PGLITE_DATA_DIR: 'memory://' });
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      service.exited,
      new Promise<'still running'>((resolve) => {
        timer = setTimeout(() => resolve('still running'), 60_000);
      }),
    ]);
    clearTimeout(timer);
    await service.kill();
    expect(exit).toEqual({ code: 1, signal: null });
    expect(service.output()).toMatch(/CALLBACK_TOKEN.*API_KEYS.*AUTH_DISABLED=true/);
  }, 120_000);
});
