import { runPlatformSimulation } from '../../tools/platform-simulation.js';
import { parsePlatformSimulationArgs } from '../../tools/simulate-args.js';

describe('the platform demo (npm run simulate -- --platform)', () => {
  it('recovers lost legacy pushes by reconciliation, and every command ends as the platform has it', async () => {
    const summary = await runPlatformSimulation({
      platform: 'oceanconnect',
      commands: 12,
      loss: 0.3,
      seed: 7,
      settleTimeoutMs: 20_000,
    });
    expect(summary.problems).toEqual([]);
    expect(summary.dispatched).toBe(12);
    expect(summary.inStep).toBe(12);
    expect(summary.pushes.lost).toBeGreaterThan(0);
    expect(summary.appliedBySource).toMatchObject({
      dispatch: 12,
      callback: expect.any(Number) as number,
      reconcile: expect.any(Number) as number,
    });
  }, 60_000);

  it('on IoTDA also queues dispatches: offline devices and 429s retried until sent, in order, sync commands ending as their devices answered', async () => {
    const summary = await runPlatformSimulation({
      platform: 'iotda',
      commands: 6,
      loss: 0.25,
      seed: 3,
      settleTimeoutMs: 30_000,
    });
    expect(summary.problems).toEqual([]);
    expect(summary.inStep).toBe(6);
    const queue = summary.queue!;
    // Six devices with three dispatches each, three MQTT devices with one synchronous each.
    expect(queue.dispatches).toBe(21);
    expect(queue.states).toEqual({ sent: 21 });
    expect(queue.created).toBe(21);
    expect(queue.attempts.sent).toBe(21);
    expect(queue.attempts.offline).toBeGreaterThan(0);
    expect(queue.attempts.throttled).toBe(2);
    expect(queue.sync).toEqual({ SUCCESSFUL: 2, FAILED: 1 });
  }, 120_000);

  it.each([
    [['--platform', 'iotda'], { platform: 'iotda', commands: 40, loss: 0.25, seed: 1 }],
    [
      ['--platform', 'oceanconnect', '--commands', '5', '--loss', '0'],
      { platform: 'oceanconnect', commands: 5, loss: 0 },
    ],
  ])('reads %j', (args, expected) => {
    expect(parsePlatformSimulationArgs(args)).toMatchObject(expected);
  });

  it.each([
    [['--platform', 'aws']],
    [['--platform', 'iotda', '--loss', '2']],
    [['--platform', 'iotda', '--commands', '0']],
  ])('refuses %j', (args) => {
    expect(() => parsePlatformSimulationArgs(args)).toThrow();
  });

  it('leaves the legacy simulation to --target when --platform is absent', () => {
    expect(parsePlatformSimulationArgs(['--target', 'http://localhost:3000'])).toBeUndefined();
  });
});
