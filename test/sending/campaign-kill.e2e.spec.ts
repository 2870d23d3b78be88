import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { eventually } from '../support/eventually.js';
import { platformEnv, startEmulator } from '../support/platform.js';
import { RestartedServices } from '../support/service-process.js';

interface CampaignJson {
  campaignId: string;
  state: string;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
}

const DEVICES = 40;

// The real built service running a campaign, killed with SIGKILL mid-way with calls in flight.
describe('SIGKILL mid-campaign', () => {
  let emulator: PlatformEmulator;
  let services: RestartedServices;

  beforeAll(async () => {
    services = await RestartedServices.create('campaign-kill');
  }, 120_000);

  afterAll(async () => {
    await services?.close();
    await emulator?.close();
  });

  it('completes after a restart with every device sent exactly once', async () => {
    emulator = await startEmulator();
    // Each device finishes its command at once, so the campaign can complete.
    emulator.onCreated = (command) => {
      command.status = 'SUCCESSFUL';
    };
    const env = platformEnv('iotda', emulator, {
      PLATFORM_TIMEOUT_MS: '8000',
      DISPATCH_LEASE_MARGIN_SECONDS: '2',
      RECONCILE_INTERVAL_SECONDS: '1',
      LOG_LEVEL: 'warn',
    });
    const first = await services.start(env);
    const devices = Array.from({ length: DEVICES }, (_, n) => `campaign-killed-${n}`);
    const created = await fetch(`${first.url}/campaigns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'killed mid-way',
        command: { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 5 } },
        devices,
        ratePerMinute: 600,
      }),
    });
    expect(created.status).toBe(201);
    const { campaignId } = (await created.json()) as CampaignJson;

    await eventually(
      () => emulator.callsOf('create').length >= 10,
      30_000,
      () => `ten calls (${emulator.callsOf('create').length})`,
      10,
    );
    // The next two calls reach the platform and their answers never come: in flight at the kill.
    emulator.failNext('create', { kind: 'hang', afterEffect: true }, 2);
    await eventually(
      () => emulator.callsOf('create').length >= 12,
      30_000,
      () => 'two hung calls',
      10,
    );
    await first.kill();
    const madeBefore = emulator.commands.size;
    expect(madeBefore).toBeLessThan(DEVICES);

    const second = await services.start(env);
    let last: CampaignJson | undefined;
    await eventually(
      async () => {
        last = (await (
          await fetch(`${second.url}/campaigns/${campaignId}`)
        ).json()) as CampaignJson;
        return last.state === 'completed';
      },
      90_000,
      () => `the campaign completed: ${JSON.stringify(last)}`,
      250,
    );
    expect(last?.dispatches.sent).toBe(DEVICES);
    expect(last?.commands.SUCCESSFUL).toBe(DEVICES);
    const perDevice = new Map<string, number>();
    for (const command of emulator.commands.values()) {
      perDevice.set(command.deviceId, (perDevice.get(command.deviceId) ?? 0) + 1);
    }
    expect([...perDevice.keys()].sort()).toEqual([...devices].sort());
    expect([...perDevice.values()].every((count) => count === 1)).toBe(true);
  }, 400_000);
});
