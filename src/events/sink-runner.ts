import { Logger } from '@nestjs/common';
import { type ChangeReader, type FeedListener } from '../feed/change-reader.js';
import { type FeedChange } from '../feed/feed-change.js';
import { type FeedPosition, comparePositions } from '../feed/feed-position.js';
import { type EventMetrics } from './event-metrics.js';
import { type EventSink, backoffMs, describeError, pause } from './event-sink.js';
import { type SinkCursors } from './sink-cursors.js';
import { CLAIM_RETRY_MS, LEASE_MS, Lease } from './sink-lease.js';

const BATCH_SIZE = 500;
// Changes the reader passed that a runner keeps for its sink (the same objects for every sink, and
// for the streams of GET /changes); past this, it drops them and reads them back from the database
// when its sink gets there, so that a sink that is down or slow costs no more memory than this.
const MAX_BUFFERED = 5_000;
// The reader wakes the runner when it passes a change; this is only a safety net.
const IDLE_WAIT_MS = 1_000;
// Reads of one sink are at least this far apart unless it is catching up (a full batch): while
// reports stream in, a sink reads a batch per gap rather than a few changes per commit, which keeps
// its queries off the embedded database's single session, shared with the write path.
const READ_GAP_MS = 250;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;
// Callbacks come first. While this instance commits changes faster than BUSY_CHANGES_PER_SECOND
// (a burst of reports), a sink that was caught up holds off for up to half EVENTS_MAX_LAG_SECONDS
// (holdsOff), and lets the reader stop reading for it: the burst pays nothing for the sinks while
// it lasts, and they catch up afterwards, reading back from the database in full batches. Half,
// so that a burst alone never shows `degraded` in /health/ready. A sink behind, or past that
// budget, delivers, but waits YIELD_FACTOR times as long as its last batch took before the next
// one, so that it takes at most a fifth of its time and the write path keeps the CPU; a steady
// rate above what the machine can both store and deliver shows as a lag that keeps growing.
// Below that rate, delivery costs too little to matter.
const BUSY_CHANGES_PER_SECOND = 1_000;
const YIELD_FACTOR = 4;
const MAX_YIELD_MS = 2_000;

/**
 * How long a sink waits after delivering a batch of `delivered` changes that took `spentMs`, with
 * changes arriving at `changesPerSecond`: yielding to a burst, or READ_GAP_MS after a batch that
 * was not full, or not at all while catching up.
 */
export function pauseAfterBatch(
  changesPerSecond: number,
  spentMs: number,
  delivered: number,
): number {
  if (changesPerSecond > BUSY_CHANGES_PER_SECOND) {
    return Math.min(MAX_YIELD_MS, Math.max(READ_GAP_MS, spentMs * YIELD_FACTOR));
  }
  return delivered < BATCH_SIZE ? READ_GAP_MS : 0;
}

/**
 * Whether a sink holds off delivering: the write path is busy, and the sink was caught up less
 * than `budgetMs` ago.
 */
export function holdsOff(commitsPerSecond: number, sinceCaughtUpMs: number, budgetMs: number) {
  return commitsPerSecond > BUSY_CHANGES_PER_SECOND && sinceCaughtUpMs < budgetMs;
}

/**
 * Feeds one sink: while this instance holds the sink's lease, takes the applied changes after the
 * sink's stored position, delivers them in feed order, retrying until the sink confirms, then
 * stores the new position. The changes come from the instance's one ChangeReader: those it passes
 * while the runner listens are kept (up to MAX_BUFFERED), so that a sink that keeps up costs no
 * query; older ones (those before the runner listened, or dropped) are read back with
 * ChangeReader.replay. Runs beside the write path and never blocks it: a sink that is down only
 * makes this loop wait.
 */
export class SinkRunner implements FeedListener {
  readonly filter = {};
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private interruptedRead = false;
  private failing = false;
  private lease: Lease | undefined;
  // The changes the reader passed after `bufferedAfter`, in feed order, none missing.
  private buffered: FeedChange[] = [];
  private bufferedAfter: FeedPosition = { xid: 0n, id: 0n };
  // Set while the runner listens to the reader: stops listening.
  private stopListening: (() => void) | undefined;
  // The reader passed more than MAX_BUFFERED changes the sink has not taken yet.
  private overflowed = false;
  private readonly holdOffBudgetMs: number;

  constructor(
    readonly sink: EventSink,
    private readonly reader: ChangeReader,
    private readonly cursors: SinkCursors,
    private readonly metrics: EventMetrics,
    private readonly holder: string,
    maxLagSeconds: number,
  ) {
    this.logger = new Logger(`Events(${sink.name})`);
    this.holdOffBudgetMs = (maxLagSeconds * 1000) / 2;
  }

  /** Whether this instance feeds the sink now. */
  get feeding(): boolean {
    return this.lease?.valid ?? false;
  }

  start(): void {
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake();
    await this.loopDone;
    await this.sink.close().catch(() => undefined);
  }

  /** FeedListener: the reader passed a change (the next one after those kept). */
  deliver(change: FeedChange): void {
    if (this.buffered.length >= MAX_BUFFERED) {
      // Dropped: from the database after all, when the sink gets there; the runner stops
      // listening until it has caught up.
      this.overflowed = true;
      this.buffered = [];
      this.bufferedAfter = change.position;
    } else {
      this.buffered.push(change);
    }
    this.wake();
  }

