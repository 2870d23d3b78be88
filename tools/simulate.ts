// npm run simulate (bin/simulate.mjs checks the arguments, builds if needed, then runs this file);
// tools/simulate-args.ts lists the options.
//
// npm run simulate -- [--target http://localhost:3000] [--commands 200] [--register] ...
//   plays the platform against a running service. Exits 1 when any command does not end as the
//   rank rule says, or a push is refused.
//
// npm run simulate -- --platform iotda|oceanconnect [--commands 40] [--loss 0.25] [--seed 1]
//   starts the service itself against the platform emulator: dispatch, pushes (some lost),
//   reconciliation; exits 1 unless every command ends as the platform has it.
//
// npm run simulate -- --platform iotda|oceanconnect --campaign 200
//   two campaigns through the emulator: one whose canary passes and completes, one whose abort
//   threshold trips; exits 1 unless both end so.
import { runCampaignSimulation } from './campaign-simulation.js';
import { formatPlatformSummary, runPlatformSimulation } from './platform-simulation.js';
import { type SimulateArgs, USAGE, parseSimulateArgs } from './simulate-args.js';
import {
  PlatformSimulator,
  type SimulationOptions,
  type SimulationSummary,
  formatSummary,
} from './simulator.js';

const PROGRESS_EVERY_MS = 2000;

/** Says so at once when nothing answers at the target, rather than re-pushing for 10 minutes. */
async function checkTarget(target: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${target}/health/live`, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return undefined;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    return (
      `No service answers at ${target} (${cause instanceof Error ? cause.message : String(cause)}). ` +
      'Start it with `npm start` (or `npm run start:dev`), or give its address with --target.'
    );
  }
}

async function simulateAgainstService(options: SimulationOptions): Promise<SimulationSummary> {
  const simulator = new PlatformSimulator(options);
  const report = () => {
    const { phase, done } = simulator.progress;
    const { acked, retried, rejected } = simulator.summary;
    console.log(
      `${phase}: ${done}/${options.commands} commands; ${acked} acknowledged, ` +
        `${retried} re-pushed, ${rejected} refused`,
    );
  };
  const timer = setInterval(report, PROGRESS_EVERY_MS).unref();
  try {
    return await simulator.run();
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  let args: SimulateArgs;
  try {
    args = parseSimulateArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exit(2);
  }
  switch (args.mode) {
    case 'campaign': {
      console.log(
        `Running two campaigns of ${args.options.devices} devices through the ` +
          `${args.options.platform} emulator`,
      );
      const { problems } = await runCampaignSimulation(args.options);
      console.log(
        problems.length === 0 ? '\nBoth campaigns ended as expected.' : problems.join('\n'),
      );
      process.exitCode = problems.length === 0 ? 0 : 1;
      return;
    }
    case 'platform': {
      const options = args.options;
      console.log(
        `Dispatching ${options.commands} commands through the ${options.platform} emulator, ` +
          `losing ${Math.round(options.loss * 100)} % of the pushes`,
      );
      const platformSummary = await runPlatformSimulation(options);
      console.log(formatPlatformSummary(platformSummary));
      process.exitCode = platformSummary.problems.length === 0 ? 0 : 1;
      return;
    }
    case 'service': {
      const options = args.options;
      const unreachable = await checkTarget(options.target);
      if (unreachable !== undefined) {
        console.error(unreachable);
        process.exit(1);
      }
      console.log(
        `Simulating the platform against ${options.target}: ${options.commands} commands, ` +
          `concurrency ${options.concurrency}${options.register ? ', registered first' : ''}`,
      );
      const summary = await simulateAgainstService(options);
      console.log(formatSummary(summary));
      process.exitCode = summary.mismatches.length === 0 ? 0 : 1;
      return;
    }
  }
}

void main().catch((error: unknown) => {
  console.error('Simulation failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
