import { Counter, Registry } from 'prom-client';
import { type CommandMetrics } from '../metrics/command-metrics.js';
import { IgnoredReports, minuteOf } from './ignored-reports.js';

const MINUTE = 60_000;

function setUp() {
  const registry = new Registry();
  const counter = new Counter({
    name: 'command_callbacks_total',
    help: 'test',
    labelNames: ['status', 'outcome'] as const,
    registers: [registry],
  });
  counter.inc({ status: 'SENT', outcome: 'applied' }, 7);
  const ignored = new IgnoredReports({ registry } as unknown as CommandMetrics);
  ignored.onModuleInit();
  const start = minuteOf(ignored.countedSince.getTime());
  const push = (count: number) => counter.inc({ status: 'none', outcome: 'ignored' }, count);
  return { ignored, start, push };
}

describe('IgnoredReports', () => {
  let subject: ReturnType<typeof setUp>;
  beforeEach(() => {
    subject = setUp();
  });
  afterEach(() => subject.ignored.onModuleDestroy());

  it('counts the pushes of the first minute against zero at start, ignoring other outcomes', async () => {
    const { ignored, start, push } = subject;
    push(3);
    await ignored.sample(start + 5_000);
    expect([...ignored.perMinute(start)]).toEqual([[start, 3]]);
  });

  it('gives each minute the growth since the previous minute’s last reading', async () => {
    const { ignored, start, push } = subject;
    push(2);
    await ignored.sample(start + 10_000);
    push(1);
    await ignored.sample(start + 50_000);
    push(4);
    await ignored.sample(start + MINUTE + 1_000);
    await ignored.sample(start + 2 * MINUTE + 1_000);
    push(5);
    await ignored.sample(start + 3 * MINUTE + 1_000);
    expect([...ignored.perMinute(start)]).toEqual([
      [start, 3],
      [start + MINUTE, 4],
      [start + 3 * MINUTE, 5],
    ]);
  });

  it('leaves out minutes before the one asked for', async () => {
    const { ignored, start, push } = subject;
    push(2);
    await ignored.sample(start + 1_000);
    push(6);
    await ignored.sample(start + MINUTE + 1_000);
    expect([...ignored.perMinute(start + MINUTE)]).toEqual([[start + MINUTE, 6]]);
  });

  it('keeps about an hour of readings, however long it runs', async () => {
    const { ignored, start, push } = subject;
    for (let minute = 0; minute < 180; minute += 1) {
      push(1);
      await ignored.sample(start + minute * MINUTE + 1_000);
    }
    const lastHour = start + 120 * MINUTE;
    const counts = ignored.perMinute(lastHour);
    expect(counts.size).toBe(60);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    expect(ignored.perMinute(0).size).toBeLessThanOrEqual(62);
  });
});
