import { runCampaignSimulation } from '../../tools/campaign-simulation.js';
import { parseCampaignSimulationArgs } from '../../tools/simulate-args.js';

describe('the campaign demo (npm run simulate -- --platform iotda --campaign N)', () => {
  it('shows a canary passing into a completed campaign, and an abort threshold tripping', async () => {
    const lines: string[] = [];
    const result = await runCampaignSimulation({
      platform: 'iotda',
      devices: 40,
      log: (line) => lines.push(line),
    });
    expect(result.problems).toEqual([]);
    // Of 40 devices, a canary of 5 all SUCCESSFUL, then one in twenty after it (the 21st) FAILED.
    expect(result.passing).toMatchObject({
      state: 'completed',
      devices: 40,
      abortReason: null,
      dispatches: expect.objectContaining({ sent: 40 }) as unknown,
      commands: expect.objectContaining({ SUCCESSFUL: 39, FAILED: 1 }) as unknown,
    });
    // The canary passes, then three in four fail: aborted past 30 % of 10 results.
    const aborting = result.aborting!;
    expect(aborting.state).toBe('aborted');
    expect(aborting.abortReason).toMatch(/not SUCCESSFUL, over 30 %/);
    expect(aborting.dispatches.canceled).toBeGreaterThan(0);
    expect(aborting.commands.SUCCESSFUL).toBeGreaterThanOrEqual(5);
    expect(lines.some((line) => line.includes('abortReason'))).toBe(true);
  }, 120_000);

  it.each([
    [['--platform', 'iotda', '--campaign', '200'], { platform: 'iotda', devices: 200 }],
    [['--platform', 'oceanconnect', '--campaign', '20'], { platform: 'oceanconnect', devices: 20 }],
  ])('reads %j', (args, expected) => {
    expect(parseCampaignSimulationArgs(args)).toEqual(expected);
  });

  it.each([
    [['--platform', 'iotda', '--campaign', '19']],
    [['--campaign', '50']],
    [['--platform', 'iotda', '--campaign', 'many']],
  ])('refuses %j', (args) => {
    expect(() => parseCampaignSimulationArgs(args)).toThrow();
  });
});