  interrupted(): void {
    this.interruptedRead = true;
    this.wake();
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      try {
        const claimedAt = Date.now();
        const position = await this.cursors.claim(this.sink.name, this.holder, LEASE_MS);
        attempt = 0;
        if (position === undefined) {
          await pause(CLAIM_RETRY_MS, this.stopping.signal);
          continue;
        }
        this.lease = new Lease(this.cursors, this.sink.name, this.holder, claimedAt);
        await this.feed(this.lease, position);
      } catch (error) {
        if (this.stopping.signal.aborted) {
          break;
        }
        this.logger.warn(`Cannot feed the sink from the database: ${describeError(error)}`);
        await pause(backoffMs(attempt++, RETRY_BASE_MS, RETRY_MAX_MS), this.stopping.signal);
      } finally {
        this.lease?.end();
      }
    }
    if (this.lease !== undefined) {
      this.lease = undefined;
      // Another instance takes over at once instead of after the lease runs out.
      await this.cursors.release(this.sink.name, this.holder).catch(() => undefined);
    }
  }

  private async feed(lease: Lease, from: FeedPosition): Promise<void> {
    // Connecting (and declaring the exchange or stream) is the slowest step of a first delivery:
    // done now, before changes wait for it; a failure here is retried by the delivery.
    await this.sink.connect().catch(() => undefined);
    const signal = AbortSignal.any([this.stopping.signal, lease.lost]);
    let position = from;
    let caughtUpAt = performance.now();
    // Far behind, the runner reads back from the database up to the current cut instead of
    // listening: the reader would read every change once more only for the runner to drop it.
    let behind = false;
    try {
      while (!signal.aborted) {
        if (this.holdingOff(caughtUpAt)) {
          this.unlisten();
          behind = true;
          while (!signal.aborted && this.holdingOff(caughtUpAt)) {
            await pause(READ_GAP_MS, signal);
          }
          continue;
        }
        if (this.overflowed) {
          this.overflowed = false;
          this.unlisten();
          behind = true;
        }
        if (this.stopListening !== undefined) {
          if (this.interruptedRead) {
            throw new Error('the change feed stopped reading');
          }
        } else if (behind) {
          this.buffered = [];
          this.bufferedAfter = await this.reader.cut();
        } else {
          await this.listen();
        }
        this.woken = false;
        const started = performance.now();
        const changes = await this.next(position);
        if (behind && changes.length < BATCH_SIZE) {
          // Up to the cut: from the next batch on, the reader passes the changes.
          behind = false;
          if (changes.length === 0) {
            continue;
          }
        }
        if (changes.length === 0) {
          caughtUpAt = performance.now();
          await this.idle(signal);
          await pause(READ_GAP_MS, signal);
          continue;
        }
        if (!(await this.deliverAll(changes, signal))) {
          return;
        }
        const last = changes[changes.length - 1].position;
        if (!(await lease.advance(last))) {
          return;
        }
        position = last;
        this.metrics.delivered(this.sink.name, changes.length);
        if (changes.length < BATCH_SIZE) {
          caughtUpAt = performance.now();
        }
        const wait = pauseAfterBatch(
          this.reader.commitsPerSecond,
          performance.now() - started,
          changes.length,
        );
        if (wait > 0) {
          await pause(wait, signal);
        }
      }
    } finally {
      this.unlisten();
    }
  }

  private unlisten(): void {
    this.stopListening?.();
    this.stopListening = undefined;
  }

  private holdingOff(caughtUpAt: number): boolean {
    return holdsOff(
      this.reader.commitsPerSecond,
      performance.now() - caughtUpAt,
      this.holdOffBudgetMs,
    );
  }

  /**
   * Keeps the changes the reader passes from now on; those before come back from the database
   * (next) when the sink gets there.
   */
  private async listen(): Promise<void> {
    await this.reader.acquire();
    this.interruptedRead = false;
    this.overflowed = false;
    this.buffered = [];
    this.bufferedAfter = this.reader.head;
    const unsubscribe = this.reader.subscribe(this);
    this.stopListening = () => {
      unsubscribe();
      this.buffered = [];
      this.reader.release();
    };
  }

  /** Up to BATCH_SIZE changes after `position`, in feed order: kept ones, or read back. */
  private async next(position: FeedPosition): Promise<readonly FeedChange[]> {
    for (;;) {
      const upTo = this.bufferedAfter;
      if (comparePositions(position, upTo) >= 0) {
        break;
      }
      // Everything up to bufferedAfter has been passed by the reader, so it is all committed.
      const changes = await this.reader.replay(position, upTo, {}, BATCH_SIZE);
      if (changes.length > 0) {
        return changes;
      }
      if (upTo === this.bufferedAfter) {
        // Nothing between `position` and the kept changes: those come next.
        position = upTo;
      }
    }
    const buffered = this.buffered;
    let delivered = 0;
    while (
      delivered < buffered.length &&
      comparePositions(buffered[delivered].position, position) <= 0
    ) {
      delivered++;
    }
    buffered.splice(0, delivered);
    return buffered.slice(0, BATCH_SIZE);
  }

  /** Delivers until the sink confirms all (true) or the signal aborts (false). */
  private async deliverAll(
    changes: Parameters<EventSink['deliver']>[0],
    signal: AbortSignal,
  ): Promise<boolean> {
    const context = { signal, failed: (error: unknown) => this.failed(error) };
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.sink.deliver(changes, context);
        if (this.failing) {
          this.failing = false;
          this.logger.log('Delivering again');
        }
        return !signal.aborted;
      } catch (error) {
        if (signal.aborted) {
          break;
        }
        this.failed(error);
        await pause(backoffMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS), signal);
      }
    }
    return false;
  }

  private failed(error: unknown): void {
    this.metrics.failed(this.sink.name);
    if (!this.failing) {
      this.failing = true;
      this.logger.warn(`Delivery failed, retrying with backoff: ${describeError(error)}`);
    }
  }

  private idle(signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, IDLE_WAIT_MS);
      signal.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
    });
  }
}
