import { eventuallyDefined } from '../support/eventually.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { callbackBody } from '../support/factories.js';
import { commandIdOf, iotdaMessage } from '../support/iotda.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { createTestDatabase } from '../support/test-database.js';

const IOTDA_STATUSES = [
  'PENDING',
  'EXPIRED',
  'SENT',
  'DELIVERED',
  'SUCCESSFUL',
  'FAILED',
  'TIMEOUT',
];

describe('POST /callbacks/iotda', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ bodyLimitBytes: 4096 });
  });

  afterAll(async () => {
    await t.close();
  });

  const push = (payload: unknown, query = '', headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/callbacks/iotda${query}`,
      payload: payload as object,
      headers,
    });
  const getCommand = async (commandId: string) =>
    t.app.inject({ method: 'GET', url: `/commands/${encodeURIComponent(commandId)}` });
  const metric = async (pattern: RegExp) => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    return Number(pattern.exec(text)?.[1] ?? 'NaN');
  };

  it('applies the contract example with source iotda, result as resultDetail and the payload as sent', async () => {
    const message = iotdaMessage({ status: 'SUCCESSFUL', result: { code: 200 } });
    const response = await push(message);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      commandId: commandIdOf(message),
      status: 'SUCCESSFUL',
      outcome: 'applied',
    });
    const command = (await getCommand(commandIdOf(message))).json();
    expect(command).toMatchObject({
      deviceId: 'd-1',
      status: 'SUCCESSFUL',
      resultDetail: { code: 200 },
    });
    expect(command.history).toEqual([
      expect.objectContaining({
        status: 'SUCCESSFUL',
        outcome: 'applied',
        source: 'iotda',
        resultDetail: { code: 200 },
        payload: message,
      }),
    ]);
  });

  it.each(IOTDA_STATUSES)('accepts the IoTDA status %s', async (status) => {
    const message = iotdaMessage({ status });
    const response = await push(message);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status, outcome: 'applied' });
  });

  it.each([
    ['the older resource spelling device.commmad.status', { resource: 'device.commmad.status' }],
    ['body beside notify_data', { bodyBeside: true }],
  ])('accepts %s', async (_, options) => {
    const message = iotdaMessage({ ...options, status: 'DELIVERED' });
    const response = await push(message);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      commandId: commandIdOf(message),
      status: 'DELIVERED',
      outcome: 'applied',
    });
  });

  it('stores a null resultDetail when result is absent', async () => {
    const message = iotdaMessage({ status: 'SENT' });
    await push(message);
    expect((await getCommand(commandIdOf(message))).json().resultDetail).toBeNull();
  });

  it('decides by the same rank rule as the legacy callback, across both routes', async () => {
    const message = iotdaMessage({ status: 'DELIVERED' });
    const commandId = commandIdOf(message);
    expect((await push(message)).json().outcome).toBe('applied');
    expect((await push(message)).json()).toMatchObject({
      status: 'DELIVERED',
      outcome: 'duplicate',
    });
    expect((await push(iotdaMessage({ commandId, status: 'SENT' }))).json().outcome).toBe('stale');
    const legacy = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ deviceId: 'd-1', commandId, result: { resultCode: 'FAILED' } }),
    });
    expect(legacy.json().outcome).toBe('applied');
    expect((await push(iotdaMessage({ commandId, status: 'SUCCESSFUL' }))).json()).toMatchObject({
      status: 'FAILED',
      outcome: 'conflict',
    });
  });

  it('answers 409 for a command known under another device and applies nothing', async () => {
    const message = iotdaMessage({ status: 'SENT' });
    await push(message);
    const other = iotdaMessage({
      commandId: commandIdOf(message),
      deviceId: 'd-2',
      status: 'SUCCESSFUL',
    });
    const response = await push(other);
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const command = (await getCommand(commandIdOf(message))).json();
    expect(command).toMatchObject({ deviceId: 'd-1', status: 'SENT' });
    expect(command.history).toHaveLength(1);
  });

  it.each([
    ['another resource', { resource: 'device.message.status' }],
    ['another event', { event: 'create' }],
    ['a device status change', { resource: 'device.status', event: 'update' }],
  ])(
    'answers 200 {"outcome":"ignored"} for %s, stores nothing and counts it',
    async (_, options) => {
      const ignored = /command_callbacks_total\{outcome="ignored"\} (\d+)/;
      const before = await metric(ignored);
      const message = iotdaMessage(options);
      const response = await push(message);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ outcome: 'ignored' });
      expect((await getCommand(commandIdOf(message))).statusCode).toBe(404);
      expect(await metric(ignored)).toBe(before + 1);
    },
  );

  it('counts an applied IoTDA push in command_callbacks_total', async () => {
    const counter = /command_callbacks_total\{status="EXPIRED",outcome="applied"\} (\d+)/;
    const before = await metric(counter);
    await push(iotdaMessage({ status: 'EXPIRED' }));
    expect(await metric(counter)).toBe(before + 1);
  });

  const invalid: [string, (m: Record<string, unknown>) => unknown, string][] = [
    [
      'CANCELED, which IoTDA does not send',
      (m) => setBody(m, { status: 'CANCELED' }),
      'notify_data.body.status',
    ],
    ['a lower-case status', (m) => setBody(m, { status: 'sent' }), 'notify_data.body.status'],
    ['no status', (m) => setBody(m, { status: undefined }), 'notify_data.body.status'],
    ['no command_id', (m) => setBody(m, { command_id: undefined }), 'notify_data.body.command_id'],
    ['an empty command_id', (m) => setBody(m, { command_id: '' }), 'notify_data.body.command_id'],
    [
      'a command_id of 129 characters',
      (m) => setBody(m, { command_id: 'c'.repeat(129) }),
      'notify_data.body.command_id',
    ],
    [
      'a control character in command_id',
      (m) => setBody(m, { command_id: 'a\nb' }),
      'notify_data.body.command_id',
    ],
    ['a numeric command_id', (m) => setBody(m, { command_id: 42 }), 'notify_data.body.command_id'],
    [
      'no device_id',
      (m) => ({ ...m, notify_data: { ...notify(m), header: {} } }),
      'notify_data.header.device_id',
    ],
    [
      'a device_id of 129 characters',
      (m) => ({ ...m, notify_data: { ...notify(m), header: { device_id: 'd'.repeat(129) } } }),
      'notify_data.header.device_id',
    ],
    ['no header', (m) => ({ ...m, notify_data: { body: notify(m).body } }), 'notify_data.header'],
    [
      'no body anywhere',
      (m) => ({ ...m, notify_data: { header: notify(m).header } }),
      'notify_data.body',
    ],
    ['no notify_data', (m) => ({ ...m, notify_data: undefined }), 'notify_data'],
    ['no resource', (m) => ({ ...m, resource: undefined }), 'resource'],
    ['no event', (m) => ({ ...m, event: undefined }), 'event'],
    [
      'an event_time that is no time',
      (m) => ({ ...m, event_time: '20261332T250000Z' }),
      'event_time',
    ],
    [
      'a NUL character in result',
      (m) => setBody(m, { result: { text: 'a\u0000b' } }),
      'notify_data.body.result.text',
    ],
    ['an array', () => [1, 2], 'body'],
  ];
  it.each(invalid)(
    'answers 400 with the field for %s and stores nothing',
    async (_, change, field) => {
      const message = iotdaMessage({ status: 'SENT' });
      const response = await push(change(message));
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().errors).toEqual([expect.objectContaining({ field })]);
      expect((await getCommand(commandIdOf(message))).statusCode).toBe(404);
    },
  );

  it('answers malformed JSON with 400, a non-JSON body with 415 and an oversized one with 413', async () => {
    const malformed = await t.app.inject({
      method: 'POST',
      url: '/callbacks/iotda',
      headers: { 'content-type': 'application/json' },
      payload: '{"resource":',
    });
    expect(malformed.statusCode).toBe(400);
    const text = await t.app.inject({
      method: 'POST',
      url: '/callbacks/iotda',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    const large = await push(iotdaMessage({ result: { blob: 'x'.repeat(5000) } }));
    expect(large.statusCode).toBe(413);
    for (const response of [malformed, text, large]) {
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
  });
});

describe('POST /callbacks/iotda with CALLBACK_TOKEN', () => {
  const token = 'iotda-token-0123456789';
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ callbackToken: token });
  });

  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['no token', 401, '', {}],
    ['a wrong token', 401, '?token=nope', {}],
    ['the token in the query', 200, `?token=${token}`, {}],
    ['the token in X-Callback-Token', 200, '', { 'x-callback-token': token }],
  ])('answers a push with %s with %i', async (_, status, query, headers) => {
    const response = await t.app.inject({
      method: 'POST',
      url: `/callbacks/iotda${query}`,
      payload: iotdaMessage(),
      headers,
    });
    expect(response.statusCode).toBe(status);
  });

  it('refuses an ignored message without the token too', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/callbacks/iotda',
      payload: iotdaMessage({ resource: 'device.status' }),
    });
    expect(response.statusCode).toBe(401);
  });
});

describe('POST /callbacks/iotda while the database is cut', () => {
  it('answers 503 with Retry-After within 5 s, and stores the re-push once it is back', async () => {
    const database = await createTestDatabase();
    const proxy = await FaultProxy.start(database.url);
    const t = await startTestApp(
      {},
      { ...database, url: proxy.url(database.url), drop: async () => {} },
    );
    try {
      const message = iotdaMessage({ status: 'DELIVERED' });
      proxy.cut();
      const started = performance.now();
      const refused = await t.app.inject({
        method: 'POST',
        url: '/callbacks/iotda',
        payload: message,
      });
      expect({ status: refused.statusCode, within: performance.now() - started < 5000 }).toEqual({
        status: 503,
        within: true,
      });
      expect(refused.headers['retry-after']).toBeDefined();
      await proxy.restore();
      // The platform pushes again until one is answered 200.
      const stored = await eventuallyDefined('a re-push is stored', async () => {
        const response = await t.app.inject({
          method: 'POST',
          url: '/callbacks/iotda',
          payload: message,
        });
        return response.statusCode === 200 ? response : undefined;
      });
      expect(stored.json()).toMatchObject({ status: 'DELIVERED' });
    } finally {
      await t.close();
      await proxy.close();
      await database.drop();
    }
  });
});

function notify(message: Record<string, unknown>): { header: object; body: object } {
  return message.notify_data as { header: object; body: object };
}

function setBody(message: Record<string, unknown>, fields: Record<string, unknown>): unknown {
  const data = notify(message);
  return { ...message, notify_data: { ...data, body: { ...data.body, ...fields } } };
}
