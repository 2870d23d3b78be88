import { Reconciler } from '../../src/platform/reconciler.js';
import { type TestApp } from '../support/test-app.js';
import {
  type PlatformKind,
  dispatchBody,
  startPlatformApp,
  usePlatformApp,
} from '../support/platform.js';

interface CommandJson {
  commandId: string;
  deviceId: string;
  status: string;
  serviceId: string | null;
  method: string | null;
  paras: unknown;
  deadline: string;
  createdAt: string;
  history: { source: string; status: string; outcome: string; payload?: unknown }[];
}

describe.each<PlatformKind>(['iotda', 'oceanconnect'])('POST /commands/dispatch on %s', (kind) => {
  const platform = usePlatformApp(kind, { env: { CALLBACK_TOKEN: 'callback-token-123456' } });

  const dispatch = (body: object, headers: Record<string, string> = {}) =>
    platform.app.inject({ method: 'POST', url: '/commands/dispatch', payload: body, headers });
  const get = (commandId: string) =>
    platform.app.inject({ method: 'GET', url: `/commands/${encodeURIComponent(commandId)}` });
  const listDevice = async (deviceId: string) =>
    (
      await platform.app.inject({
        method: 'GET',
        url: `/commands?deviceId=${encodeURIComponent(deviceId)}`,
      })
    ).json<{ items: CommandJson[] }>().items;

  it('answers 201 with the command as GET shows it, under the platform commandId, first history entry from dispatch', async () => {
    const body = dispatchBody({ timeoutSeconds: 600 });
    const before = Date.now();
    const response = await dispatch(body);
    expect(response.statusCode).toBe(201);
    const command = response.json<CommandJson>();
    const platformCommand = platform.emulator.commands.get(command.commandId);
    expect(platformCommand).toBeDefined();
    expect(command).toMatchObject({
      deviceId: body.deviceId,
      status: kind === 'iotda' ? 'SENT' : 'PENDING',
      serviceId: 'WaterMeter',
      method: 'SET_READ_PERIOD',
      paras: { value: 5, unit: 's' },
    });
    expect(command.history).toHaveLength(1);
    expect(command.history[0]).toMatchObject({
      source: 'dispatch',
      outcome: 'applied',
      status: command.status,
    });
    // timeoutSeconds is the command's deadline too.
    const deadline = new Date(command.deadline).getTime();
    expect(deadline).toBeGreaterThanOrEqual(before + 599_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 601_000);
    expect((await get(command.commandId)).json()).toEqual(command);
    expect(platformCommand?.expireTime).toBe(600);
  });

  it('keeps the platform record as the dispatch entry payload', async () => {
    const response = await dispatch(dispatchBody());
    const { commandId } = response.json<CommandJson>();
    const entry = response.json<CommandJson>().history[0];
    expect(entry.payload).toMatchObject(
      kind === 'iotda' ? { command_id: commandId } : { commandId },
    );
  });

  if (kind === 'oceanconnect') {
    it('gives the platform PUBLIC_URL/callbacks/command-status with the callback token as callbackUrl', async () => {
      const { commandId } = (await dispatch(dispatchBody())).json<CommandJson>();
      expect(platform.emulator.commands.get(commandId)?.callbackUrl).toBe(
        'http://tracker.example:3000/callbacks/command-status?token=callback-token-123456',
      );
      // The platform's record is kept as the payload, without the token API clients could read.
      const stored = (await get(commandId)).body;
      expect(stored).not.toContain('callback-token-123456');
      expect(stored).toContain('/callbacks/command-status?token=[redacted]');
    });
  } else {
    it('sends service_id, command_name, paras, send_strategy and a signed request', async () => {
      const { commandId } = (
        await dispatch(dispatchBody({ sendStrategy: 'delay' }))
      ).json<CommandJson>();
      expect(platform.emulator.commands.get(commandId)).toMatchObject({
        sendStrategy: 'delay',
        status: 'PENDING',
        serviceId: 'WaterMeter',
        method: 'SET_READ_PERIOD',
      });
      const call = platform.emulator.callsOf('create').at(-1);
      expect(call?.headers.authorization).toMatch(/^SDK-HMAC-SHA256 Access=/);
      expect(call?.accessKey).toBeDefined();
    });
  }

  it.each([
    ['deviceId missing', { deviceId: undefined }, 'deviceId'],
    ['serviceId empty', { serviceId: '' }, 'serviceId'],
    ['method not a string', { method: 7 }, 'method'],
    ['paras an array', { paras: [1] }, 'paras'],
    ['paras missing', { paras: undefined }, 'paras'],
    ['timeoutSeconds 0', { timeoutSeconds: 0 }, 'timeoutSeconds'],
    ['timeoutSeconds above 172800', { timeoutSeconds: 172801 }, 'timeoutSeconds'],
    ['sendStrategy unknown', { sendStrategy: 'later' }, 'sendStrategy'],
  ])('answers 400 for %s, calls no platform and stores nothing', async (_name, change, field) => {
    const body = dispatchBody(change);
    const calls = platform.emulator.calls.length;
    const response = await dispatch(body);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors[0].field).toBe(field);
    expect(platform.emulator.calls.length).toBe(calls);
    if (typeof body.deviceId === 'string') {
      expect(await listDevice(body.deviceId)).toEqual([]);
    }
  });

  it('answers 400 for an Idempotency-Key longer than 128 characters', async () => {
    const response = await dispatch(dispatchBody(), { 'idempotency-key': 'k'.repeat(129) });
    expect(response.statusCode).toBe(400);
  });

  it('answers 502 with platformError when the platform refuses, and leaves no command behind', async () => {
    const body = dispatchBody();
    platform.emulator.offline.add(body.deviceId as string);
    const response = await dispatch(body);
    expect(response.statusCode).toBe(502);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({
      status: 502,
      platformError: {
        code: kind === 'iotda' ? 'IOTDA.014016' : '100428',
        message: expect.any(String),
      },
    });
    expect(await listDevice(body.deviceId as string)).toEqual([]);
  });

  it('answers 502 when the platform answers 200 with an error code inside', async () => {
    platform.emulator.failNext('create', {
      kind: 'error-in-200',
      code: '100431',
      message: 'serviceType does not exist',
    });
    const body = dispatchBody();
    const response = await dispatch(body);
    expect(response.statusCode).toBe(502);
    expect(response.json().platformError).toEqual({
      code: '100431',
      message: 'serviceType does not exist',
    });
    expect(await listDevice(body.deviceId as string)).toEqual([]);
  });

  it('answers 504 when the answer is lost, and reconciliation then finds the command by listing the device', async () => {
    platform.emulator.failNext('create', { kind: 'hang', afterEffect: true });
    const body = dispatchBody();
    const started = Date.now();
    const response = await dispatch(body, { 'idempotency-key': `lost-${kind}` });
    expect(response.statusCode).toBe(504);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await listDevice(body.deviceId as string)).toEqual([]);
    const created = [...platform.emulator.commands.values()].filter(
      (command) => command.deviceId === body.deviceId,
    );
    expect(created).toHaveLength(1);

    await platform.app.get(Reconciler).pass();

    const items = await listDevice(body.deviceId as string);
    expect(items.map((item) => item.commandId)).toEqual([created[0].commandId]);
    const found = (await get(created[0].commandId)).json<CommandJson>();
    expect(found).toMatchObject({
      serviceId: 'WaterMeter',
      method: 'SET_READ_PERIOD',
      paras: body.paras,
    });
    expect(found.history.map((entry) => entry.source)).toEqual(['reconcile']);
    // The key now gives the command, still without a second platform call.
    const creates = platform.emulator.callsOf('create').length;
    const again = await dispatch(body, { 'idempotency-key': `lost-${kind}` });
    expect(again.statusCode).toBe(201);
    expect(again.json().commandId).toBe(created[0].commandId);
    expect(platform.emulator.callsOf('create').length).toBe(creates);
  });

  it('does not take another dispatch of the same device and body for a lost one', async () => {
    const body = dispatchBody();
    const first = (await dispatch(body)).json<CommandJson>();
    platform.emulator.failNext('create', { kind: 'hang', afterEffect: true });
    expect((await dispatch(body)).statusCode).toBe(504);
    await platform.app.get(Reconciler).pass();
    const items = await listDevice(body.deviceId as string);
    expect(items).toHaveLength(2);
    expect(items.map((item) => item.commandId)).toContain(first.commandId);
  });

  describe('Idempotency-Key', () => {
    it('gives the first answer again for the same key and body, with no second platform call', async () => {
      const body = dispatchBody();
      const creates = platform.emulator.callsOf('create').length;
      const first = await dispatch(body, { 'idempotency-key': `same-${kind}` });
      const second = await dispatch(body, { 'idempotency-key': `same-${kind}` });
      expect(first.statusCode).toBe(201);
      expect(second.statusCode).toBe(201);
      expect(second.json()).toEqual(first.json());
      expect(platform.emulator.callsOf('create').length).toBe(creates + 1);
    });

    it('gives a refusal again for the same key, with no second platform call', async () => {
      platform.emulator.failNext('create', {
        kind: 'refuse',
        httpStatus: 400,
        code: '100223',
        message: 'Command counts has reached the upLimit',
      });
      const body = dispatchBody();
      const first = await dispatch(body, { 'idempotency-key': `refused-${kind}` });
      const creates = platform.emulator.callsOf('create').length;
      const second = await dispatch(body, { 'idempotency-key': `refused-${kind}` });
      expect(first.statusCode).toBe(502);
      expect(second.statusCode).toBe(502);
      expect(second.json().platformError).toEqual(first.json().platformError);
      expect(platform.emulator.callsOf('create').length).toBe(creates);
    });

    it('answers 422 for the same key with another body, and calls no platform', async () => {
      const body = dispatchBody();
      expect((await dispatch(body, { 'idempotency-key': `other-${kind}` })).statusCode).toBe(201);
      const creates = platform.emulator.callsOf('create').length;
      const response = await dispatch(
        { ...body, paras: { value: 6 } },
        { 'idempotency-key': `other-${kind}` },
      );
      expect(response.statusCode).toBe(422);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(platform.emulator.callsOf('create').length).toBe(creates);
    });

    it('creates one platform command for concurrent requests with the same key, and all get its answer', async () => {
      const body = dispatchBody();
      const creates = platform.emulator.callsOf('create').length;
      const responses = await Promise.all(
        Array.from({ length: 5 }, () =>
          dispatch(body, { 'idempotency-key': `concurrent-${kind}` }),
        ),
      );
      expect(responses.map((response) => response.statusCode)).toEqual([201, 201, 201, 201, 201]);
      expect(new Set(responses.map((response) => response.json().commandId)).size).toBe(1);
      expect(platform.emulator.callsOf('create').length).toBe(creates + 1);
      expect(await listDevice(body.deviceId as string)).toHaveLength(1);
    });
  });

  it('counts platform calls in /metrics by platform, operation and result', async () => {
    await dispatch(dispatchBody());
    const metrics = (await platform.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(
      new RegExp(
        `platform_calls_total\\{platform="${kind}",operation="create",result="ok"\\} [1-9]`,
      ),
    );
    expect(metrics).toMatch(
      new RegExp(
        `platform_calls_total\\{platform="${kind}",operation="create",result="timeout"\\} [1-9]`,
      ),
    );
  });
});

describe('POST /commands/dispatch without a platform', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startPlatformApp({ LOG_LEVEL: 'error' });
  });

  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['POST', '/commands/dispatch', dispatchBody()],
    ['POST', '/commands/some-command/cancel', undefined],
    ['POST', '/commands/some-command/reconcile', undefined],
  ])('answers 501 to %s %s', async (method, url, payload) => {
    const response = await t.app.inject({ method: method as 'POST', url, payload });
    expect(response.statusCode).toBe(501);
    expect(response.headers['content-type']).toContain('application/problem+json');
  });
});
