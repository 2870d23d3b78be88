import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { eventually } from '../support/eventually.js';
import { dispatchBody, platformEnv, startEmulator } from '../support/platform.js';
import { RestartedServices } from '../support/service-process.js';

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  attempts: { at: string; outcome: string }[];
}

// The hung calls wait this long; the leases outlive them by LEASE_MARGIN_SECONDS.
const PLATFORM_TIMEOUT_MS = 8000;
const LEASE_MARGIN_SECONDS = 2;

// The real built service, killed with SIGKILL while its platform calls are in flight.
describe('SIGKILL with dispatches sending', () => {
  let emulator: PlatformEmulator;
  let services: RestartedServices;

  beforeAll(async () => {
    services = await RestartedServices.create('dispatch-kill');
  }, 120_000);

  afterAll(async () => {
    await services?.close();
    await emulator?.close();
  });

  it('sends each of them once after a restart once their leases ran out: lost calls are found by reconciliation, the rest sent again', async () => {
    emulator = await startEmulator();
    // Three calls reach the platform and their answers never come; two never reach it.
    emulator.failNext('create', { kind: 'hang', afterEffect: true }, 3);
    emulator.failNext('create', { kind: 'hang', afterEffect: false }, 2);
    const first = await services.start(
      platformEnv('iotda', emulator, {
        PLATFORM_TIMEOUT_MS: String(PLATFORM_TIMEOUT_MS),
        DISPATCH_LEASE_MARGIN_SECONDS: String(LEASE_MARGIN_SECONDS),
        LOG_LEVEL: 'warn',
      }),
    );
    const devices = Array.from({ length: 5 }, (_, n) => `killed-${n}`);
    for (const deviceId of devices) {
      const response = await fetch(`${first.url}/dispatches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(dispatchBody({ deviceId })),
      });
      expect(response.status).toBe(202);
    }
    await eventually(
      () => emulator.callsOf('create').length === 5,
      20_000,
      () => `five calls (${emulator.callsOf('create').length}): ${first.output().slice(-3000)}`,
      10,
    );
    // SIGKILL while the five calls hang (PLATFORM_TIMEOUT_MS): no attempt is recorded.
    await first.kill();

    const leased = await services.query<{ dispatch_id: string; lease_until: Date }>(
      `SELECT dispatch_id, lease_until FROM dispatches
       WHERE state = 'sending' AND call_started_at IS NOT NULL`,
    );
    const leaseEnds = new Map(leased.map((row) => [row.dispatch_id, row.lease_until.getTime()]));
    expect(leased).toHaveLength(5);

    const second = await services.start(
      platformEnv('iotda', emulator, {
        RECONCILE_INTERVAL_SECONDS: '1',
        DISPATCH_LEASE_MARGIN_SECONDS: String(LEASE_MARGIN_SECONDS),
        LOG_LEVEL: 'warn',
      }),
    );
    const list = async () =>
      (
        (await (await fetch(`${second.url}/dispatches?limit=10`)).json()) as {
          items: DispatchJson[];
        }
      ).items;
    await eventually(
      async () => (await list()).every((dispatch) => dispatch.state === 'sent'),
      40_000,
      () => 'every dispatch sent',
      250,
    );
    for (const deviceId of devices) {
      const made = [...emulator.commands.values()].filter(
        (command) => command.deviceId === deviceId,
      );
      expect(made).toHaveLength(1);
    }
    // Three calls reached the platform before the kill; only the two that did not are made again.
    expect(emulator.callsOf('create')).toHaveLength(7);
    // Taken up by the sweep only once its lease ran out, not at the restart.
    for (const dispatch of await list()) {
      expect(dispatch.attempts[0].outcome).toBe('lost');
      expect(Date.parse(dispatch.attempts[0].at)).toBeGreaterThanOrEqual(
        leaseEnds.get(dispatch.dispatchId) ?? Infinity,
      );
      expect(
        dispatch.attempts.filter((attempt) => attempt.outcome === 'sent').length,
      ).toBeLessThanOrEqual(1);
    }
  }, 400_000);
});
