// The campaign demo (npm run simulate -- --platform iotda|oceanconnect --campaign N): the service,
// started here on its own database, runs two campaigns of N devices through the platform
// emulator, whose devices answer each command SUCCESSFUL or FAILED. In the first, few devices
// fail: its canary passes and it completes. In the second, most devices after the canary fail:
// its abort threshold trips and its queued dispatches are canceled.
import { setTimeout as sleep } from 'node:timers/promises';
import { startSimulatedService } from './simulated-service.js';

export interface CampaignSimulationOptions {
  platform: 'iotda' | 'oceanconnect';
  devices: number;
  /** Where the progress lines go (standard output by default). */
  log?: (line: string) => void;
}

export interface CampaignJson {
  campaignId: string;
  state: string;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
  abortReason: string | null;
}

export interface CampaignSimulationResult {
  /** The campaign whose canary passes, as it ended. */
  passing: CampaignJson | undefined;
  /** The campaign whose abort threshold trips, as it ended. */
  aborting: CampaignJson | undefined;
  /** None when the canary passed and the abort tripped. */
  problems: string[];
}

/** Runs both campaigns, and says how each ended. */
export async function runCampaignSimulation(
  options: CampaignSimulationOptions,
): Promise<CampaignSimulationResult> {
  const failing = new Set<string>();
  const log = options.log ?? ((line: string) => console.log(line));
  const { emulator, url, close } = await startSimulatedService({ platform: options.platform });
  // Each device answers a moment after its command is created.
  emulator.onCreated = (command) => {
    setTimeout(() => {
      void emulator
        .advance(command.commandId, failing.has(command.deviceId) ? 'FAILED' : 'SUCCESSFUL', {
          code: failing.has(command.deviceId) ? 1 : 0,
        })
        .catch(() => undefined);
    }, 200).unref();
  };
  const result: CampaignSimulationResult = {
    passing: undefined,
    aborting: undefined,
    problems: [],
  };
  const problems = result.problems;
  try {
    const run = Math.random().toString(36).slice(2, 8);
    const devicesOf = (name: string) =>
      Array.from({ length: options.devices }, (_, i) => `${name}-${run}-${i}`);
    const canary = Math.max(5, Math.floor(options.devices / 10));

    // 1: one device in twenty fails, none of the canary: the canary passes and it completes.
    const healthy = devicesOf('healthy');
    healthy.forEach((id, i) => i >= canary && i % 20 === 0 && failing.add(id));
    const first = await runCampaign(url, 'canary passes', healthy, canary, log);
    result.passing = first;
    if (first.state !== 'completed') {
      problems.push(`the first campaign ended ${first.state}, not completed`);
    }

    // 2: the canary succeeds, then most devices fail: the abort threshold trips.
    const failing2 = devicesOf('faulty');
    failing2.forEach((id, i) => i >= canary && i % 4 !== 0 && failing.add(id));
    const second = await runCampaign(url, 'abort trips', failing2, canary, log);
    result.aborting = second;
    if (second.state !== 'aborted' || (second.dispatches.canceled ?? 0) === 0) {
      problems.push(
        `the second campaign ended ${second.state}, not aborted with dispatches canceled`,
      );
    }
  } finally {
    await close();
  }
  return result;
}

async function runCampaign(
  url: string,
  name: string,
  devices: string[],
  canary: number,
  log: (line: string) => void,
): Promise<CampaignJson> {
  // About ten seconds a campaign (at most 1,200 a minute): slow enough that a tripped abort
  // still finds dispatches queued to cancel, also with few devices.
  const ratePerMinute = Math.min(1200, devices.length * 6);
  const response = await fetch(`${url}/campaigns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name,
      command: { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 5 } },
      devices,
      ratePerMinute,
      canary: { devices: canary, minSuccessPercent: 90 },
      abort: { failurePercent: 30, minResults: canary * 2 },
    }),
  });
  if (response.status !== 201) {
    throw new Error(`POST /campaigns answered ${response.status}: ${await response.text()}`);
  }
  const { campaignId } = (await response.json()) as CampaignJson;
  log(
    `\nCampaign "${name}": ${devices.length} devices, canary ${canary}, ${ratePerMinute} a minute`,
  );
  let last = '';
  for (;;) {
    const campaign = (await (await fetch(`${url}/campaigns/${campaignId}`)).json()) as CampaignJson;
    const line =
      `  ${campaign.state.padEnd(9)} dispatches ${format(campaign.dispatches)} | ` +
      `commands ${format(campaign.commands)}`;
    if (line !== last) {
      log(line);
      last = line;
    }
    if (['completed', 'aborted', 'canceled'].includes(campaign.state)) {
      if (campaign.abortReason !== null) {
        log(`  abortReason: ${campaign.abortReason}`);
      }
      return campaign;
    }
    await sleep(500);
  }
}

function format(counts: Record<string, number>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');
}
