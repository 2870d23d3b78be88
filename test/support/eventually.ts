import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Asks `probe` until it returns something other than undefined, and returns that; fails after
 * `timeoutMs` with `what` and the last answer. For states reached outside the test's reach (a
 * broker's redelivery, another process), where no event can be awaited.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined) {
      return answer;
    }
    if (Date.now() > until) {
      throw new Error(`Not within ${timeoutMs} ms: ${what}`);
    }
    await sleep(50);
  }
}
