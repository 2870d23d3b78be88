import type pg from 'pg';
import { type BatchedStatement, ReportBatcher } from './report-batcher.js';

// The batcher's mechanics against a recording stand-in for a pool; what the statement does in SQL
// is tested against real databases in test/group-commit.e2e.spec.ts.
interface Item {
  key: string;
  n: number;
  failWith?: Error;
  delayMs?: number;
}

function setup(options: { commitError?: Error; maxAgeMs?: number } = {}) {
  const log: string[] = [];
  let commitGate: (() => void) | undefined;
  const client = {
    query: async (sql: string) => {
      log.push(sql);
      if (sql === 'COMMIT') {
        if (commitGate === undefined) {
          await new Promise<void>((resolve) => (commitGate = resolve));
        }
        if (options.commitError) {
          throw options.commitError;
        }
      }
      return { rows: [] };
    },
    release: () => log.push('release'),
  } as unknown as pg.PoolClient;
  const pool = { connect: async () => client } as unknown as pg.Pool;
  const statement: BatchedStatement<Item, string> = {
    applyOn: async (_client, item) => {
      log.push(`apply ${item.key}${item.n}`);
      if (item.delayMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, item.delayMs));
      }
      if (item.failWith) {
        throw item.failWith;
      }
      return `batched ${item.key}${item.n}`;
    },
    applyAlone: async (item) => {
      log.push(`alone ${item.key}${item.n}`);
      if (item.failWith) {
        throw item.failWith;
      }
      return `alone ${item.key}${item.n}`;
    },
    lockKey: (item) => item.key,
  };
  return {
    log,
    batcher: new ReportBatcher(() => pool, statement, 10, options.maxAgeMs ?? 60_000),
    commit: () => commitGate?.(),
    openCommits: () => {
      commitGate = () => undefined;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ReportBatcher', () => {
  it('applies a lone report at once, alone', async () => {
    const { batcher, log } = setup();
    await expect(batcher.submit({ key: 'a', n: 1 })).resolves.toBe('alone a1');
    expect(log).toEqual(['alone a1']);
  });

  it('groups reports that arrive during a batch into one transaction, by key then arrival', async () => {
    const { batcher, log, openCommits } = setup();
    openCommits();
    let firstDone = false;
    const first = batcher.submit({ key: 'z', n: 0 }).then((result) => {
      firstDone = true;
      return result;
    });
    const rest = [
      batcher.submit({ key: 'b', n: 1 }),
      batcher.submit({ key: 'a', n: 2 }),
      batcher.submit({ key: 'b', n: 3 }),
    ];
    expect(firstDone).toBe(false);
    await expect(first).resolves.toBe('alone z0');
    await expect(Promise.all(rest)).resolves.toEqual(['batched b1', 'batched a2', 'batched b3']);
    expect(log).toEqual([
      'alone z0',
      'BEGIN',
      'apply a2',
      'apply b1',
      'apply b3',
      'COMMIT',
      'release',
    ]);
  });

  it('answers nobody before the commit', async () => {
    const { batcher, commit } = setup();
    let answered = 0;
    void batcher.submit({ key: 'x', n: 0 });
    const batch = [batcher.submit({ key: 'a', n: 1 }), batcher.submit({ key: 'b', n: 2 })].map(
      (promise) => promise.then(() => answered++),
    );
    for (let i = 0; i < 5; i++) {
      await tick();
    }
    expect(answered).toBe(0);
    commit();
    await Promise.all(batch);
    expect(answered).toBe(2);
  });

  it('rolls back a failed batch and applies its reports one by one, each with its own result', async () => {
    const { batcher, log, openCommits } = setup();
    openCommits();
    void batcher.submit({ key: 'x', n: 0 });
    const bad = new Error('invalid input');
    const results = await Promise.allSettled([
      batcher.submit({ key: 'a', n: 1 }),
      batcher.submit({ key: 'b', n: 2, failWith: bad }),
      batcher.submit({ key: 'c', n: 3 }),
    ]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'alone a1' },
      { status: 'rejected', reason: bad },
      { status: 'fulfilled', value: 'alone c3' },
    ]);
    expect(log).toContain('ROLLBACK');
    expect(log.indexOf('ROLLBACK')).toBeLessThan(log.indexOf('alone a1'));
  });

  it('fails every report of the batch when the database is unavailable', async () => {
    const down = Object.assign(new Error('Connection terminated unexpectedly'), {});
    const { batcher, log, openCommits } = setup({ commitError: down });
    openCommits();
    void batcher.submit({ key: 'x', n: 0 });
    const results = await Promise.allSettled([
      batcher.submit({ key: 'a', n: 1 }),
      batcher.submit({ key: 'b', n: 2 }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(log.filter((line) => line.startsWith('alone'))).toEqual(['alone x0']);
  });

  it('rolls back rather than commit a report whose caller has given up waiting', async () => {
    const { batcher, log, openCommits } = setup({ maxAgeMs: 50 });
    openCommits();
    void batcher.submit({ key: 'x', n: 0 });
    const results = await Promise.allSettled([
      batcher.submit({ key: 'a', n: 1, delayMs: 80 }),
      batcher.submit({ key: 'b', n: 2 }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(log).not.toContain('COMMIT');
    expect(log).toContain('ROLLBACK');
  });
});
