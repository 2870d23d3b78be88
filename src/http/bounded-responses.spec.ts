import { ByteBudget } from './bounded-responses.js';

describe('ByteBudget', () => {
  it('holds what it grants and lets the next waiter in, in order, as bytes come back', async () => {
    const budget = new ByteBudget(10);
    const first = await budget.take(6);
    const second = await budget.take(4);
    expect(budget.available).toBe(0);
    const granted: string[] = [];
    const third = budget.take(5).then((held) => (granted.push('third'), held));
    const fourth = budget.take(1).then((held) => (granted.push('fourth'), held));
    first.keep(2);
    await Promise.resolve();
    expect(granted).toEqual([]);
    second.release();
    const [held3, held4] = await Promise.all([third, fourth]);
    expect(granted).toEqual(['third', 'fourth']);
    expect(budget.available).toBe(2);
    first.release();
    held3.release();
    held4.release();
    held4.release();
    expect(budget.available).toBe(10);
  });

  it('grants at most its capacity to one taker, so a large one never waits for ever', async () => {
    const budget = new ByteBudget(10);
    const held = await budget.take(50);
    expect(budget.available).toBe(0);
    held.keep(20);
    expect(budget.available).toBe(0);
    held.release();
    expect(budget.available).toBe(10);
  });
});
