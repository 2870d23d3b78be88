// The platform demo (npm run simulate -- --platform iotda|oceanconnect): the service, started
// here on its own database, dispatches commands through the platform emulator; the emulator moves
// each command through its lifecycle and pushes every change back (legacy: to the callbackUrl the
// service gave; IoTDA: to the forwarding URL POST /callbacks/iotda), losing some pushes on purpose;
// reconciliation recovers what was lost. The summary says which source supplied each status.
import { randomUUID } from 'node:crypto';
import { type EmulatedStatus } from './platform-emulator.js';
import {
  type DispatchPhaseSummary,
  formatDispatchPhase,
  runDispatchPhase,
} from './dispatch-simulation.js';
import { startSimulatedService } from './simulated-service.js';
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

export async function runPlatformSimulation(
  options: PlatformSimulationOptions,
): Promise<PlatformSimulationSummary> {
  const next = random(options.seed);
  const started = performance.now();
  const service = await startSimulatedService({
    platform: options.platform,
    emulator: { pushLossRate: options.loss, random: next },
    env: {
      RECONCILE_INTERVAL_SECONDS: '1',
      RECONCILE_AFTER_SECONDS: '1',
      RECONCILE_RATE: '100',
      // Offline and throttled dispatches retried within a second or two.
      DISPATCH_RETRY_BASE_SECONDS: '1',
      DISPATCH_RETRY_MAX_SECONDS: '2',
    },
  });
  const { emulator, url: serviceUrl } = service;
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
  try {
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
    await service.close();
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
