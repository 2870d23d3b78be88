import { type InjectOptions } from 'fastify';
import { DataSource } from 'typeorm';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { callbackBody, registrationBody } from '../support/factories.js';

// Every kind of bad input gets the right 4xx problem details, stores nothing,
// and never yields a 5xx or a crash.

const CALLBACK = '/callbacks/command-status';
const JSON_TYPE = { 'content-type': 'application/json' };

interface BadInput {
  name: string;
  request: InjectOptions;
  status: 400 | 404 | 413 | 415;
  /** A field that errors[] must name (validation failures only). */
  field?: string;
}

const raw = (url: string, payload: string, headers = JSON_TYPE): InjectOptions => ({
  method: 'POST',
  url,
  headers,
  payload,
});
const json = (url: string, payload: unknown): InjectOptions => raw(url, JSON.stringify(payload));
const callback = (overrides: Record<string, unknown>) =>
  json(CALLBACK, { ...callbackBody(), ...overrides });
const withResult = (result: unknown) => callback({ result });
/** A SENT callback whose resultDetail is the given JSON text, as sent (JSON.stringify cannot make it). */
const withRawDetail = (detailJson: string) =>
  raw(
    CALLBACK,
    JSON.stringify(callbackBody({ result: { resultCode: 'SENT', resultDetail: 'HERE' } })).replace(
      '"HERE"',
      detailJson,
    ),
  );
const registration = (overrides: Record<string, unknown>) =>
  json('/commands', registrationBody(overrides));
const list = (query: string): InjectOptions => ({ method: 'GET', url: `/commands?${query}` });
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `[[[...]]]` nested `levels` deep, as raw JSON text. */
const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const nestedObject = (levels: number): unknown => {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) {
    value = { down: value };
  }
  return value;
};

const NOT_JSON_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
];

