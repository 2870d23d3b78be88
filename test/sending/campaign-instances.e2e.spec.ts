import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { eventually } from '../support/eventually.js';
import { IOTDA_KEYS, platformEnv, startEmulator } from '../support/platform.js';
import { type ServiceProcess, ensureBuilt, startService } from '../support/service-process.js';
import {
  type TestDatabase,
  adminQuery,
  createTestDatabase,
  serverUrl,
} from '../support/test-database.js';

interface CampaignJson {
  campaignId: string;
  state: string;
  dispatches: Record<string, number>;
}

// Two processes need a database server; the embedded database serves one process.
const describeOnServer = serverUrl() !== undefined ? describe : describe.skip;

const DEVICES = 240;
const RATE_PER_MINUTE = 1200;

describeOnServer('two instances sharing one campaign (PostgreSQL only)', () => {
  let emulator: PlatformEmulator;
  let database: TestDatabase;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    emulator = await startEmulator({
      credentials: { [IOTDA_KEYS.ak]: IOTDA_KEYS.sk, 'second-instance': IOTDA_KEYS.sk },
    });
    // Each device finishes its command at once, so the campaign can complete.
    emulator.onCreated = (command) => {
      command.status = 'SUCCESSFUL';
    };
    database = await createTestDatabase();
    for (const accessKey of [IOTDA_KEYS.ak, 'second-instance']) {
      services.push(
        await startService(
          {
            ...platformEnv('iotda', emulator, { IOTDA_AK: accessKey, LOG_LEVEL: 'warn' }),
            DATABASE_URL: database.url,
          },
          120_000,
        ),
      );
    }
  }, 300_000);

  afterAll(async () => {
    for (const service of services) {
      await service.kill();
    }
    await database?.drop();
    await emulator?.close();
  });

  it('releases at ratePerMinute together (within 10 %), each device sent once', async () => {
    const devices = Array.from({ length: DEVICES }, (_, n) => `paced-${n}`);
    const created = await fetch(`${services[0].url}/campaigns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'shared pace',
        command: { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 5 } },
        devices,
        ratePerMinute: RATE_PER_MINUTE,
      }),
    });
    expect(created.status).toBe(201);
    const { campaignId } = (await created.json()) as CampaignJson;
    let last: CampaignJson | undefined;
    await eventually(
      async () => {
        last = (await (
          await fetch(`${services[1].url}/campaigns/${campaignId}`)
        ).json()) as CampaignJson;
        return last.state === 'completed';
      },
      120_000,
      () => `the campaign completed: ${JSON.stringify(last)}`,
      250,
    );

    // The pace from the database's own release times: releases after the first, over the time
    // from the first to the last (the budget starts with one token).
    const [span] = await adminQuery<{ n: string; seconds: number }>(
      database.url,
      `SELECT count(*)::text AS n,
              EXTRACT(EPOCH FROM max(released_at) - min(released_at))::float8 AS seconds
       FROM dispatches WHERE campaign_id = $1`,
      [campaignId],
    );
    expect(Number(span.n)).toBe(DEVICES);
    const perMinute = ((DEVICES - 1) / span.seconds) * 60;
    expect(perMinute).toBeGreaterThanOrEqual(RATE_PER_MINUTE * 0.9);
    expect(perMinute).toBeLessThanOrEqual(RATE_PER_MINUTE * 1.1);

    // Both instances sent, and no device got two commands.
    const creates = emulator.callsOf('create');
    expect(creates).toHaveLength(DEVICES);
    expect(new Set(creates.map((call) => call.accessKey))).toEqual(
      new Set([IOTDA_KEYS.ak, 'second-instance']),
    );
    const made = [...emulator.commands.values()].map((command) => command.deviceId);
    expect(made.sort()).toEqual([...devices].sort());
  }, 200_000);
});
