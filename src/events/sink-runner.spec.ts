import { pauseAfterBatch } from './sink-runner.js';

describe('pauseAfterBatch', () => {
  it('catches up without waiting, and waits the read gap after a batch that was not full', () => {
    expect(pauseAfterBatch(0, 40, 500)).toBe(0);
    expect(pauseAfterBatch(999, 40, 500)).toBe(0);
    expect(pauseAfterBatch(999, 40, 12)).toBe(250);
  });

  it('yields to a burst of reports: four times the batch time, within bounds', () => {
    expect(pauseAfterBatch(5000, 100, 500)).toBe(400);
    expect(pauseAfterBatch(5000, 10, 500)).toBe(250);
    expect(pauseAfterBatch(5000, 1000, 500)).toBe(2000);
  });
});
