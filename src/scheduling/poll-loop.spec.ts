import { setTimeout as sleep } from 'node:timers/promises';
import { PollLoop } from './poll-loop.js';

/** A promise and the function that settles it. */
function signal(): { done: Promise<void>; fire: () => void } {
  let fire = () => {};
  const done = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { done, fire };
}

describe('PollLoop', () => {
  it('runs one at a time, each after the delay the last one returned, until stopped', async () => {
    const third = signal();
    let runs = 0;
    let concurrent = 0;
    let most = 0;
    const loop = new PollLoop(
      async () => {
        runs++;
        most = Math.max(most, ++concurrent);
        await sleep(5);
        concurrent--;
        if (runs === 3) {
          third.fire();
        }
        return 0;
      },
      () => 0,
    );
    loop.start(0);
    await third.done;
    await loop.stop();
    const after = runs;
    await sleep(30);
    expect(runs).toBe(after);
    expect(most).toBe(1);
    expect(loop.stopped).toBe(true);
  });

  it('goes on after a run that throws, with the delay failed() returns', async () => {
    const second = signal();
    const errors: unknown[] = [];
    let runs = 0;
    const loop = new PollLoop(
      async () => {
        runs++;
        throw new Error(`run ${runs}`);
      },
      (error) => {
        errors.push(error);
        if (errors.length === 2) {
          second.fire();
        }
        return 1;
      },
    );
    loop.start(0);
    await second.done;
    await loop.stop();
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(errors).toHaveLength(runs);
  });

  it('waits for the run in progress when stopped', async () => {
    const started = signal();
    let finished = false;
    const loop = new PollLoop(
      async () => {
        started.fire();
        await sleep(40);
        finished = true;
        return 1000;
      },
      () => 1000,
    );
    loop.start(0);
    await started.done;
    await loop.stop();
    expect(finished).toBe(true);
  });
});
