import { isDatabaseUnavailable, DatabaseUnavailableError } from '../database/database-errors.js';
import { CALLBACK_PATH, mapProblems, problem } from '../http/problem.js';

/** What applyBatch answers for an item it could not apply in the batch: apply it alone. */
export const BUSY = Symbol('busy');

/** What the batcher needs from the repository. */
export interface BatchedStatement<T, R> {
  /**
   * Applies items, those of one key in their order, and commits them, unless `deadline`
   * (performance.now()) has passed by then: then nothing is written and it throws TooLateError.
   * The items of a key another transaction holds come back BUSY, not applied; so may items it
   * could not apply after others were committed.
   */
  applyBatch(items: readonly T[], deadline: number): Promise<(R | typeof BUSY)[]>;
  /** Applies one item in a transaction of its own, waiting for its key; the same deadline rule. */
  applyAlone(item: T, deadline: number): Promise<R>;
  /** Items of one key are applied one at a time, in arrival order (the command id). */
  key(item: T): string;
}

export interface BatcherLimits {
  /** Items per transaction. */
  maxBatch: number;
  /** Batches applied at once, each on its own connection. */
  maxBatchesInFlight: number;
  /**
   * While a batch is in flight, another starts only once this many items wait: a batch costs a
   * transaction whatever its size, so under light load fewer, fuller batches cost less.
   */
  minBatchWhileBusy: number;
  /** Items waiting to start; one more is refused at once. */
  maxQueued: number;
  /** How long an item may wait to start; one that waited longer is refused. */
  maxWaitMs: number;
  /** An item is committed within this time of its arrival, or not at all (its caller gave up). */
  maxAgeMs: number;
}

/** The write path is full: the report is refused at once, stored nowhere (503, Retry-After). */
export class OverloadedError extends DatabaseUnavailableError {
  constructor(reason: string) {
    // Under overload thousands of these are made a second, and a stack trace would say nothing the
    // reason does not: V8 captures none while the limit is 0.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(reason);
    Error.stackTraceLimit = limit;
    this.name = 'OverloadedError';
  }
}

// Refused on purpose, possibly thousands a second: counted, and logged only by the request's own
// line (at warn), not by the exception filter too. Mapped before the database's unavailability,
// which this error also is.
mapProblems((exception, request) =>
  exception instanceof OverloadedError
    ? {
        details: problem(503, 'The service is overloaded; try again', { requestId: request.id }),
        headers: { 'retry-after': '1' },
        ...(request.url.startsWith(CALLBACK_PATH)
          ? { callbackFailure: 'overloaded' as const }
          : {}),
      }
    : undefined,
);

/** A transaction was rolled back instead of committed because an item's caller gave up. */
export class TooLateError extends DatabaseUnavailableError {
  constructor() {
    super('the report could not be committed in time');
    this.name = 'TooLateError';
  }
}

interface Waiting<T, R> {
  item: T;
  key: string;
  queuedAt: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit with admission control. Items wait in a bounded queue; up to maxBatchesInFlight
 * batches run at once (another one once minBatchWhileBusy items wait), each taking the oldest
 * waiting items whose key has no item in another batch. So a key's items are applied in arrival
 * order, batches never contend for the same rows, and a lone item is applied at once. Each caller
 * is answered only after its
 * item committed.
 *
 * Admission: an item arriving to a full queue, or still waiting after maxWaitMs, is refused at once
 * with OverloadedError, so under any arrival rate memory stays bounded and the database keeps
 * storing at its pace. An item in a batch is committed, or re-applied alone: it fails only with its
 * own error, with the database being unavailable, or past its own maxAgeMs.
 */
export class ReportBatcher<T, R> {
  private queue: Waiting<T, R>[] = [];
  /** Keys with items being applied, and how many. */
  private readonly busyKeys = new Map<string, number>();
  private batchesInFlight = 0;

  constructor(
    private readonly statement: BatchedStatement<T, R>,
    private readonly limits: BatcherLimits,
  ) {}

  /** Items waiting to start (for metrics and tests). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Whether an item submitted now would be refused, or is likely to be: the queue is full, or its
   * oldest item has waited past maxWaitMs. Lets a caller refuse before doing any work for it.
   */
  get refusing(): boolean {
    return (
      this.queue.length >= this.limits.maxQueued ||
      (this.queue.length > 0 && performance.now() - this.queue[0].queuedAt > this.limits.maxWaitMs)
    );
  }

