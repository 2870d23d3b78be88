import { setTimeout as sleep } from 'node:timers/promises';
import { PollLoop } from './poll-loop.js';

describe('PollLoop', () => {
  it('runs one at a time, each after the delay the last one returned, until stopped', async () => {
    let runs = 0;
    let concurrent = 0;
    let most = 0;
    const loop = new PollLoop(
      async () => {
        runs++;
        most = Math.max(most, ++concurrent);
        await sleep(5);
        concurrent--;
        return 0;
      },
      () => 0,
    );
    loop.start(0);
    await sleep(100);
    await loop.stop();
    const after = runs;
    await sleep(30);
    expect(runs).toBeGreaterThan(2);
    expect(runs).toBe(after);
    expect(most).toBe(1);
    expect(loop.stopped).toBe(true);
  });

  it('goes on after a run that throws, with the delay failed() returns', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const loop = new PollLoop(
      async () => {
        runs++;
        throw new Error(`run ${runs}`);
      },
      (error) => {
        errors.push(error);
        return 1;
      },
    );
    loop.start(0);
    await sleep(60);
    await loop.stop();
    expect(runs).toBeGreaterThan(1);
    expect(errors).toHaveLength(runs);
  });

  it('waits for the run in progress when stopped', async () => {
    let finished = false;
    const loop = new PollLoop(
      async () => {
        await sleep(40);
        finished = true;
        return 1000;
      },
      () => 1000,
    );
    loop.start(0);
    await sleep(10);
    await loop.stop();
    expect(finished).toBe(true);
  });
});
