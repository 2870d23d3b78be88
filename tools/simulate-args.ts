// The arguments of `npm run simulate`, read before anything is built: bin/simulate.mjs imports this
// file from its TypeScript source, which Node.js runs by stripping the types. Hence no runtime
// import but node:util's, and only syntax that type stripping erases.
import { parseArgs } from 'node:util';
import type { CampaignSimulationOptions } from './campaign-simulation.js';
import type { PlatformSimulationOptions } from './platform-simulation.js';
import type { SimulationOptions } from './simulator.js';

export const DEFAULT_TARGET = 'http://localhost:3000';

export const USAGE = `Usage:
  npm run simulate -- [--target ${DEFAULT_TARGET}] [--commands 200] [--concurrency 16] [--register]
      [--token T] [--api-key K] [--push-timeout-ms 15000] [--retry-delay-ms 1000]
      [--repush-window-ms 600000] [--devices 50] [--seed 1]
    plays the platform against a running service (npm start)
  npm run simulate -- --platform iotda|oceanconnect [--commands 40] [--loss 0.25] [--seed 1]
    starts the service itself against the platform emulator
  npm run simulate -- --platform iotda|oceanconnect --campaign 200
    two campaigns through the emulator`;

export const DEFAULT_SIMULATION: Omit<SimulationOptions, 'target'> = {
  commands: 200,
  concurrency: 16,
  register: false,
  pushTimeoutMs: 15_000,
  retryDelayMs: 1_000,
  repushWindowMs: 600_000,
  devices: 50,
  seed: 1,
};

export const DEFAULT_PLATFORM_SIMULATION: Omit<PlatformSimulationOptions, 'platform'> = {
  commands: 40,
  loss: 0.25,
  seed: 1,
  settleTimeoutMs: 60_000,
};

export type SimulateArgs =
  | { mode: 'service'; options: SimulationOptions }
  | { mode: 'platform'; options: PlatformSimulationOptions }
  | { mode: 'campaign'; options: CampaignSimulationOptions };

/** Which of the three runs the arguments ask for, checked; throws saying what is wrong. */
export function parseSimulateArgs(args: string[]): SimulateArgs {
  const campaign = parseCampaignSimulationArgs(args);
  if (campaign !== undefined) {
    return { mode: 'campaign', options: campaign };
  }
  const platform = parsePlatformSimulationArgs(args);
  if (platform !== undefined) {
    return { mode: 'platform', options: platform };
  }
  return { mode: 'service', options: parseSimulationArgs(args) };
}

function wholeNumber(name: string, raw: string | boolean | undefined, fallback: number, min = 1) {
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be a whole number of at least ${min}, got ${String(raw)}`);
  }
  return value;
}

function platformName(raw: string | boolean | undefined): 'iotda' | 'oceanconnect' {
  if (raw !== 'iotda' && raw !== 'oceanconnect') {
    throw new Error(`--platform must be iotda or oceanconnect, got ${String(raw)}`);
  }
  return raw;
}

/** Against a running service: every option but --target has a default, and so has --target. */
export function parseSimulationArgs(args: string[]): SimulationOptions {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: 'string' },
      commands: { type: 'string' },
      concurrency: { type: 'string' },
      register: { type: 'boolean' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      'push-timeout-ms': { type: 'string' },
      'retry-delay-ms': { type: 'string' },
      'repush-window-ms': { type: 'string' },
      devices: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const count = (name: keyof typeof values, fallback: number, min = 1): number =>
    wholeNumber(name, values[name], fallback, min);
  const target = values.target ?? DEFAULT_TARGET;
  let url: URL | undefined;
  try {
    url = new URL(target);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Error(`--target must be an http:// or https:// URL, got ${target}`);
  }
  return {
    target: target.replace(/\/+$/, ''),
    commands: count('commands', DEFAULT_SIMULATION.commands),
    concurrency: count('concurrency', DEFAULT_SIMULATION.concurrency),
    register: values.register ?? false,
    token: values.token,
    apiKey: values['api-key'],
    pushTimeoutMs: count('push-timeout-ms', DEFAULT_SIMULATION.pushTimeoutMs),
    retryDelayMs: count('retry-delay-ms', DEFAULT_SIMULATION.retryDelayMs, 0),
    repushWindowMs: count('repush-window-ms', DEFAULT_SIMULATION.repushWindowMs, 0),
    devices: count('devices', DEFAULT_SIMULATION.devices),
    seed: count('seed', DEFAULT_SIMULATION.seed, 0),
  };
}

/** `--platform` without `--campaign`; undefined without --platform. */
export function parsePlatformSimulationArgs(args: string[]): PlatformSimulationOptions | undefined {
  if (!args.some((arg) => arg === '--platform' || arg.startsWith('--platform='))) {
    return undefined;
  }
  const { values } = parseArgs({
    args,
    options: {
      platform: { type: 'string' },
      commands: { type: 'string' },
      loss: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const loss = values.loss === undefined ? DEFAULT_PLATFORM_SIMULATION.loss : Number(values.loss);
  if (!(loss >= 0 && loss <= 1)) {
    throw new Error(`--loss must be from 0 to 1, got ${String(values.loss)}`);
  }
  return {
    ...DEFAULT_PLATFORM_SIMULATION,
    platform: platformName(values.platform),
    commands: wholeNumber('commands', values.commands, DEFAULT_PLATFORM_SIMULATION.commands),
    loss,
    seed: wholeNumber('seed', values.seed, DEFAULT_PLATFORM_SIMULATION.seed, 0),
  };
}

/** `--campaign N` with `--platform`; undefined without --campaign. */
export function parseCampaignSimulationArgs(args: string[]): CampaignSimulationOptions | undefined {
  if (!args.some((arg) => arg === '--campaign' || arg.startsWith('--campaign='))) {
    return undefined;
  }
  const { values } = parseArgs({
    args,
    options: { platform: { type: 'string' }, campaign: { type: 'string' } },
  });
  if (values.platform === undefined) {
    throw new Error('--campaign needs --platform iotda or --platform oceanconnect');
  }
  return {
    platform: platformName(values.platform),
    devices: wholeNumber('campaign', values.campaign, 200, 20),
  };
}
