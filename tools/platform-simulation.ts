// The platform demo (npm run simulate -- --platform iotda|oceanconnect): the service, started
// here on its own database, dispatches commands through the platform emulator; the emulator moves
// each command through its lifecycle and pushes every change back (legacy: to the callbackUrl the
// service gave; IoTDA: to the forwarding URL POST /callbacks/iotda), losing some pushes on purpose;
// reconciliation recovers what was lost. The summary says which source supplied each status.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { type AddressInfo } from 'node:net';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '../src/config/config.js';
import { type EmulatedStatus, PlatformEmulator } from './platform-emulator.js';
import {
  type DispatchPhaseSummary,
  formatDispatchPhase,
  runDispatchPhase,
} from './dispatch-simulation.js';
import { random } from './simulator.js';

export interface PlatformSimulationOptions {
  platform: 'iotda' | 'oceanconnect';
  commands: number;
  /** Share of pushes the emulator loses (0 to 1). */
  loss: number;
  seed: number;
  /** How long to wait for reconciliation to recover the lost pushes. */
  settleTimeoutMs: number;
}

export interface PlatformSimulationSummary {
  platform: string;
  commands: number;
  dispatched: number;
  pushes: { sent: number; lost: number; failed: number };
  /** Applied statuses in the service's histories, by the source that supplied them. */
  appliedBySource: Record<string, number>;
  /** Commands whose status in the service equals the platform's at the end. */
  inStep: number;
  /** The queue part: dispatches through POST /dispatches (undefined when it did not run). */
  queue: DispatchPhaseSummary | undefined;
  elapsedMs: number;
  problems: string[];
}

interface CommandJson {
  commandId: string;
  status: string;
  history: { source: string; outcome: string }[];
}

const CREDENTIALS = {
  ak: 'SIMULATOR-AK',
  sk: 'simulator-secret-key',
  appId: 'simulator-app',
  secret: 'simulator-secret',
};