const CASES: BadInput[] = [
  // POST /callbacks/command-status: not a JSON object at all
  { name: 'callback: malformed JSON', request: raw(CALLBACK, '{"deviceId": '), status: 400 },
  { name: 'callback: truncated string', request: raw(CALLBACK, '{"deviceId": "ab'), status: 400 },
  { name: 'callback: trailing garbage', request: raw(CALLBACK, '{}}'), status: 400 },
  { name: 'callback: empty body', request: raw(CALLBACK, ''), status: 400 },
  { name: 'callback: whitespace body', request: raw(CALLBACK, '   '), status: 400 },
  { name: 'callback: JSON null', request: raw(CALLBACK, 'null'), status: 400, field: 'body' },
  { name: 'callback: JSON array', request: json(CALLBACK, [callbackBody()]), status: 400 },
  { name: 'callback: JSON string', request: raw(CALLBACK, '"SENT"'), status: 400, field: 'body' },
  { name: 'callback: JSON number', request: raw(CALLBACK, '42'), status: 400, field: 'body' },
  { name: 'callback: JSON true', request: raw(CALLBACK, 'true'), status: 400, field: 'body' },
  { name: 'callback: empty object', request: json(CALLBACK, {}), status: 400 },
  // wrong types
  {
    name: 'callback: numeric deviceId',
    request: callback({ deviceId: 42 }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: boolean commandId',
    request: callback({ commandId: true }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: array commandId',
    request: callback({ commandId: ['a'] }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: object deviceId',
    request: callback({ deviceId: { id: 'a' } }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: null commandId',
    request: callback({ commandId: null }),
    status: 400,
    field: 'commandId',
  },
  { name: 'callback: result a string', request: withResult('SENT'), status: 400, field: 'result' },
  {
    name: 'callback: result an array',
    request: withResult([{ resultCode: 'SENT' }]),
    status: 400,
    field: 'result',
  },
  { name: 'callback: result null', request: withResult(null), status: 400, field: 'result' },
  {
    name: 'callback: numeric resultCode',
    request: withResult({ resultCode: 1 }),
    status: 400,
    field: 'result.resultCode',
  },
  {
    name: 'callback: array resultCode',
    request: withResult({ resultCode: ['SENT'] }),
    status: 400,
    field: 'result.resultCode',
  },
  // missing fields
  {
    name: 'callback: missing deviceId',
    request: callback({ deviceId: undefined }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: missing commandId',
    request: callback({ commandId: undefined }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: missing result',
    request: callback({ result: undefined }),
    status: 400,
    field: 'result',
  },
  {
    name: 'callback: missing resultCode',
    request: withResult({ resultDetail: null }),
    status: 400,
    field: 'result.resultCode',
  },
  // unknown and wrong-case resultCode
  {
    name: 'callback: unknown resultCode',
    request: withResult({ resultCode: 'DONE' }),
    status: 400,
    field: 'result.resultCode',
  },
  {
    name: 'callback: lower-case resultCode',
    request: withResult({ resultCode: 'sent' }),
    status: 400,
    field: 'result.resultCode',
  },
  {
    name: 'callback: mixed-case resultCode',
    request: withResult({ resultCode: 'Successful' }),
    status: 400,
    field: 'result.resultCode',
  },
  {
    name: 'callback: padded resultCode',
    request: withResult({ resultCode: ' SENT' }),
    status: 400,
    field: 'result.resultCode',
  },
  {
    name: 'callback: empty resultCode',
    request: withResult({ resultCode: '' }),
    status: 400,
    field: 'result.resultCode',
  },
  {
    name: 'callback: Huawei-style resultCode',
    request: withResult({ resultCode: 'DEVICE_COMMAND_SENT' }),
    status: 400,
    field: 'result.resultCode',
  },
  // identifiers
  {
    name: 'callback: empty deviceId',
    request: callback({ deviceId: '' }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: empty commandId',
    request: callback({ commandId: '' }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: commandId of 129 characters',
    request: callback({ commandId: 'c'.repeat(129) }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: deviceId of 129 emoji',
    request: callback({ deviceId: '😀'.repeat(129) }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: NUL in commandId',
    request: callback({ commandId: 'abc\u0000def' }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: NUL alone as deviceId',
    request: callback({ deviceId: '\u0000' }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: BEL in commandId',
    request: callback({ commandId: 'a\u0007b' }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: newline in deviceId',
    request: callback({ deviceId: 'dev\nice' }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: tab in commandId',
    request: callback({ commandId: 'a\tb' }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: DEL in commandId',
    request: callback({ commandId: 'a\u007fb' }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'callback: C1 control in deviceId',
    request: callback({ deviceId: 'a\u0085b' }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'callback: lone surrogate in commandId',
    request: raw(
      CALLBACK,
      JSON.stringify(callbackBody()).replace(/"commandId":"/, '"commandId":"\\ud800'),
    ),
    status: 400,
    field: 'commandId',
  },
  // what PostgreSQL text and jsonb cannot hold, anywhere in the stored payload
  {
    name: 'callback: NUL in a resultDetail string',
    request: withResult({ resultCode: 'SENT', resultDetail: { reason: 'a\u0000b' } }),
    status: 400,
    field: 'result.resultDetail.reason',
  },
  {
    name: 'callback: NUL as the resultDetail',
    request: withResult({ resultCode: 'SENT', resultDetail: '\u0000' }),
    status: 400,
    field: 'result.resultDetail',
  },
  {
    name: 'callback: NUL in a resultDetail key',
    request: withResult({ resultCode: 'SENT', resultDetail: { 'a\u0000b': 1 } }),
    status: 400,
  },
  {
    name: 'callback: NUL deep in a resultDetail array',
    request: withResult({ resultCode: 'SENT', resultDetail: { list: [1, [2, ['x\u0000']]] } }),
    status: 400,
  },
  {
    name: 'callback: NUL in an unknown extra field',
    request: callback({ extra: { note: '\u0000' } }),
    status: 400,
  },
  {
    name: 'callback: lone surrogate in resultDetail',
    request: raw(
      CALLBACK,
      JSON.stringify(
        callbackBody({ result: { resultCode: 'SENT', resultDetail: { s: 'X' } } }),
      ).replace('"X"', '"\\udc00"'),
    ),
    status: 400,
  },
  {
    name: 'callback: resultDetail nested 65 levels',
    request: withResult({ resultCode: 'SENT', resultDetail: nestedObject(65) }),
    status: 400,
  },
  {
    name: 'callback: resultDetail nested 20000 levels',
    request: withRawDetail(nested(20_000)),
    status: 400,
  },
  {
    name: 'callback: resultDetail number out of range',
    request: withRawDetail('{"reading": -1e400}'),
    status: 400,
    field: 'result.resultDetail.reading',
  },
  {
    name: 'callback: __proto__ key',
    request: raw(
      CALLBACK,
      JSON.stringify(callbackBody()).replace('{', '{"__proto__": {"polluted": true}, '),
    ),
    status: 400,
  },
  {
    name: 'callback: constructor.prototype in resultDetail',
    request: withRawDetail('{"constructor": {"prototype": {"polluted": true}}}'),
    status: 400,
  },
  // size and media type
  {
    name: 'callback: body over BODY_LIMIT_BYTES',
    request: withResult({ resultCode: 'SENT', resultDetail: 'x'.repeat(70_000) }),
    status: 413,
  },
  ...NOT_JSON_TYPES.map((type) => ({
    name: `callback: ${type} body`,
    request: raw(CALLBACK, JSON.stringify(callbackBody()), { 'content-type': type }),
    status: 415 as const,
  })),
  {
    name: 'callback: body without a content type',
    request: {
      method: 'POST',
      url: CALLBACK,
      payload: Buffer.from(JSON.stringify(callbackBody())),
    },
    status: 415,
  },

  // POST /commands
  {
    name: 'register: malformed JSON',
    request: raw('/commands', '{"commandId": "a",'),
    status: 400,
  },
  { name: 'register: empty body', request: raw('/commands', ''), status: 400 },
  { name: 'register: JSON array', request: json('/commands', [registrationBody()]), status: 400 },
  { name: 'register: JSON null', request: raw('/commands', 'null'), status: 400, field: 'body' },
  { name: 'register: JSON number', request: raw('/commands', '7'), status: 400, field: 'body' },
  {
    name: 'register: missing commandId',
    request: registration({ commandId: undefined }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'register: missing deviceId',
    request: registration({ deviceId: undefined }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'register: commandId of 129 characters',
    request: registration({ commandId: 'r'.repeat(129) }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'register: NUL in deviceId',
    request: registration({ deviceId: 'd\u0000' }),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'register: ESC in commandId',
    request: registration({ commandId: '\u001b[31m' }),
    status: 400,
    field: 'commandId',
  },
  {
    name: 'register: numeric serviceId',
    request: registration({ serviceId: 5 }),
    status: 400,
    field: 'serviceId',
  },
  {
    name: 'register: serviceId of 129 characters',
    request: registration({ serviceId: 's'.repeat(129) }),
    status: 400,
    field: 'serviceId',
  },
  {
    name: 'register: object method',
    request: registration({ method: { name: 'x' } }),
    status: 400,
    field: 'method',
  },
  {
    name: 'register: NUL in method',
    request: registration({ method: 'SET\u0000' }),
    status: 400,
    field: 'method',
  },
  {
    name: 'register: paras an array',
    request: registration({ paras: [1, 2] }),
    status: 400,
    field: 'paras',
  },
  {
    name: 'register: paras a string',
    request: registration({ paras: 'value=5' }),
    status: 400,
    field: 'paras',
  },
  {
    name: 'register: NUL in a paras key',
    request: registration({ paras: { 'k\u0000': 1 } }),
    status: 400,
  },
  {
    name: 'register: NUL in a paras value',
    request: registration({ paras: { k: ['\u0000'] } }),
    status: 400,
  },
  {
    name: 'register: paras nested 65 levels',
    request: registration({ paras: nestedObject(65) }),
    status: 400,
  },
  {
    name: 'register: unknown status',
    request: registration({ status: 'DONE' }),
    status: 400,
    field: 'status',
  },
  {
    name: 'register: lower-case status',
    request: registration({ status: 'pending' }),
    status: 400,
    field: 'status',
  },
  {
    name: 'register: numeric status',
    request: registration({ status: 0 }),
    status: 400,
    field: 'status',
  },
  {
    name: 'register: deadline not a date',
    request: registration({ deadline: 'tomorrow' }),
    status: 400,
    field: 'deadline',
  },
  {
    name: 'register: deadline without an offset',
    request: registration({ deadline: '2030-01-01T00:00:00' }),
    status: 400,
    field: 'deadline',
  },
  {
    name: 'register: deadline on 30 February',
    request: registration({ deadline: '2030-02-30T00:00:00Z' }),
    status: 400,
    field: 'deadline',
  },
  {
    name: 'register: numeric deadline',
    request: registration({ deadline: 1893456000000 }),
    status: 400,
    field: 'deadline',
  },
  {
    name: 'register: deadline and timeoutSeconds',
    request: registration({ deadline: '2030-01-01T00:00:00Z', timeoutSeconds: 60 }),
    status: 400,
    field: 'deadline',
  },
  {
    name: 'register: timeoutSeconds 0',
    request: registration({ timeoutSeconds: 0 }),
    status: 400,
    field: 'timeoutSeconds',
  },
  {
    name: 'register: timeoutSeconds over a year',
    request: registration({ timeoutSeconds: 31_536_001 }),
    status: 400,
    field: 'timeoutSeconds',
  },
  {
    name: 'register: fractional timeoutSeconds',
    request: registration({ timeoutSeconds: 1.5 }),
    status: 400,
    field: 'timeoutSeconds',
  },
  {
    name: 'register: timeoutSeconds as a string',
    request: registration({ timeoutSeconds: '60' }),
    status: 400,
    field: 'timeoutSeconds',
  },
  {
    name: 'register: body over BODY_LIMIT_BYTES',
    request: registration({ paras: { blob: 'x'.repeat(70_000) } }),
    status: 413,
  },
  ...NOT_JSON_TYPES.map((type) => ({
    name: `register: ${type} body`,
    request: raw('/commands', JSON.stringify(registrationBody()), { 'content-type': type }),
    status: 415 as const,
  })),

  // GET /commands
  { name: 'list: limit 0', request: list('limit=0'), status: 400, field: 'limit' },
  { name: 'list: limit 501', request: list('limit=501'), status: 400, field: 'limit' },
  { name: 'list: negative limit', request: list('limit=-1'), status: 400, field: 'limit' },
  { name: 'list: fractional limit', request: list('limit=1.5'), status: 400, field: 'limit' },
  { name: 'list: limit not a number', request: list('limit=ten'), status: 400, field: 'limit' },
  { name: 'list: empty limit', request: list('limit='), status: 400, field: 'limit' },
  {
    name: 'list: limit given twice',
    request: list('limit=1&limit=2'),
    status: 400,
    field: 'limit',
  },
  { name: 'list: unknown status', request: list('status=DONE'), status: 400, field: 'status' },
  { name: 'list: lower-case status', request: list('status=sent'), status: 400, field: 'status' },
  {
    name: 'list: status list with a trailing comma',
    request: list('status=SENT,'),
    status: 400,
    field: 'status',
  },
  {
    name: 'list: status list with a space',
    request: list('status=SENT,%20FAILED'),
    status: 400,
    field: 'status',
  },
  { name: 'list: since not a date', request: list('since=yesterday'), status: 400, field: 'since' },
  {
    name: 'list: since without an offset',
    request: list('since=2026-11-26T00:00:00'),
    status: 400,
    field: 'since',
  },
  {
    name: 'list: until in month 13',
    request: list('until=2026-13-01T00:00:00Z'),
    status: 400,
    field: 'until',
  },
  { name: 'list: empty deviceId', request: list('deviceId='), status: 400, field: 'deviceId' },
  {
    name: 'list: NUL in deviceId',
    request: list('deviceId=a%00b'),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'list: deviceId of 129 characters',
    request: list(`deviceId=${'d'.repeat(129)}`),
    status: 400,
    field: 'deviceId',
  },
  {
    name: 'list: cursor that is not base64url',
    request: list('cursor=!!!'),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor that is not JSON',
    request: list(`cursor=${Buffer.from('hello').toString('base64url')}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor of the wrong shape',
    request: list(`cursor=${cursor({ createdAt: '2026-11-26T00:00:00.000Z', commandId: 'a' })}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor with numbers',
    request: list(`cursor=${cursor([1, 2])}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor with a bad date',
    request: list(`cursor=${cursor(['not a date', 'a'])}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor with an empty id',
    request: list(`cursor=${cursor(['2026-11-26T00:00:00.000Z', ''])}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor with a NUL id',
    request: list(`cursor=${cursor(['2026-11-26T00:00:00.000Z', 'a\u0000'])}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: cursor with SQL in it',
    request: list(`cursor=${cursor(["2026-11-26T00:00:00Z' OR 1=1 --", 'a'])}`),
    status: 400,
    field: 'cursor',
  },
  {
    name: 'list: huge cursor',
    request: list(`cursor=${'A'.repeat(5000)}`),
    status: 400,
    field: 'cursor',
  },
  { name: 'list: empty cursor', request: list('cursor='), status: 400, field: 'cursor' },

  // GET /commands/{commandId}
  {
    name: 'get: commandId of 129 characters',
    request: { method: 'GET', url: `/commands/${'g'.repeat(129)}` },
    status: 400,
    field: 'commandId',
  },
  {
    name: 'get: NUL in commandId',
    request: { method: 'GET', url: '/commands/a%00b' },
    status: 400,
    field: 'commandId',
  },
  {
    name: 'get: control character in commandId',
    request: { method: 'GET', url: '/commands/a%1Bb' },
    status: 400,
    field: 'commandId',
  },
  {
    name: 'get: invalid percent-encoding',
    request: { method: 'GET', url: '/commands/a%E0%A4%A' },
    status: 400,
  },
  {
    name: 'get: SQL in commandId',
    request: { method: 'GET', url: `/commands/${encodeURIComponent("x' OR '1'='1")}` },
    status: 404,
  },
  {
    name: 'get: unknown commandId',
    request: { method: 'GET', url: '/commands/never-seen' },
    status: 404,
  },
];

describe('bad input never loses or corrupts a report', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  const counts = async () => {
    const [row] = await db.query<{ commands: string; history: string }[]>(
      `SELECT (SELECT count(*) FROM commands) AS commands,
              (SELECT count(*) FROM command_history) AS history`,
    );
    return { commands: Number(row.commands), history: Number(row.history) };
  };

  it('refuses every bad request with the right problem details and stores nothing', async () => {
    const failures: string[] = [];
    for (const { name, request, status, field } of CASES) {
      const response = await t.app.inject(request);
      const where = `${name}: ${response.statusCode} ${response.body.slice(0, 300)}`;
      if (response.statusCode !== status) {
        failures.push(`${where} (expected ${status})`);
        continue;
      }
      if (!String(response.headers['content-type']).startsWith('application/problem+json')) {
        failures.push(`${where} (content-type ${String(response.headers['content-type'])})`);
        continue;
      }
      const problem = response.json<{ status: number; title: string; type: string }>();
      if (problem.status !== status || problem.type !== 'about:blank' || !problem.title) {
        failures.push(`${where} (not problem details)`);
      }
      // Nothing internal leaks: no stack frames, no SQL, no driver errors.
      if (/\n\s+at |QueryFailedError|SELECT |INSERT |jsonb|syntax error/i.test(response.body)) {
        failures.push(`${where} (leaks internals)`);
      }
      if (field !== undefined) {
        const fields = (response.json<{ errors?: { field: string }[] }>().errors ?? []).map(
          (error) => error.field,
        );
        if (!fields.includes(field)) {
          failures.push(`${where} (errors[] does not name ${field})`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await counts()).toEqual({ commands: 0, history: 0 });

    // Still serving after all of it.
    const after = await t.app.inject({ method: 'POST', url: CALLBACK, payload: callbackBody() });
    expect(after.statusCode).toBe(200);
    expect(await counts()).toEqual({ commands: 1, history: 1 });
  });

  it('stores SQL metacharacters and any Unicode literally, through every endpoint', async () => {
    const tricky = [
      `'; DROP TABLE commands; --`,
      `" OR ""="`,
      `\\'\\"%_*$1::text`,
      '😀 ünïcödé 中文 مرحبا',
      'a\u200bb\ufeff', // zero-width space, byte order mark
      '\u{10FFFF}\u{1F468}\u200d\u{1F469}\u200d\u{1F467}', // highest code point, a ZWJ family
      '𝄞'.repeat(120), // ids of 128 characters that are 4 UTF-8 bytes each (with the suffix)
    ];
    for (const [i, text] of tricky.entries()) {
      const commandId = `${text}#${i}`.slice(0, 128);
      const deviceId = `${text}@device`.slice(0, 128);
      const detail = { [text]: text, list: [text, { nested: text }] };
      const registered = await t.app.inject({
        method: 'POST',
        url: '/commands',
        payload: { commandId, deviceId, serviceId: text, method: text, paras: { [text]: text } },
      });
      expect(registered.statusCode).toBe(201);
      const pushed = await t.app.inject({
        method: 'POST',
        url: CALLBACK,
        payload: {
          deviceId,
          commandId,
          result: { resultCode: 'SUCCESSFUL', resultDetail: detail },
        },
      });
      expect(pushed.json()).toEqual({ commandId, status: 'SUCCESSFUL', outcome: 'applied' });

      const command = (
        await t.app.inject({ method: 'GET', url: `/commands/${encodeURIComponent(commandId)}` })
      ).json();
      expect(command).toMatchObject({
        commandId,
        deviceId,
        serviceId: text,
        method: text,
        paras: { [text]: text },
        resultDetail: detail,
      });
      const listed = (
        await t.app.inject({
          method: 'GET',
          url: `/commands?deviceId=${encodeURIComponent(deviceId)}`,
        })
      ).json<{ items: { commandId: string }[] }>();
      expect(listed.items.map((item) => item.commandId)).toEqual([commandId]);

      // Byte for byte in the database too, not only after a round trip through the API.
      const [row] = await db.query<{ device_id: string; result_detail: unknown }[]>(
        `SELECT device_id, result_detail FROM commands WHERE command_id = $1`,
        [commandId],
      );
      expect(row).toEqual({ device_id: deviceId, result_detail: detail });
    }
    const [tables] = await db.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('commands', 'command_history')`,
    );
    expect(Number(tables.n)).toBe(2);
  });
});
