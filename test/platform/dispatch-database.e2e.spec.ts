import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { Reconciler } from '../../src/platform/reconciler.js';
import { eventuallyDefined } from '../support/eventually.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { type TestApp } from '../support/test-app.js';
import { type TestDatabase, createTestDatabase } from '../support/test-database.js';
import { dispatchBody, platformEnv, startEmulator, startPlatformApp } from '../support/platform.js';

describe('dispatch while the database is unavailable', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let emulator: PlatformEmulator;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await FaultProxy.start(database.url);
    emulator = await startEmulator();
    t = await startPlatformApp(
      platformEnv('iotda', emulator),
      {},
      { ...database, url: proxy.url(database.url), drop: async () => {} },
    );
  });

  afterEach(async () => {
    emulator.onCreated = undefined;
    await proxy.restore();
  });

  afterAll(async () => {
    await t.close();
    await proxy.close();
    await emulator.close();
    await database.drop();
  });

  const dispatch = (body: object) =>
    t.app.inject({ method: 'POST', url: '/commands/dispatch', payload: body });

  it('answers 503 with Retry-After and calls no platform when the intent cannot be recorded', async () => {
    proxy.refuse();
    const creates = emulator.callsOf('create').length;
    const response = await dispatch(dispatchBody());
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(emulator.callsOf('create').length).toBe(creates);
  });

  it('tracks a command the platform created while the database went away, once it is back', async () => {
    const body = dispatchBody();
    emulator.onCreated = () => proxy.cut();
    const response = await dispatch(body);
    expect(response.statusCode).toBe(503);
    await proxy.restore();
    const created = [...emulator.commands.values()].find(
      (command) => command.deviceId === body.deviceId,
    );
    expect(created).toBeDefined();
    // The dispatch is taken as lost once its platform call could no longer be running.
    const reconciler = t.app.get(Reconciler);
    await eventuallyDefined(
      'a pass finds the lost dispatch',
      async () => ((await reconciler.pass()).found > 0 ? true : undefined),
      15_000,
    );
    const command = await t.app.inject({
      method: 'GET',
      url: `/commands/${created?.commandId ?? ''}`,
    });
    expect(command.statusCode).toBe(200);
    expect(command.json()).toMatchObject({ deviceId: body.deviceId, serviceId: 'WaterMeter' });
  }, 30_000);
});