export async function runPlatformSimulation(
  options: PlatformSimulationOptions,
): Promise<PlatformSimulationSummary> {
  const next = random(options.seed);
  // The forwarding URL names the service's port, known once it listens.
  const iotda = {
    projectId: 'simulator-project',
    credentials: { [CREDENTIALS.ak]: CREDENTIALS.sk },
    forwardingUrl: '',
  };
  const emulator = await PlatformEmulator.start({
    iotda,
    oceanconnect: { appId: CREDENTIALS.appId, secret: CREDENTIALS.secret },
    pushLossRate: options.loss,
    random: next,
  });
  const configFor = (port: number) =>
    loadConfig({
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PGLITE_DATA_DIR: process.env.PGLITE_DATA_DIR ?? 'memory://',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
      CALLBACK_TOKEN: '',
      API_KEYS: '',
      PLATFORM: options.platform,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      IOTDA_ENDPOINT: emulator.url,
      IOTDA_PROJECT_ID: 'simulator-project',
      IOTDA_AK: CREDENTIALS.ak,
      IOTDA_SK: CREDENTIALS.sk,
      OC_BASE_URL: emulator.url,
      OC_APP_ID: CREDENTIALS.appId,
      OC_SECRET: CREDENTIALS.secret,
      PLATFORM_TIMEOUT_MS: '2000',
      RECONCILE_INTERVAL_SECONDS: '1',
      RECONCILE_AFTER_SECONDS: '1',
      RECONCILE_RATE: '100',
      // Offline and throttled dispatches retried within a second or two.
      DISPATCH_RETRY_BASE_SECONDS: '1',
      DISPATCH_RETRY_MAX_SECONDS: '2',
    });
  const { createApp, openDatabase } = await import('../src/app.factory.js');
  const database = await openDatabase(configFor(0));
  let app: NestFastifyApplication | undefined;
  const summary: PlatformSimulationSummary = {
    platform: options.platform,
    commands: options.commands,
    dispatched: 0,
    pushes: emulator.pushes,
    appliedBySource: {},
    inStep: 0,
    queue: undefined,
    elapsedMs: 0,
    problems: [],
  };
  const started = performance.now();
  try {
    // The service's address goes into its configuration (PUBLIC_URL), so the port is chosen
    // first; another process may take it meanwhile, and then the next one is tried.
    let serviceUrl = '';
    for (let attempt = 1; app === undefined; attempt++) {
      const port = await freePort();
      const candidate = await createApp(configFor(port), database);
      try {
        await candidate.listen({ port, host: '127.0.0.1' });
        app = candidate;
        serviceUrl = `http://127.0.0.1:${port}`;
      } catch (error) {
        await candidate.close();
        if (attempt >= 5) {
          throw error;
        }
      }
    }
    iotda.forwardingUrl = `${serviceUrl}/callbacks/iotda`;
    // Keys of this run only: a database kept from an earlier run holds that run's intents, and
    // the same key would replay its commands, which this emulator never saw.
    const run = randomUUID();
    const commandIds: string[] = [];
    for (let i = 0; i < options.commands; i++) {
      const response = await fetch(`${serviceUrl}/commands/dispatch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `simulation-${run}-${i}`,
        },
        body: JSON.stringify({
          deviceId: `sim-device-${Math.floor(next() * 10)}`,
          serviceId: 'WaterMeter',
          method: 'SET_READ_PERIOD',
          paras: { value: i },
        }),
      });
      if (response.status !== 201) {
        summary.problems.push(`dispatch ${i} answered ${response.status}`);
        continue;
      }
      commandIds.push(((await response.json()) as CommandJson).commandId);
      summary.dispatched++;
    }
    // Each command goes through its lifecycle on the platform; every change is pushed, or lost.
    for (const commandId of commandIds) {
      for (const status of lifecycle(options.platform, next)) {
        await emulator.advance(commandId, status, status === 'SUCCESSFUL' ? { value: 1 } : null);
      }
    }
    const settleBy = Date.now() + options.settleTimeoutMs;
    let commands: CommandJson[] = [];
    for (;;) {
      commands = await Promise.all(
        commandIds.map(
          async (commandId) =>
            (await (await fetch(`${serviceUrl}/commands/${commandId}`)).json()) as CommandJson,
        ),
      );
      summary.inStep = commands.filter(
        (command) => command.status === emulator.commands.get(command.commandId)?.status,
      ).length;
      if (summary.inStep === commandIds.length || Date.now() > settleBy) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    for (const command of commands) {
      for (const entry of command.history) {
        if (entry.outcome === 'applied') {
          summary.appliedBySource[entry.source] = (summary.appliedBySource[entry.source] ?? 0) + 1;
        }
      }
      const platformStatus = emulator.commands.get(command.commandId)?.status;
      if (command.status !== platformStatus) {
        summary.problems.push(
          `${command.commandId}: ${command.status} here, ${platformStatus ?? '?'} on the platform`,
        );
      }
    }
    summary.queue = await runDispatchPhase(serviceUrl, emulator, {
      platform: options.platform,
      run,
      settleTimeoutMs: options.settleTimeoutMs,
    });
    summary.problems.push(...summary.queue.problems);
  } finally {
    summary.elapsedMs = performance.now() - started;
    await app?.close();
    await database.embedded?.stop();
    await emulator.close();
  }
  return summary;
}

/** What the device does with a command after it was created: delivered, then a result. */
function lifecycle(platform: 'iotda' | 'oceanconnect', next: () => number): EmulatedStatus[] {
  const statuses: EmulatedStatus[] = platform === 'oceanconnect' ? ['SENT'] : [];
  statuses.push('DELIVERED');
  const end = next();
  statuses.push(end < 0.8 ? 'SUCCESSFUL' : end < 0.9 ? 'FAILED' : 'TIMEOUT');
  return statuses;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function formatPlatformSummary(summary: PlatformSimulationSummary): string {
  const sources = Object.entries(summary.appliedBySource)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([source, count]) => `${source} ${count}`)
    .join(', ');
  const lines = [
    `platform        ${summary.platform}`,
    `commands        ${summary.dispatched} of ${summary.commands} dispatched`,
    `pushes          ${summary.pushes.sent} delivered, ${summary.pushes.lost} lost on purpose, ${summary.pushes.failed} refused or failed`,
    `statuses from   ${sources || '-'}`,
    `in step         ${summary.inStep} of ${summary.dispatched} commands match the platform`,
    ...(summary.queue === undefined ? [] : [formatDispatchPhase(summary.queue)]),
    `elapsed         ${(summary.elapsedMs / 1000).toFixed(1)} s`,
  ];
  for (const problem of summary.problems.slice(0, 20)) {
    lines.push(`  ${problem}`);
  }
  return lines.join('\n');
}
