import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { IotdaClient } from '../../src/platform/iotda.client.js';
import { OceanConnectClient } from '../../src/platform/oceanconnect.client.js';
import {
  type CallResult,
  type DispatchRequest,
  PlatformRefusedError,
  PlatformTimeoutError,
  PlatformUnreachableError,
} from '../../src/platform/platform-client.js';
import { IOTDA_KEYS, platformConfig, startEmulator } from '../support/platform.js';

const request: DispatchRequest = {
  deviceId: 'device-1',
  serviceId: 'WaterMeter',
  method: 'SET_READ_PERIOD',
  paras: { value: 5 },
  timeoutSeconds: undefined,
  sendStrategy: 'immediately',
};

describe('legacy OceanConnect client', () => {
  let emulator: PlatformEmulator;
  let clock: number;
  const results: CallResult[] = [];

  beforeEach(async () => {
    emulator = await startEmulator({ tokenLifetimeSeconds: 3600 });
    clock = Date.now();
    results.length = 0;
  });

  afterEach(async () => {
    await emulator.close();
  });

  const client = (timeoutMs = 2000) => {
    const config = platformConfig('oceanconnect', emulator);
    return new OceanConnectClient(
      config,
      timeoutMs,
      (_operation, result) => results.push(result),
      () => clock,
    );
  };

  it('logs in once with a form for concurrent first calls (single flight), then sends app_key and Bearer', async () => {
    const oc = client();
    await Promise.all(Array.from({ length: 5 }, () => oc.create(request)));
    expect(emulator.logins).toBe(1);
    const login = emulator.callsOf('login')[0];
    expect(login.headers['content-type']).toBe('application/x-www-form-urlencoded');
    for (const call of emulator.callsOf('create')) {
      expect(call.headers.app_key).toBe('test-app-id');
      expect(call.headers.authorization).toMatch(/^Bearer [0-9a-f]{32}$/);
    }
  });

  it('renews the token before it expires, without a refused call', async () => {
    const oc = client();
    await oc.create(request);
    clock += 3590 * 1000;
    await oc.create(request);
    expect(emulator.logins).toBe(2);
    expect(results.filter((result) => result !== 'ok')).toEqual([]);
  });

  it('logs in again once when concurrent calls meet a rejected token, and repeats each call once', async () => {
    const oc = client();
    await oc.create(request);
    emulator.revokeTokens();
    const commands = await Promise.all(Array.from({ length: 5 }, () => oc.create(request)));
    expect(commands).toHaveLength(5);
    expect(emulator.logins).toBe(2);
  });

  it('gives up after one renewal when the platform keeps rejecting the token', async () => {
    const oc = client();
    await oc.create(request);
    emulator.failNext(
      'create',
      { kind: 'refuse', httpStatus: 403, code: '1010005', message: 'Invalid access token' },
      2,
    );
    await expect(oc.create(request)).rejects.toMatchObject({ code: '1010005' });
    expect(emulator.logins).toBe(2);
  });

  it('takes an error code inside a 200 answer as a refusal', async () => {
    emulator.offline.add('device-1');
    const error: unknown = await client()
      .create(request)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PlatformRefusedError);
    expect(error).toMatchObject({ code: '100428', httpStatus: 200 });
  });

  it('refuses to log in with a wrong secret, and the error holds no secret', async () => {
    const config = platformConfig('oceanconnect', emulator, { OC_SECRET: 'wrong-secret-value' });
    const error: unknown = await new OceanConnectClient(config, 2000, () => undefined)
      .create(request)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PlatformRefusedError);
    expect(JSON.stringify(error) + String(error)).not.toContain('wrong-secret-value');
  });

  it('bounds every call by the timeout', async () => {
    emulator.failNext('create', { kind: 'hang', afterEffect: false });
    const oc = client(200);
    const started = Date.now();
    await expect(oc.create(request)).rejects.toBeInstanceOf(PlatformTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(results).toContain('timeout');
  });

  it('reports an unreachable platform as such', async () => {
    const config = platformConfig('oceanconnect', emulator, { OC_BASE_URL: 'http://127.0.0.1:1' });
    await expect(
      new OceanConnectClient(config, 2000, () => undefined).create(request),
    ).rejects.toBeInstanceOf(PlatformUnreachableError);
  });

  it('finds a command by device and time window', async () => {
    const oc = client();
    const created = await oc.create(request);
    await oc.create({ ...request, deviceId: 'device-2' });
    const found = await oc.show({
      commandId: created.commandId,
      deviceId: 'device-1',
      createdAt: new Date(),
    });
    expect(found).toMatchObject({
      commandId: created.commandId,
      status: 'PENDING',
      serviceId: 'WaterMeter',
    });
    const list = emulator.callsOf('list').at(-1);
    expect(list?.path).toBe('/iocm/app/cmd/v1.4.0/deviceCommands');
  });
});

describe('IoTDA client', () => {
  let emulator: PlatformEmulator;

  afterEach(async () => {
    await emulator.close();
  });

  it.each([
    ['SDK-HMAC-SHA256 without a region', undefined, /^SDK-HMAC-SHA256 Access=/],
    [
      'V11-HMAC-SHA256 with IOTDA_REGION',
      'cn-north-4',
      /^V11-HMAC-SHA256 Credential=AKTESTACCESSKEY0001\/\d{8}\/cn-north-4\/iotda, /,
    ],
  ])(
    'signs with %s, accepted by the emulator, and sends Instance-Id',
    async (_name, region, algorithm) => {
      emulator = await startEmulator({ region });
      const config = platformConfig('iotda', emulator, {
        IOTDA_INSTANCE_ID: 'instance-7',
        ...(region === undefined ? {} : { IOTDA_REGION: region }),
      });
      const iotda = new IotdaClient(config, 2000, () => undefined);
      const created = await iotda.create(request);
      expect(
        await iotda.show({ commandId: created.commandId, deviceId: 'device-1' }),
      ).toMatchObject({ status: 'SENT' });
      const call = emulator.callsOf('create')[0];
      expect(call.accessKey).toBe(IOTDA_KEYS.ak);
      expect(call.headers['instance-id']).toBe('instance-7');
      expect(call.headers.authorization).toMatch(algorithm);
      expect(call.path).toBe('/v5/iot/project-1/devices/device-1/async-commands');
    },
  );

  it('is refused by the platform when it signs with the wrong secret key', async () => {
    emulator = await startEmulator();
    const config = platformConfig('iotda', emulator, { IOTDA_SK: 'not-the-secret' });
    await expect(
      new IotdaClient(config, 2000, () => undefined).create(request),
    ).rejects.toMatchObject({
      code: 'APIGW.0301',
      httpStatus: 401,
    });
  });

  it('lists the queue and the history of a device', async () => {
    emulator = await startEmulator();
    const config = platformConfig('iotda', emulator);
    const iotda = new IotdaClient(config, 2000, () => undefined);
    const since = new Date(Date.now() - 60_000);
    const open = await iotda.create(request);
    const done = await iotda.create(request);
    await emulator.advance(done.commandId, 'SUCCESSFUL', { code: 200 });
    const recent = await iotda.recent('device-1', since);
    expect(recent.map((command) => command.commandId).sort()).toEqual(
      [open.commandId, done.commandId].sort(),
    );
    expect(emulator.callsOf('list').map((call) => call.path)).toEqual([
      '/v5/iot/project-1/devices/device-1/async-commands',
      '/v5/iot/project-1/devices/device-1/async-commands-history',
    ]);
  });
});
