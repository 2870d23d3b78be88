import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { Reconciler } from '../../src/platform/reconciler.js';
import { DataSource } from 'typeorm';
import { eventuallyDefined } from '../support/eventually.js';
import { type TestApp } from '../support/test-app.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../support/test-database.js';
import {
  IOTDA_KEYS,
  type PlatformKind,
  dispatchBody,
  platformEnv,
  startEmulator,
  startPlatformApp,
  usePlatformApp,
} from '../support/platform.js';

interface CommandJson {
  commandId: string;
  status: string;
  history: { source: string; status: string; outcome: string }[];
}

/** Makes commands look as if their last change was an hour ago. */
async function age(app: NestFastifyApplication, commandIds: string[]): Promise<void> {
  const sql = `UPDATE commands SET updated_at = now() - interval '1 hour' WHERE command_id = ANY($1::text[])`;
  await app.get(DataSource).query(sql, [commandIds]);
}

describe.each<PlatformKind>(['iotda', 'oceanconnect'])('automatic reconciliation on %s', (kind) => {
  const platform = usePlatformApp(kind, {
    env: {
      RECONCILE_INTERVAL_SECONDS: '1',
      RECONCILE_AFTER_SECONDS: '600',
      RECONCILE_RATE: '50',
    },
  });

  const dispatch = async () => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/commands/dispatch',
      payload: dispatchBody(),
    });
    expect(response.statusCode).toBe(201);
    return response.json<CommandJson>().commandId;
  };
  const command = async (commandId: string) =>
    (
      await platform.app.inject({ method: 'GET', url: `/commands/${commandId}` })
    ).json<CommandJson>();

  it('learns, every interval, the status of an open command without news for RECONCILE_AFTER_SECONDS', async () => {
    const commandId = await dispatch();
    await platform.emulator.advance(commandId, 'DELIVERED');
    await age(platform.app, [commandId]);
    const found = await eventuallyDefined('the command is DELIVERED', async () => {
      const current = await command(commandId);
      return current.status === 'DELIVERED' ? current : undefined;
    });
    expect(found.history.at(-1)).toMatchObject({
      source: 'reconcile',
      status: 'DELIVERED',
      outcome: 'applied',
    });
  });

  it('leaves commands with recent news and finished commands alone', async () => {
    const recent = await dispatch();
    const finished = await dispatch();
    await platform.emulator.advance(finished, 'SUCCESSFUL');
    expect(
      (await platform.app.inject({ method: 'POST', url: `/commands/${finished}/reconcile` }))
        .statusCode,
    ).toBe(200);
    await age(platform.app, [finished]);
    await platform.emulator.advance(recent, 'DELIVERED');
    const calls = platform.emulator.calls.length;
    // Two passes run meanwhile: the intervals are 1 s.
    const pass = await platform.app.get(Reconciler).pass();
    expect(pass.checked).toBe(0);
    expect((await command(recent)).status).not.toBe('DELIVERED');
    expect(
      platform.emulator.calls.slice(calls).filter((call) => call.operation !== 'login'),
    ).toEqual([]);
  });

  it('looks each command up once per RECONCILE_AFTER_SECONDS, not on every pass', async () => {
    const commandId = await dispatch();
    await age(platform.app, [commandId]);
    // A lookup that learns nothing adds no history entry: the claim shows the lookup.
    await eventuallyDefined('a pass looked the command up', async () =>
      (
        await platform.app
          .get(DataSource)
          .query(`SELECT 1 FROM command_reconciliations WHERE command_id = $1`, [commandId])
      ).length > 0
        ? true
        : undefined,
    );
    const reconcile = platform.app.get(Reconciler);
    expect((await reconcile.pass()).checked).toBe(0);
  });
});

describe('the reconciliation budget across instances', () => {
  const onServer = serverUrl() !== undefined;
  // Two instances need a database server; the embedded database serves one process.
  const test = onServer ? it : it.skip;
  let emulator: PlatformEmulator;
  let database: TestDatabase | undefined;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: { [IOTDA_KEYS.ak]: IOTDA_KEYS.sk, 'second-instance': IOTDA_KEYS.sk },
    });
    if (onServer) {
      database = await createTestDatabase();
    }
  });

  afterAll(async () => {
    for (const app of apps) {
      await app.close();
    }
    await database?.drop();
    await emulator.close();
  });

  test('holds RECONCILE_RATE platform calls a second for all instances together', async () => {
    const rate = 10;
    const env = (accessKey: string) =>
      platformEnv('iotda', emulator, {
        IOTDA_AK: accessKey,
        RECONCILE_RATE: String(rate),
        RECONCILE_INTERVAL_SECONDS: '1',
        RECONCILE_AFTER_SECONDS: '3600',
      });
    // The first instance dispatches while no pass can find anything stale yet.
    apps.push(await startPlatformApp(env(IOTDA_KEYS.ak), {}, database));
    const commandIds: string[] = [];
    for (let i = 0; i < 60; i++) {
      const response = await apps[0].app.inject({
        method: 'POST',
        url: '/commands/dispatch',
        payload: dispatchBody(),
      });
      commandIds.push(response.json<CommandJson>().commandId);
    }
    apps.push(await startPlatformApp(env('second-instance'), {}, database));
    const shows = () => emulator.callsOf('show');
    await age(apps[0].app, commandIds);

    const target = 45;
    await eventuallyDefined(
      `${target} lookups`,
      async () => (shows().length >= target ? true : undefined),
      20_000,
    );
    const calls = shows().slice(0, target);
    const seconds = (calls[target - 1].at - calls[0].at) / 1000;
    // A bucket of `rate` tokens refilled at `rate` a second: n calls need (n - rate) / rate s.
    expect(seconds).toBeGreaterThanOrEqual((target - rate) / rate - 0.2);
    // Both instances took part, so the bound is on their sum.
    const byInstance = new Set(calls.map((call) => call.accessKey));
    expect(byInstance).toEqual(new Set([IOTDA_KEYS.ak, 'second-instance']));
    // Each command was looked up once.
    expect(new Set(shows().map((call) => call.path)).size).toBe(shows().length);
  }, 40_000);
});
