import { redactQueryString } from '../../src/http/redact.js';
import { callbackBody } from '../support/factories.js';
import { type TestApp, startTestApp } from '../support/test-app.js';

// Secrets never reach a log line, also not in logged URLs.

const TOKEN = 'cb-token-9f8e7d6c5b4a';
const KEYS = ['key-one-0123456789', 'key-two-abcdefghij'];
const WRONG = 'not-the-secret-xyz';
const SECRETS = [TOKEN, ...KEYS, WRONG];

describe('secrets in logs', () => {
  let t: TestApp;
  const lines: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ logLevel: 'trace', callbackToken: TOKEN, apiKeys: KEYS }, undefined, {
      logDestination: { write: (line: string) => void lines.push(line) },
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it('never writes a token or key to a log line, whether it was right or wrong', async () => {
    const requests = [
      { method: 'POST' as const, url: `/callbacks/command-status?token=${TOKEN}` },
      { method: 'POST' as const, url: `/callbacks/command-status?token=${WRONG}` },
      { method: 'POST' as const, url: `/callbacks/command-status?a=1&token=${TOKEN}&b=2` },
      // Query names may be percent-encoded: Fastify decodes them, so must the redaction.
      { method: 'POST' as const, url: `/callbacks/command-status?%74oken=${TOKEN}` },
      { method: 'POST' as const, url: `/callbacks/command-status?TOKEN=${WRONG}` },
      {
        method: 'POST' as const,
        url: '/callbacks/command-status',
        headers: { 'x-callback-token': TOKEN },
      },
      {
        method: 'POST' as const,
        url: '/callbacks/command-status',
        headers: { 'x-callback-token': WRONG },
      },
      { method: 'GET' as const, url: '/commands', headers: { authorization: `Bearer ${KEYS[0]}` } },
      { method: 'GET' as const, url: '/commands', headers: { authorization: `Bearer ${WRONG}` } },
      { method: 'GET' as const, url: `/commands?access_token=${KEYS[1]}` },
      { method: 'GET' as const, url: `/commands/x?access_token=${KEYS[1]}&token=${TOKEN}` },
      // A bad request and an unknown route are logged too.
      { method: 'POST' as const, url: `/callbacks/command-status?token=${TOKEN}`, payload: '{bad' },
      { method: 'GET' as const, url: `/nowhere?token=${TOKEN}&access_token=${KEYS[0]}` },
    ];
    const statuses: number[] = [];
    for (const { payload, ...request } of requests) {
      const response = await t.app.inject({
        ...request,
        ...(request.method === 'POST'
          ? {
              payload: payload ?? JSON.stringify(callbackBody()),
              headers: { 'content-type': 'application/json', ...request.headers },
            }
          : {}),
      });
      statuses.push(response.statusCode);
    }
    // The token in a percent-encoded query name is still the token: it authenticates.
    expect(statuses.slice(0, 4)).toEqual([200, 401, 200, 200]);
    const logged = lines.join('');
    expect(logged).toContain('/callbacks/command-status'); // requests are logged at all
    for (const secret of SECRETS) {
      expect(logged).not.toContain(secret);
    }
  });

  it('redacts secret query parameters, also percent-encoded or in another case', () => {
    expect(redactQueryString(`/x?token=${TOKEN}`)).not.toContain(TOKEN);
    expect(redactQueryString(`/x?a=1&access_token=${KEYS[0]}#f`)).not.toContain(KEYS[0]);
    expect(redactQueryString(`/x?%74oken=${TOKEN}`)).not.toContain(TOKEN);
    expect(redactQueryString(`/x?access%5Ftoken=${TOKEN}`)).not.toContain(TOKEN);
    expect(redactQueryString(`/x?Token=${TOKEN}`)).not.toContain(TOKEN);
    expect(redactQueryString('/x?tokens=1&my_token=2')).toBe('/x?tokens=1&my_token=2');
  });
});
