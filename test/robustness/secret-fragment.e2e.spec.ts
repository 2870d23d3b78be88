import { type AddressInfo, connect } from 'node:net';
import { REDACTED, redactQuery, redactQueryString } from '../../src/http/redact.js';
import { callbackBody } from '../support/factories.js';
import { type TestApp, startTestApp } from '../support/test-app.js';

// A request line may carry a secret after `?` or after `#`: Fastify reads what follows `#` as a
// query string too, so `#token=...` authenticates, and `?token=ab#cd` is the token `ab#cd`. None of
// it may reach a log line. Sent over a real socket: an HTTP client library would drop the fragment.

const TOKEN = 'frag-token-0123456789';
const HASHED_TOKEN = 'part-one-0123#part-two-4567';

/** Sends one raw HTTP/1.1 request line as written, and answers the status code. */
async function rawPost(port: number, target: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])));
  });
}

describe.each([
  ['CALLBACK_TOKEN', TOKEN],
  ['a CALLBACK_TOKEN holding #', HASHED_TOKEN],
])('secrets after ? or # in a request line, with %s', (_, token) => {
  let t: TestApp;
  let port: number;
  const lines: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ logLevel: 'trace', callbackToken: token }, undefined, {
      logDestination: { write: (line: string) => void lines.push(line) },
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });

  afterAll(async () => {
    await t.close();
  });

  const [head, tail] = token.includes('#') ? token.split('#') : [token, token];
  it.each([
    ['/callbacks/command-status#token=', token],
    ['/callbacks/iotda#token=', token],
    ['/callbacks/command-status?token=', token],
    ['/callbacks/command-status?token=wrong-head-xyz#', 'wrong-tail-xyz'],
    ['/callbacks/command-status?a=1#token=', token],
    ['/callbacks/command-status#x?token=', token],
    ['/callbacks/command-status?a=1&token=', token],
    ['/commands?cursor=1#access_token=', token],
  ])('never logs what follows %s', async (prefix, secret) => {
    lines.length = 0;
    const status = await rawPost(port, `${prefix}${secret}`, JSON.stringify(callbackBody()));
    expect(status).toBeGreaterThanOrEqual(200);
    const logged = lines.join('');
    expect(logged).toContain('request completed');
    for (const part of [secret, head, tail, 'wrong-head-xyz', 'wrong-tail-xyz']) {
      expect(logged).not.toContain(part);
    }
  });
});

describe('redactQueryString', () => {
  it.each([
    ['/c#token=s3cret', `/c#${REDACTED}`],
    ['/c?token=ab#cd', `/c?token=${REDACTED}#${REDACTED}`],
    ['/c?a=1#token=s3cret', `/c?a=1#${REDACTED}`],
    ['/c#x?token=s3cret', `/c#${REDACTED}`],
    ['/c?token=s3cret&b=2', `/c?token=${REDACTED}&b=2`],
    ['/c?b=2', '/c?b=2'],
    ['/c', '/c'],
    ['/c#', `/c#${REDACTED}`],
  ])('shows %s as %s', (url, shown) => {
    expect(redactQueryString(url)).toBe(shown);
  });
});

describe('redactQuery', () => {
  it.each([
    [{ token: 'ab#cd' }, '/c?token=ab#cd', REDACTED],
    [{ 'x?token': 's3cret' }, '/c#x?token=s3cret', REDACTED],
    [{ a: '1', token: 's3cret' }, '/c?a=1&token=s3cret', { a: '1', token: REDACTED }],
    [{ a: '1' }, '/c?a=1', { a: '1' }],
  ])('shows %p (from %s) as %p', (query, url, shown) => {
    expect(redactQuery(query, url)).toEqual(shown);
  });
});
