import type pg from 'pg';
import { isDatabaseUnavailable } from '../database/database-errors.js';
import { DatabaseUnavailableError } from '../http/problem.js';

/** What the batcher needs from the repository: the one statement, and the way to run it alone. */
export interface BatchedStatement<T, R> {
  /** Applies one item on a connection inside the batch's transaction. */
  applyOn(client: pg.PoolClient, item: T): Promise<R>;
  /** Applies one item in a transaction of its own (a batch of one, or after a batch failed). */
  applyAlone(item: T): Promise<R>;
  /** Items are applied in the order of this key (arrival order among equal keys). */
  lockKey(item: T): string;
}

interface Waiting<T, R> {
  item: T;
  queuedAt: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: items that arrive while a batch is being applied wait for it, then go together in
 * the next batch, in one transaction on one connection, so many reports share one commit (one WAL
 * flush). No timer: a batch starts as soon as the previous one has committed, so a lone report is
 * applied at once, alone. One batch at a time, so reports of one command are applied in the order
 * they arrived, also across batches. Each caller is answered only after its batch committed.
 *
 * Within a batch, items run in order of lockKey (command id), so concurrent batches of several
 * instances take their row locks in one order and cannot deadlock each other. If a statement
 * fails, the batch is rolled back and its items are applied one by one, each meeting its own
 * error; if the database is unavailable, every item of the batch fails with that error (503).
 *
 * A caller that waited longer than maxAgeMs has been answered 503 already (callbacks have a
 * deadline): its report must then not be stored. Such items are failed before they start, and a
 * batch holding one is rolled back instead of committed.
 */
export class ReportBatcher<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private applying = false;

  constructor(
    private readonly pool: () => pg.Pool,
    private readonly statement: BatchedStatement<T, R>,
    private readonly maxBatch: number,
    private readonly maxAgeMs: number,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, queuedAt: performance.now(), resolve, reject });
      if (!this.applying) {
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    this.applying = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.slice(0, this.maxBatch);
        this.waiting = this.waiting.slice(batch.length);
        await this.apply(batch);
      }
    } finally {
      this.applying = false;
    }
  }

  private tooOld(waiting: Waiting<T, R>): boolean {
    return performance.now() - waiting.queuedAt > this.maxAgeMs;
  }

  private fail(waiting: Waiting<T, R>): void {
    waiting.reject(new DatabaseUnavailableError('the report waited too long to be applied'));
  }

  private async apply(queued: Waiting<T, R>[]): Promise<void> {
    const batch = queued.filter((waiting) => {
      if (this.tooOld(waiting)) {
        this.fail(waiting);
        return false;
      }
      return true;
    });
    if (batch.length === 0) {
      return;
    }
    if (batch.length === 1) {
      const [only] = batch;
      await this.statement.applyAlone(only.item).then(only.resolve, only.reject);
      return;
    }
    // Stable: reports of one command keep their arrival order.
    const ordered = batch
      .map((waiting, index) => ({ waiting, index, key: this.statement.lockKey(waiting.item) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index))
      .map(({ waiting }) => waiting);
    let client: pg.PoolClient;
    try {
      client = await this.pool().connect();
    } catch (error) {
      batch.forEach((waiting) => waiting.reject(error));
      return;
    }
    const results: R[] = [];
    try {
      await client.query('BEGIN');
      for (const waiting of ordered) {
        results.push(await this.statement.applyOn(client, waiting.item));
      }
      if (batch.some((waiting) => this.tooOld(waiting))) {
        throw new DatabaseUnavailableError('the batch took too long to be applied');
      }
      await client.query('COMMIT');
    } catch (error) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      // A connection that cannot even roll back is discarded, not returned to the pool.
      client.release(rolledBack ? undefined : (error as Error));
      if (isDatabaseUnavailable(error)) {
        batch.forEach((waiting) => waiting.reject(error));
        return;
      }
      for (const waiting of ordered) {
        if (this.tooOld(waiting)) {
          this.fail(waiting);
        } else {
          await this.statement.applyAlone(waiting.item).then(waiting.resolve, waiting.reject);
        }
      }
      return;
    }
    client.release();
    ordered.forEach((waiting, index) => waiting.resolve(results[index]));
  }
}
