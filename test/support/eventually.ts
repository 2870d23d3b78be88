import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `condition` until it holds, for state that announces no event (a row the sweeper writes, a
 * log line written after a socket closed). Fails with `describe()`'s text once `withinMs` passed.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  withinMs: number,
  describe: () => string = () => 'condition not met',
  everyMs = 50,
): Promise<void> {
  const until = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > until) {
      throw new Error(`${describe()} within ${withinMs} ms`);
    }
    await sleep(everyMs);
  }
}

/**
 * Asks `probe` until it returns something other than undefined, and returns that; fails after
 * `timeoutMs` with `what` and the last answer. For states reached outside the test's reach (a
 * broker's redelivery, another process), where no event can be awaited.
 */
export async function eventuallyDefined<T>(
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
