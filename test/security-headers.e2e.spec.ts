import { type InjectOptions } from 'light-my-request';
import { callbackBody } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';

// Headers that keep a browser from reading an answer as something else (docs/security.md).

const KEY = 'security-headers-key-0123456789';
const TOKEN = 'security-headers-token-0123456789';

describe('security headers', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ apiKeys: [KEY], callbackToken: TOKEN });
  });

  afterAll(async () => {
    await t.close();
  });

  const authorized = { authorization: `Bearer ${KEY}` };
  const callback = (options: Partial<InjectOptions>): InjectOptions => ({
    method: 'POST',
    url: `/callbacks/command-status?token=${TOKEN}`,
    ...options,
  });

  const answers: [string, InjectOptions, number, RegExp][] = [
    ['health', { method: 'GET', url: '/health/live' }, 200, /^application\/json/],
    ['a stored report', callback({ payload: callbackBody() }), 200, /^application\/json/],
    ['a list', { method: 'GET', url: '/commands', headers: authorized }, 200, /^application\/json/],
    ['the OpenAPI document', { method: 'GET', url: '/docs-json' }, 200, /^application\/json/],
    [
      'an unknown command',
      { method: 'GET', url: '/commands/nothing-here', headers: authorized },
      404,
      /^application\/problem\+json/,
    ],
    [
      'an invalid query',
      { method: 'GET', url: '/commands?limit=0', headers: authorized },
      400,
      /^application\/problem\+json/,
    ],
    ['a missing key', { method: 'GET', url: '/commands' }, 401, /^application\/problem\+json/],
    [
      'malformed JSON',
      callback({ headers: { 'content-type': 'application/json' }, payload: '{"deviceId":' }),
      400,
      /^application\/problem\+json/,
    ],
    [
      'a body that is not JSON',
      callback({ headers: { 'content-type': 'text/plain' }, payload: 'hello' }),
      415,
      /^application\/problem\+json/,
    ],
    [
      'a body over the limit',
      callback({
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ pad: 'x'.repeat(70_000) }),
      }),
      413,
      /^application\/problem\+json/,
    ],
    ['an unknown route', { method: 'GET', url: '/nowhere' }, 404, /^application\/problem\+json/],
    [
      "a URL Fastify's router refuses",
      { method: 'GET', url: '/commands/%E0%A4%A', headers: authorized },
      400,
      /^application\/problem\+json/,
    ],
  ];

  it.each(answers)(
    'sends X-Content-Type-Options: nosniff with %s',
    async (_name, request, status, contentType) => {
      const response = await t.app.inject(request);
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toMatch(contentType);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    },
  );

  it('serves /docs with a Content-Security-Policy that allows only its own scripts', async () => {
    for (const url of ['/docs', '/docs/']) {
      const response = await t.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      const directives = new Map(
        String(response.headers['content-security-policy'])
          .split(';')
          .map((directive) => directive.trim().split(/\s+/))
          .map(([name, ...sources]) => [name, sources]),
      );
      expect(directives.get('default-src')).toEqual(["'none'"]);
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('connect-src')).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(directives.get('base-uri')).toEqual(["'none'"]);
    }
  });
});
