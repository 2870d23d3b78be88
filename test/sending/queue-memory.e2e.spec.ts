import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { usePlatformApp } from '../support/platform.js';

// A full collection on demand, without starting the test runner with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

// The queue is the database: what an instance holds is bounded by the calls it has in flight,
// not by how many dispatches are queued. The service runs in this process (the embedded database
// in its own), so this process's heap is the service's.
describe('100,000 queued dispatches', () => {
  const platform = usePlatformApp('iotda', { env: { DISPATCH_RATE: '1' } });

  // In batches: each statement stays within the service's statement timeout.
  const queue = async (count: number, prefix: string) => {
    for (let from = 1; from <= count; from += 5000) {
      await queueBatch(from, Math.min(count, from + 4999), prefix);
    }
  };
  const queueBatch = (from: number, to: number, prefix: string) =>
    platform.app.get(DataSource).query(
      `INSERT INTO dispatches (dispatch_id, request_hash, device_id, service_id, method, paras,
         send_strategy, mode, not_before, send_by, state, next_attempt_at, created_at, updated_at)
       SELECT $1 || i, 'h', $1 || i, 'WaterMeter', 'SET_READ_PERIOD', '{"value":5}',
         'immediately', 'async', now(), now() + interval '1 day', 'queued', now(), now(), now()
       FROM generate_series($2::int, $3::int) AS i`,
      [prefix, from, to],
    );

  it('cost the instance what 10 do in memory', async () => {
    await queue(10, 'few-');
    // The poll loop runs meanwhile, claiming due dispatches (at most DISPATCH_RATE a poll).
    await sleep(2000);
    const before = await settledHeap();

    await queue(100_000, 'many-');
    await sleep(3000);
    const metrics = await platform.app.inject({ method: 'GET', url: '/metrics' });
    const depth = Number(/^dispatch_queue_depth (\d+)/m.exec(metrics.body)?.[1]);
    expect(depth).toBeGreaterThan(99_000);
    const after = await settledHeap();

    // Even 100 bytes a queued dispatch would be 10 MB.
    expect(after - before).toBeLessThan(5 * 1024 * 1024);
    // The loop did claim and send meanwhile.
    expect(platform.emulator.callsOf('create').length).toBeGreaterThan(0);
  }, 120_000);
});
