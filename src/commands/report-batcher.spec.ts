import { isDatabaseUnavailable } from '../database/database-errors.js';
import {
  BUSY,
  type BatchedStatement,
  type BatcherLimits,
  OverloadedError,
  ReportBatcher,
  TooLateError,
} from './report-batcher.js';

// The batcher's mechanics against a recording stand-in for the statements; what they do in SQL is
// tested against real databases in test/group-commit.e2e.spec.ts and test/write-isolation.e2e.spec.ts.
interface Item {
  key: string;
  n: number;
  /** Thrown by the batch holding this item, and by the item applied alone. */
  failWith?: unknown;
  /** Comes back BUSY from a batch (its lock is held elsewhere). */
  busy?: boolean;
  /** The batch holding this item takes this long. */
  delayMs?: number;
}

const name = (item: Item) => `${item.key}${item.n}`;

function setup(limits: Partial<BatcherLimits> = {}, options: { batchError?: unknown } = {}) {
  const log: string[] = [];
  let gates: (() => void)[] = [];
  let holding = false;
  const gate = async () => {
    if (holding) {
      await new Promise<void>((resolve) => gates.push(resolve));
    }
  };
  const statement: BatchedStatement<Item, string> = {
    applyBatch: async (items, deadline) => {
      log.push(`batch ${items.map(name).join(' ')}`);
      await gate();
      const delay = Math.max(0, ...items.map((item) => item.delayMs ?? 0));
      if (delay > 0) {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
      if (options.batchError !== undefined) {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- whatever a statement throws
        throw options.batchError;
      }
      const failing = items.find((item) => item.failWith !== undefined);
      if (failing !== undefined) {
        throw failing.failWith;
      }
      if (performance.now() > deadline) {
        throw new TooLateError();
      }
      log.push(`commit ${items.map(name).join(' ')}`);
      return items.map((item) => (item.busy === true ? BUSY : `batched ${name(item)}`));
    },
    applyAlone: async (item) => {
      log.push(`alone ${name(item)}`);
      await gate();
      if (item.failWith !== undefined) {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- whatever a statement throws
        throw item.failWith;
      }
      return `alone ${name(item)}`;
    },
    key: (item) => item.key,
  };
  const batcher = new ReportBatcher(statement, {
    maxBatch: 10,
    maxBatchesInFlight: 1,
    minBatchWhileBusy: 1,
    maxQueued: 100,
    maxWaitMs: 60_000,
    maxAgeMs: 60_000,
    ...limits,
  });
  return {
    log,
    batcher,
    hold: () => {
      holding = true;
    },
    /** Lets every statement waiting so far go on; later ones go at once. */
    release: () => {
      holding = false;
      const open = gates;
      gates = [];
      open.forEach((resolve) => resolve());
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ReportBatcher', () => {
  it('applies a lone report at once, as a batch of one', async () => {
    const { batcher, log } = setup();
    await expect(batcher.submit({ key: 'a', n: 1 })).resolves.toBe('batched a1');
    expect(log).toEqual(['batch a1', 'commit a1']);
  });

  it('groups the reports that arrive during a batch into the next one, in arrival order', async () => {
    const { batcher, log, hold, release } = setup();
    hold();
    const first = batcher.submit({ key: 'z', n: 0 });
    const rest = [
      batcher.submit({ key: 'b', n: 1 }),
      batcher.submit({ key: 'a', n: 2 }),
      batcher.submit({ key: 'b', n: 3 }),
    ];
    await tick();
    expect(log).toEqual(['batch z0']);
    release();
    await expect(first).resolves.toBe('batched z0');
    await expect(Promise.all(rest)).resolves.toEqual(['batched b1', 'batched a2', 'batched b3']);
    expect(log).toEqual(['batch z0', 'commit z0', 'batch b1 a2 b3', 'commit b1 a2 b3']);
  });

  it('keeps a command out of a new batch while another batch holds a report of it', async () => {
    const { batcher, log, hold, release } = setup({ maxBatchesInFlight: 2 });
    hold();
    const all = [batcher.submit({ key: 'a', n: 0 }), batcher.submit({ key: 'a', n: 1 })];
    all.push(batcher.submit({ key: 'b', n: 2 }));
    await tick();
    expect(log).toEqual(['batch a0', 'batch b2']);
    release();
    await expect(Promise.all(all)).resolves.toEqual(['batched a0', 'batched a1', 'batched b2']);
    expect(log.slice(-2)).toEqual(['batch a1', 'commit a1']);
  });

  it('applies the reports of a command locked elsewhere alone, one after the other, in order', async () => {
    const { batcher, log, hold, release } = setup();
    hold();
    void batcher.submit({ key: 'x', n: 0 });
    const locked = [
      batcher.submit({ key: 'a', n: 1, busy: true }),
      batcher.submit({ key: 'a', n: 2, busy: true }),
    ];
    release();
    await expect(Promise.all(locked)).resolves.toEqual(['alone a1', 'alone a2']);
    expect(log.filter((line) => line.startsWith('alone'))).toEqual(['alone a1', 'alone a2']);
  });

  it('answers nobody before the batch has committed', async () => {
    const { batcher, hold, release } = setup();
    hold();
    let answered = 0;
    void batcher.submit({ key: 'x', n: 0 });
    const batch = [batcher.submit({ key: 'a', n: 1 }), batcher.submit({ key: 'b', n: 2 })];
    batch.forEach((promise) => void promise.then(() => answered++));
    release();
    hold();
    for (let i = 0; i < 5; i++) {
      await tick();
    }
    expect(answered).toBe(0);
    release();
    await Promise.all(batch);
    expect(answered).toBe(2);
  });

  it('runs up to maxBatchesInFlight batches at once', async () => {
    const { batcher, log, hold, release } = setup({ maxBatch: 2, maxBatchesInFlight: 2 });
    hold();
    const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((key, n) => batcher.submit({ key, n }));
    await tick();
    expect(log).toEqual(['batch a0', 'batch b1']);
    release();
    await Promise.all(all);
    expect(log.slice(2)).toEqual([
      'commit a0',
      'commit b1',
      'batch c2 d3',
      'batch e4 f5',
      'commit c2 d3',
      'commit e4 f5',
    ]);
  });

  it('starts another batch while one is in flight only once minBatchWhileBusy reports wait', async () => {
    const { batcher, log, hold, release } = setup({ maxBatchesInFlight: 2, minBatchWhileBusy: 3 });
    hold();
    const all = [batcher.submit({ key: 'a', n: 0 }), batcher.submit({ key: 'b', n: 1 })];
    all.push(batcher.submit({ key: 'c', n: 2 }));
    await tick();
    expect(log).toEqual(['batch a0']);
    all.push(batcher.submit({ key: 'd', n: 3 }));
    await tick();
    expect(log).toEqual(['batch a0', 'batch b1 c2 d3']);
    release();
    await expect(Promise.all(all)).resolves.toEqual([
      'batched a0',
      'batched b1',
      'batched c2',
      'batched d3',
    ]);
  });

  it('applies a failed batch again one report at a time, each meeting only its own error', async () => {
    const { batcher, hold, release } = setup();
    hold();
    void batcher.submit({ key: 'x', n: 0 });
    const bad = new Error('invalid input');
    const results = Promise.allSettled([
      batcher.submit({ key: 'a', n: 1 }),
      batcher.submit({ key: 'b', n: 2, failWith: bad }),
      batcher.submit({ key: 'c', n: 3 }),
    ]);
    release();
    expect(await results).toEqual([
      { status: 'fulfilled', value: 'alone a1' },
      { status: 'rejected', reason: bad },
      { status: 'fulfilled', value: 'alone c3' },
    ]);
  });

  it('fails every report of the batch, and applies none alone, when the database is unavailable', async () => {
    const down = new Error('Connection terminated unexpectedly');
    const { batcher, log, hold, release } = setup({}, { batchError: down });
    hold();
    const first = batcher.submit({ key: 'x', n: 0 });
    const results = Promise.allSettled([
      batcher.submit({ key: 'a', n: 1 }),
      batcher.submit({ key: 'b', n: 2 }),
    ]);
    release();
    expect(await results).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
    ]);
    await expect(first).rejects.toBe(down);
    expect(log.filter((line) => line.startsWith('alone'))).toEqual([]);
  });

  it.each([
    ['a thrown string', 'boom'],
    ['an Error', new Error('boom')],
  ])('strands no report when a batch fails with %s, and keeps going', async (_, failure) => {
    const { batcher, hold, release } = setup();
    hold();
    void batcher.submit({ key: 'x', n: 0 });
    const failed = Promise.allSettled([
      batcher.submit({ key: 'a', n: 1, failWith: failure }),
      batcher.submit({ key: 'b', n: 2, failWith: failure }),
    ]);
    release();
    expect((await failed).map((result) => result.status)).toEqual(['rejected', 'rejected']);
    await expect(batcher.submit({ key: 'c', n: 3 })).resolves.toBe('batched c3');
    expect(batcher.queued).toBe(0);
  });

  it('answers the rest of a batch at once and applies a report whose command is locked elsewhere alone', async () => {
    const { batcher, log, hold, release } = setup();
    hold();
    void batcher.submit({ key: 'x', n: 0 });
    const locked = batcher.submit({ key: 'a', n: 1, busy: true });
    const free = batcher.submit({ key: 'b', n: 2 });
    release();
    await expect(free).resolves.toBe('batched b2');
    await expect(locked).resolves.toBe('alone a1');
    expect(log).toEqual(['batch x0', 'commit x0', 'batch a1 b2', 'commit a1 b2', 'alone a1']);
  });

  it('refuses a report at once when maxQueued reports are waiting, and stores it nowhere', async () => {
    const { batcher, log, hold, release } = setup({ maxQueued: 2 });
    hold();
    const admitted = [0, 1, 2].map((n) => batcher.submit({ key: `k${n}`, n }));
    const refused = batcher.submit({ key: 'late', n: 9 });
    await expect(refused).rejects.toBeInstanceOf(OverloadedError);
    await expect(refused.catch((error: unknown) => isDatabaseUnavailable(error))).resolves.toBe(
      true,
    );
    expect(batcher.queued).toBe(2);
    release();
    await Promise.all(admitted);
    expect(log.join(' ')).not.toContain('late9');
  });

  it('refuses a report that waited longer than maxWaitMs without applying it', async () => {
    const { batcher, log, hold, release } = setup({ maxWaitMs: 20 });
    hold();
    const first = batcher.submit({ key: 'x', n: 0 });
    const waiting = batcher.submit({ key: 'a', n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    release();
    await expect(first).resolves.toBe('batched x0');
    await expect(waiting).rejects.toBeInstanceOf(OverloadedError);
    expect(log).toEqual(['batch x0', 'commit x0']);
  });

  it('re-applies the rest of a batch alone when the oldest report is past its age, failing only that one', async () => {
    const { batcher, log, hold, release } = setup({ maxAgeMs: 200 });
    hold();
    void batcher.submit({ key: 'x', n: 0 });
    const old = batcher.submit({ key: 'a', n: 1, delayMs: 130 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const young = batcher.submit({ key: 'b', n: 2 });
    release();
    await expect(old).rejects.toBeInstanceOf(TooLateError);
    await expect(young).resolves.toBe('alone b2');
    expect(log).not.toContain('commit a1 b2');
  });
});
