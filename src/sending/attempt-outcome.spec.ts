import { PlatformRefusedError, PlatformTimeoutError } from '../platform/platform-client.js';
import { backoffMs, isRetried, outcomeOf } from './attempt-outcome.js';

describe('attempt outcomes', () => {
  it.each([
    [new PlatformRefusedError('IOTDA.014016', 'offline', 403), 'offline'],
    [new PlatformRefusedError('100428', 'not online', 200), 'offline'],
    [new PlatformRefusedError('HTTP_429', 'slow down', 429), 'throttled'],
    [new PlatformRefusedError('IOTDA.014301', 'cache full', 400), 'unavailable'],
    [new PlatformRefusedError('IOTDA.000006', 'invalid', 400), 'refused'],
    [new PlatformTimeoutError(100), 'lost'],
  ])('takes %s as %s', (error, outcome) => {
    expect(outcomeOf(error).outcome).toBe(outcome);
  });

  it('retries offline, throttled and unavailable only', () => {
    expect(
      ['offline', 'throttled', 'unavailable', 'refused', 'lost', 'sent'].filter((o) =>
        isRetried(o as never),
      ),
    ).toEqual(['offline', 'throttled', 'unavailable']);
  });

  it('backs off exponentially up to the maximum, with full jitter', () => {
    expect(backoffMs(1, 5, 600, () => 1)).toBe(5000);
    expect(backoffMs(3, 5, 600, () => 1)).toBe(20000);
    expect(backoffMs(20, 5, 600, () => 1)).toBe(600000);
    expect(backoffMs(3, 5, 600, () => 0)).toBe(0);
    expect(backoffMs(3, 5, 600, () => 0.5)).toBe(10000);
  });
});
