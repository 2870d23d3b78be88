// The queue part of the platform demo (npm run simulate -- --platform ...): dispatches through
// POST /dispatches to devices of which some are offline for a while, with the platform throttling
// the first calls (429) and, on IoTDA, synchronous commands to MQTT devices, one of which answers
// with a failure. Every dispatch must end sent, each device's in creation order, none twice.
import { setTimeout as sleep } from 'node:timers/promises';
import { type PlatformEmulator } from './platform-emulator.js';

export interface DispatchPhaseSummary {
  dispatches: number;
  /** Dispatches by their final (or last seen) state. */
  states: Record<string, number>;
  /** Attempts by outcome, over every dispatch. */
  attempts: Record<string, number>;
  /** Synchronous dispatches' commands by status. */
  sync: Record<string, number>;
  /** Commands the platform received for these devices. */
  created: number;
  problems: string[];
}

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  mode: string;
  commandId: string | null;
  attempts: { outcome: string }[];
}

const ASYNC_DEVICES = 6;
const OFFLINE_DEVICES = 2;
const PER_DEVICE = 3;
const SYNC_DEVICES = 3;
const OFFLINE_MS = 3000;

export async function runDispatchPhase(
  serviceUrl: string,
  emulator: PlatformEmulator,
  options: { platform: 'iotda' | 'oceanconnect'; run: string; settleTimeoutMs: number },
): Promise<DispatchPhaseSummary> {
  const summary: DispatchPhaseSummary = {
    dispatches: 0,
    states: {},
    attempts: {},
    sync: {},
    created: 0,
    problems: [],
  };
  const prefix = `queue-${options.run.slice(0, 8)}`;
  const asyncDevices = Array.from({ length: ASYNC_DEVICES }, (_, i) => `${prefix}-${i}`);
  const syncDevices =
    options.platform === 'iotda'
      ? Array.from({ length: SYNC_DEVICES }, (_, i) => `${prefix}-mqtt-${i}`)
      : [];
  const failingSync = syncDevices.at(-1);
  // Each device ends its asynchronous command a moment after it was created, so its next goes.
  emulator.onCreated = (command) => {
    if (command.sendStrategy !== 'sync' && command.deviceId.startsWith(prefix)) {
      setTimeout(() => {
        void emulator.advance(command.commandId, 'SUCCESSFUL', { code: 0 }).catch(() => undefined);
      }, 100).unref();
    }
  };
  emulator.syncAnswer = (deviceId) => ({
    response: { result_code: deviceId === failingSync ? 1 : 0, paras: { device: deviceId } },
  });
  const offline = asyncDevices.slice(0, OFFLINE_DEVICES);
  for (const deviceId of offline) {
    emulator.offline.add(deviceId);
  }
  setTimeout(() => offline.forEach((deviceId) => emulator.offline.delete(deviceId)), OFFLINE_MS);
  // The platform's flow control refuses the first two calls.
  emulator.failNext(
    'create',
    {
      kind: 'refuse',
      httpStatus: 429,
      code: 'APIGW.0308',
      message: 'The throttling threshold has been reached',
    },
    2,
  );

  const queue = async (body: Record<string, unknown>) => {
    const response = await fetch(`${serviceUrl}/dispatches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', ...body }),
    });
    if (response.status !== 202) {
      summary.problems.push(`POST /dispatches answered ${response.status}`);
      return;
    }
    summary.dispatches++;
  };
  for (let n = 0; n < PER_DEVICE; n++) {
    for (const deviceId of asyncDevices) {
      await queue({ deviceId, paras: { n } });
    }
  }
  for (const deviceId of syncDevices) {
    await queue({ deviceId, mode: 'sync', paras: { n: 0 } });
  }

  const devices = [...asyncDevices, ...syncDevices];
  const settleBy = Date.now() + options.settleTimeoutMs;
  let dispatches: DispatchJson[];
  for (;;) {
    dispatches = (
      await Promise.all(
        devices.map(
          async (deviceId) =>
            (
              (await (
                await fetch(`${serviceUrl}/dispatches?deviceId=${deviceId}&limit=100`)
              ).json()) as { items: DispatchJson[] }
            ).items,
        ),
      )
    ).flat();
    const open = dispatches.filter((d) => d.state === 'queued' || d.state === 'sending');
    if (open.length === 0 || Date.now() > settleBy) {
      break;
    }
    await sleep(250);
  }
  emulator.onCreated = undefined;

  for (const dispatch of dispatches) {
    summary.states[dispatch.state] = (summary.states[dispatch.state] ?? 0) + 1;
    for (const attempt of dispatch.attempts) {
      summary.attempts[attempt.outcome] = (summary.attempts[attempt.outcome] ?? 0) + 1;
    }
    if (dispatch.mode === 'sync' && dispatch.commandId !== null) {
      const command = (await (
        await fetch(`${serviceUrl}/commands/${dispatch.commandId}`)
      ).json()) as { status: string };
      summary.sync[command.status] = (summary.sync[command.status] ?? 0) + 1;
    }
  }
  const created = [...emulator.commands.values()]
    .filter((command) => command.deviceId.startsWith(prefix))
    .sort((a, b) => a.sequence - b.sequence);
  summary.created = created.length;

  if (summary.states.sent !== summary.dispatches) {
    summary.problems.push(
      `${summary.states.sent ?? 0} of ${summary.dispatches} dispatches sent: ${JSON.stringify(summary.states)}`,
    );
  }
  if (summary.created !== summary.dispatches) {
    summary.problems.push(
      `${summary.created} commands on the platform for ${summary.dispatches} dispatches`,
    );
  }
  if ((summary.attempts.offline ?? 0) === 0) {
    summary.problems.push('no offline attempt: the offline devices were not retried');
  }
  if ((summary.attempts.throttled ?? 0) === 0) {
    summary.problems.push('no throttled attempt: the 429s were not retried');
  }
  for (const deviceId of asyncDevices) {
    const order = created
      .filter((command) => command.deviceId === deviceId)
      .map((command) => (command.paras as { n: number }).n);
    if (order.join() !== Array.from({ length: PER_DEVICE }, (_, n) => n).join()) {
      summary.problems.push(`${deviceId}: sent in the order ${order.join()}`);
    }
  }
  if (syncDevices.length > 0 && (summary.sync.SUCCESSFUL !== 2 || summary.sync.FAILED !== 1)) {
    summary.problems.push(
      `synchronous commands ended ${JSON.stringify(summary.sync)}, not 2 SUCCESSFUL and 1 FAILED`,
    );
  }
  return summary;
}

export function formatDispatchPhase(summary: DispatchPhaseSummary): string {
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => `${key} ${count}`)
      .join(', ') || '-';
  return [
    `queued          ${summary.dispatches} dispatches through /dispatches (some devices offline, 429s)`,
    `dispatches      ${counts(summary.states)}`,
    `attempts        ${counts(summary.attempts)}`,
    `sync commands   ${counts(summary.sync)}`,
  ].join('\n');
}
