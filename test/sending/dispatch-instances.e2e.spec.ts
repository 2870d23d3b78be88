import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { eventually } from '../support/eventually.js';
import { type TestApp } from '../support/test-app.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../support/test-database.js';
import {
  IOTDA_KEYS,
  dispatchBody,
  platformEnv,
  startEmulator,
  startPlatformApp,
} from '../support/platform.js';

// Two instances need a database server; the embedded database serves one process.
const describeOnServer = serverUrl() !== undefined ? describe : describe.skip;

describeOnServer('two instances draining one queue (PostgreSQL only)', () => {
  let emulator: PlatformEmulator;
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: { [IOTDA_KEYS.ak]: IOTDA_KEYS.sk, 'second-instance': IOTDA_KEYS.sk },
    });
    database = await createTestDatabase();
    for (const accessKey of [IOTDA_KEYS.ak, 'second-instance']) {
      apps.push(
        await startPlatformApp(
          platformEnv('iotda', emulator, { IOTDA_AK: accessKey, DISPATCH_RATE: '1000' }),
          {},
          database,
        ),
      );
    }
  });

  afterAll(async () => {
    for (const app of apps) {
      await app.close();
    }
    await database.drop();
    await emulator.close();
  });

  it('attempts each dispatch once, whichever instance takes it', async () => {
    const count = 120;
    // The devices' commands finish as soon as they are created, so each device's next goes.
    emulator.onCreated = (command) => {
      command.status = 'SUCCESSFUL';
    };
    const ids: string[] = [];
    for (let n = 0; n < count; n++) {
      // Queued through both instances, three dispatches a device.
      const response = await apps[n % 2].app.inject({
        method: 'POST',
        url: '/dispatches',
        payload: dispatchBody({ deviceId: `shared-${n % 40}`, paras: { n } }),
      });
      expect(response.statusCode).toBe(202);
      ids.push(response.json<{ dispatchId: string }>().dispatchId);
    }
    const sentCount = async () =>
      (await apps[0].app.inject({ method: 'GET', url: '/dispatches?state=sent&limit=500' })).json<{
        items: unknown[];
      }>().items.length;
    await eventually(
      async () => (await sentCount()) === count,
      60_000,
      () => 'every dispatch sent',
      200,
    );
    const creates = emulator.callsOf('create');
    expect(creates).toHaveLength(count);
    const made = [...emulator.commands.values()].map(
      (command) => (command.paras as { n: number }).n,
    );
    expect(made.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, n) => n));
    expect(new Set(creates.map((call) => call.accessKey))).toEqual(
      new Set([IOTDA_KEYS.ak, 'second-instance']),
    );
  }, 90_000);
});

describeOnServer('two instances sharing DISPATCH_RATE (PostgreSQL only)', () => {
  const RATE = 20;
  const COUNT = 200;
  let emulator: PlatformEmulator;
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: { [IOTDA_KEYS.ak]: IOTDA_KEYS.sk, 'second-instance': IOTDA_KEYS.sk },
    });
    database = await createTestDatabase();
    for (const accessKey of [IOTDA_KEYS.ak, 'second-instance']) {
      apps.push(
        await startPlatformApp(
          platformEnv('iotda', emulator, { IOTDA_AK: accessKey, DISPATCH_RATE: String(RATE) }),
          {},
          database,
        ),
      );
    }
  });

  afterAll(async () => {
    for (const app of apps) {
      await app.close();
    }
    await database.drop();
    await emulator.close();
  });

  it('makes no more than DISPATCH_RATE calls a second together', async () => {
    // All due at one moment, each on a device of its own: only the rate holds them back.
    const notBefore = new Date(Date.now() + 3000).toISOString();
    for (let n = 0; n < COUNT; n++) {
      const response = await apps[n % 2].app.inject({
        method: 'POST',
        url: '/dispatches',
        payload: dispatchBody({ deviceId: `rated-${n}`, notBefore }),
      });
      expect(response.statusCode).toBe(202);
    }
    await eventually(
      () => emulator.callsOf('create').length === COUNT,
      120_000,
      () => `every dispatch sent (${emulator.callsOf('create').length})`,
      200,
    );
    const creates = emulator.callsOf('create');
    expect(new Set(creates.map((call) => call.accessKey))).toEqual(
      new Set([IOTDA_KEYS.ak, 'second-instance']),
    );
    // The shared budget holds at most one second's calls at the start, then refills at RATE.
    const times = creates.map((call) => call.at).sort((a, b) => a - b);
    const seconds = (times.at(-1)! - times[0]) / 1000;
    expect((COUNT - 1 - RATE) / seconds).toBeLessThanOrEqual(RATE * 1.1);
    const made = [...emulator.commands.values()].map((command) => command.deviceId);
    expect(new Set(made).size).toBe(COUNT);
  }, 180_000);
});
