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