  submit(item: T): Promise<R> {
    if (this.queue.length >= this.limits.maxQueued) {
      return Promise.reject(new OverloadedError('too many reports are waiting to be stored'));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        item,
        key: this.statement.key(item),
        queuedAt: performance.now(),
        resolve,
        reject,
      });
      this.pump();
    });
  }

  private pump(): void {
    while (
      this.batchesInFlight < this.limits.maxBatchesInFlight &&
      this.queue.length >= (this.batchesInFlight === 0 ? 1 : this.limits.minBatchWhileBusy)
    ) {
      const batch = this.take();
      if (batch.length === 0) {
        return;
      }
      this.batchesInFlight++;
      void this.run(batch).finally(() => {
        this.batchesInFlight--;
        this.pump();
      });
    }
  }

  /** The next batch: the oldest items of keys not being applied elsewhere; refuses the stale. */
  private take(): Waiting<T, R>[] {
    const now = performance.now();
    const batch: Waiting<T, R>[] = [];
    const taken = new Set<string>();
    const rest: Waiting<T, R>[] = [];
    for (const waiting of this.queue) {
      const { key } = waiting;
      if (now - waiting.queuedAt > this.limits.maxWaitMs) {
        waiting.reject(new OverloadedError('the report waited too long to be stored'));
      } else if (
        batch.length < this.limits.maxBatch &&
        (taken.has(key) || !this.busyKeys.has(key))
      ) {
        taken.add(key);
        this.busyKeys.set(key, (this.busyKeys.get(key) ?? 0) + 1);
        batch.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    this.queue = rest;
    return batch;
  }

  private settle(waiting: Waiting<T, R>, outcome: { result: R } | { error: unknown }): void {
    const left = (this.busyKeys.get(waiting.key) ?? 1) - 1;
    if (left === 0) {
      this.busyKeys.delete(waiting.key);
    } else {
      this.busyKeys.set(waiting.key, left);
    }
    if ('result' in outcome) {
      waiting.resolve(outcome.result);
    } else {
      waiting.reject(outcome.error);
    }
    if (this.queue.length > 0) {
      this.pump();
    }
  }

  private deadlineOf(waiting: Waiting<T, R>): number {
    return waiting.queuedAt + this.limits.maxAgeMs;
  }

  // Never throws: every item taken is settled, whatever fails.
  // A lone item goes as a batch of one too: a batch never waits for a lock held elsewhere, so a
  // batch in flight never holds up the items queued behind it for long.
  private async run(batch: Waiting<T, R>[]): Promise<void> {
    let results: (R | typeof BUSY)[];
    try {
      const deadline = Math.min(...batch.map((waiting) => this.deadlineOf(waiting)));
      results = await this.statement.applyBatch(
        batch.map((waiting) => waiting.item),
        deadline,
      );
    } catch (error) {
      if (isDatabaseUnavailable(error) && !(error instanceof TooLateError)) {
        batch.forEach((waiting) => this.settle(waiting, { error }));
        return;
      }
      // Rolled back: each item again on its own, meeting only its own error or deadline.
      await this.runAloneInOrder(batch);
      return;
    }
    const busy: Waiting<T, R>[] = [];
    batch.forEach((waiting, index) => {
      const result = results[index];
      if (result === BUSY) {
        busy.push(waiting);
      } else {
        this.settle(waiting, { result });
      }
    });
    // Waiting for a lock held elsewhere holds up only that key; other batches go on meanwhile.
    void this.runAloneInOrder(busy);
  }

  /** Each item alone: the items of one key one after the other, in order; keys side by side. */
  private async runAloneInOrder(items: Waiting<T, R>[]): Promise<void> {
    const byKey = new Map<string, Waiting<T, R>[]>();
    for (const waiting of items) {
      const list = byKey.get(waiting.key);
      if (list === undefined) {
        byKey.set(waiting.key, [waiting]);
      } else {
        list.push(waiting);
      }
    }
    await Promise.all(
      [...byKey.values()].map(async (list) => {
        for (const waiting of list) {
          await this.runAlone(waiting);
        }
      }),
    );
  }

  private async runAlone(waiting: Waiting<T, R>): Promise<void> {
    try {
      if (performance.now() > this.deadlineOf(waiting)) {
        throw new TooLateError();
      }
      const result = await this.statement.applyAlone(waiting.item, this.deadlineOf(waiting));
      this.settle(waiting, { result });
    } catch (error) {
      this.settle(waiting, { error });
    }
  }
}
