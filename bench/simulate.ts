// npm run simulate -- --target http://localhost:3000 --commands 1000 --concurrency 16 [--register]
//   [--token T] [--api-key K] [--push-timeout-ms 15000] [--retry-delay-ms 1000]
//   [--repush-window-ms 600000] [--devices 50] [--seed 1]
// Exits 1 when any command does not end as the rank rule says, or a push is refused.
//
// npm run simulate -- --platform iotda|oceanconnect [--commands 40] [--loss 0.25] [--seed 1]
//   starts the service itself against the platform emulator: dispatch, pushes (some lost),
//   reconciliation; exits 1 unless every command ends as the platform has it.
//
// npm run simulate -- --platform iotda|oceanconnect --campaign 200
//   two campaigns through the emulator: one whose canary passes and completes, one whose abort
//   threshold trips; exits 1 unless both end so.
import { parseArgs } from 'node:util';
import { parseCampaignSimulationArgs, runCampaignSimulation } from './campaign-simulation.js';
import {
  formatPlatformSummary,
  parsePlatformSimulationArgs,
  runPlatformSimulation,
} from './platform-simulation.js';
import {
  DEFAULT_SIMULATION,
  type SimulationOptions,
  formatSummary,
  runSimulation,
} from './simulator.js';

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
  const count = (name: keyof typeof values, fallback: number, min = 1): number => {
    const raw = values[name];
    if (raw === undefined) {
      return fallback;
    }
    const value = Number(raw);
    if (typeof raw !== 'string' || !Number.isInteger(value) || value < min) {
      throw new Error(`--${name} must be a whole number of at least ${min}, got ${String(raw)}`);
    }
    return value;
  };
  if (values.target === undefined) {
    throw new Error('--target <url> is required, e.g. --target http://localhost:3000');
  }
  return {
    target: values.target.replace(/\/+$/, ''),
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

async function main(): Promise<void> {
  const campaignOptions = parseCampaignSimulationArgs(process.argv.slice(2));
  if (campaignOptions !== undefined) {
    const { problems } = await runCampaignSimulation(campaignOptions);
    console.log(
      problems.length === 0 ? '\nBoth campaigns ended as expected.' : problems.join('\n'),
    );
    process.exitCode = problems.length === 0 ? 0 : 1;
    return;
  }
  const platformOptions = parsePlatformSimulationArgs(process.argv.slice(2));
  if (platformOptions !== undefined) {
    console.log(
      `Dispatching ${platformOptions.commands} commands through the ${platformOptions.platform} emulator, ` +
        `losing ${Math.round(platformOptions.loss * 100)} % of the pushes`,
    );
    const platformSummary = await runPlatformSimulation(platformOptions);
    console.log(formatPlatformSummary(platformSummary));
    process.exitCode = platformSummary.problems.length === 0 ? 0 : 1;
    return;
  }
  let options: SimulationOptions;
  try {
    options = parseSimulationArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  }
  console.log(
    `Simulating the platform against ${options.target}: ${options.commands} commands, ` +
      `concurrency ${options.concurrency}${options.register ? ', registered first' : ''}`,
  );
  const summary = await runSimulation(options);
  console.log(formatSummary(summary));
  process.exitCode = summary.mismatches.length === 0 ? 0 : 1;
}

void main().catch((error: unknown) => {
  console.error('Simulation failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
