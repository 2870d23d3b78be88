import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PlatformEmulator } from '../../tools/platform-emulator.js';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { eventually } from '../support/eventually.js';
import { dispatchBody, platformEnv, startEmulator } from '../support/platform.js';
import { type ServiceProcess, ensureBuilt, startService } from '../support/service-process.js';
import {
  type TestDatabase,
  adminQuery,
  createTestDatabase,
  serverUrl,
} from '../support/test-database.js';

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  attempts: { at: string; outcome: string }[];
}

// A fresh embedded database migrates at its first start: slow on a loaded machine.
const STARTUP_MS = 120_000;
// The hung calls wait this long; the leases outlive them by LEASE_MARGIN_SECONDS.
const PLATFORM_TIMEOUT_MS = 8000;
const LEASE_MARGIN_SECONDS = 2;

beforeAll(async () => {
  await ensureBuilt();
}, 120_000);

// The real built service, killed with SIGKILL while its platform calls are in flight.
describe('SIGKILL with dispatches sending', () => {
  let emulator: PlatformEmulator;
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    for (const service of services) {
      await service.kill();
    }
    await emulator.close();
    await database?.drop();
    if (dataDir !== undefined) {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  /** SQL on the database the service uses, while no service runs (the embedded one is a file). */
  const sql = async (text: string): Promise<unknown[]> => {
    if (database !== undefined) {
      return adminQuery(database.url, text);
    }
    const embedded = await EmbeddedPostgres.start(dataDir!);
    try {
      return await adminQuery(embedded.url, text);
    } finally {
      await embedded.stop();
    }
  };

  it('sends each of them once after a restart once their leases ran out: lost calls are found by reconciliation, the rest sent again', async () => {
    emulator = await startEmulator();
    let databaseEnv: Record<string, string>;
    if (serverUrl() !== undefined) {
      database = await createTestDatabase();
      databaseEnv = { DATABASE_URL: database.url };
    } else {
      dataDir = await mkdtemp(join(tmpdir(), 'command-tracker-dispatch-kill-'));
      databaseEnv = { PGLITE_DATA_DIR: dataDir };
    }
    // Three calls reach the platform and their answers never come; two never reach it.
    emulator.failNext('create', { kind: 'hang', afterEffect: true }, 3);
    emulator.failNext('create', { kind: 'hang', afterEffect: false }, 2);
    const first = await startService(
      {
        ...platformEnv('iotda', emulator, {
          PLATFORM_TIMEOUT_MS: String(PLATFORM_TIMEOUT_MS),
          DISPATCH_LEASE_MARGIN_SECONDS: String(LEASE_MARGIN_SECONDS),
          LOG_LEVEL: 'warn',
        }),
        ...databaseEnv,
      },
      STARTUP_MS,
    );
    services.push(first);
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

    const leased = (await sql(
      `SELECT dispatch_id, lease_until FROM dispatches
       WHERE state = 'sending' AND call_started_at IS NOT NULL`,
    )) as { dispatch_id: string; lease_until: Date }[];
    const leaseEnds = new Map(leased.map((row) => [row.dispatch_id, row.lease_until.getTime()]));
    expect(leased).toHaveLength(5);

    const second = await startService(
      {
        ...platformEnv('iotda', emulator, {
          RECONCILE_INTERVAL_SECONDS: '1',
          DISPATCH_LEASE_MARGIN_SECONDS: String(LEASE_MARGIN_SECONDS),
          LOG_LEVEL: 'warn',
        }),
        ...databaseEnv,
      },
      STARTUP_MS,
    );
    services.push(second);
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
