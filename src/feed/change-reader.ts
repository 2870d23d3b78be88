import { DatabaseUnavailableError } from '../database/database-errors.js';
import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { FeedMetrics } from '../metrics/feed-metrics.js';
import { CommitRate } from './commit-rate.js';
import { type ChangeFilter, type ChangeRow, type FeedChange, toFeedChange } from './feed-change.js';
import { type FeedPosition, comparePositions, laterPosition } from './feed-position.js';
import {
  FEED_CUT_SQL,
  FEED_HOLDBACK_SQL,
  FEED_READ_SQL,
  FEED_REPLAY_SQL,
  FEED_ROW_XID_SQL,
} from './feed-statements.js';

/** Receives the changes the reader passes, in feed order. */
export interface FeedListener {
  /**
   * The changes it wants. The reader passes a listener with a commandId only that command's
   * changes, one with a deviceId only that device's, so that a change costs one call per listener
   * that may want it, not one per stream; deliver() still checks the whole filter.
   */
  readonly filter: ChangeFilter;
  deliver(change: FeedChange): void;
  /** The reader stopped (shutdown, or the database unreachable for a while): the stream must end. */
  interrupted(): void;
}

// How often the reader looks for changes committed by any instance; a commit on this instance
// wakes it sooner, but not more often than MIN_READ_GAP_MS, so a busy write path costs one read
// per gap, not one per report.
const POLL_MS = 75;
const MIN_READ_GAP_MS = 40;
const READ_PAGE_SIZE = 1000;
// Replays of all streams share this many connections at a time: many clients resuming at once
// (after a restart, say) take turns instead of taking the pool from the reader and the writers.
const REPLAY_CONCURRENCY = 2;
// A read failing for this long ends the streams (their clients resume with Last-Event-ID).
const FAILURE_GRACE_MS = 3000;

interface ReadRow extends Partial<ChangeRow> {
  cut: string;
}

/**
 * The instance's one reader of the change feed: while any stream uses it, it reads the applied
 * history from its position in (xid, id) order, passes each change to the live streams and
 * moves on. It keeps no changes: a stream that needs older ones replays them itself (replay).
 */
@Injectable()
export class ChangeReader implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ChangeReader.name);
  private readonly listeners = new Set<FeedListener>();
  // The listeners again, by what they want (see FeedListener.filter).
  private readonly unfiltered = new Set<FeedListener>();
  private readonly byCommand = new Map<string, Set<FeedListener>>();
  private readonly byDevice = new Map<string, Set<FeedListener>>();
  private users = 0;
  // Defined while running: everything up to it has been passed to the listeners.
  private position: FeedPosition | undefined;
  private starting: Promise<void> | undefined;
  // Bumped at each start and stop, so that a read of an earlier run changes nothing.
  private run = 0;
  private timer: NodeJS.Timeout | undefined;
  // The run whose read is in flight, if any.
  private readingRun: number | undefined;
  private wanted = false;
  private lastReadAt = 0;
  private failingSince: number | undefined;
  private closed = false;
  private completedReads = 0;
  private replaying = 0;
  private readonly replayQueue: (() => void)[] = [];
  private readonly commits = new CommitRate();

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: FeedMetrics,
  ) {}

  /** Everything up to here has been passed to the listeners; defined while the reader is in use. */
  get head(): FeedPosition {
    if (this.position === undefined) {
      throw new Error('The change reader is not running');
    }
    return this.position;
  }

  /** Streams receiving live changes (those still replaying are not counted). */
  get liveListeners(): number {
    return this.listeners.size;
  }

  /**
   * About how many times in the last second this instance committed applied changes (each report,
   * each sweep: wake() counts them, whether or not the reader runs): how busy its write path is.
   */
  get commitsPerSecond(): number {
    return this.commits.perSecond();
  }

  /** Reads that completed since start-up, successful or not (for diagnostics and tests). */
  get reads(): number {
    return this.completedReads;
  }

  /**
   * Starts using the reader (starting it if needed): settles once it has a position, or fails
   * with DatabaseUnavailableError when it cannot read. Each acquire is paired with one release.
   */
  async acquire(): Promise<void> {
    if (this.closed) {
      throw new DatabaseUnavailableError('shutting down');
    }
    if (this.failingSince !== undefined) {
      throw new DatabaseUnavailableError('the change feed cannot read the history');
    }
    this.users++;
    try {
      this.starting ??= this.start();
      await this.starting;
    } catch (error) {
      this.release();
      throw new DatabaseUnavailableError(error);
    }
  }

  release(): void {
    this.users--;
    if (this.users === 0) {
      this.stop();
    }
  }

  /** `listener` gets every change after the current head. */
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    const { commandId, deviceId } = listener.filter;
    const [index, key] =
      commandId !== undefined
        ? [this.byCommand, commandId]
        : deviceId !== undefined
          ? [this.byDevice, deviceId]
          : [undefined, undefined];
    if (index === undefined || key === undefined) {
      this.unfiltered.add(listener);
    } else {
      let set = index.get(key);
      if (set === undefined) {
        set = new Set();
        index.set(key, set);
      }
      set.add(listener);
    }
    return () => {
      this.listeners.delete(listener);
      if (index === undefined || key === undefined) {
        this.unfiltered.delete(listener);
        return;
      }
      const set = index.get(key);
      set?.delete(listener);
      if (set?.size === 0) {
        index.delete(key);
      }
    };
  }

  /** A change committed on this instance: read soon rather than at the next poll. */
  wake(): void {
    this.commits.count();
    if (this.position === undefined || this.closed) {
      return;
    }
    if (this.readingRun === this.run) {
      this.wanted = true;
      return;
    }
    if (!this.wanted) {
      this.wanted = true;
      this.schedule(Math.max(0, this.lastReadAt + MIN_READ_GAP_MS - Date.now()));
    }
  }

  /** Up to `limit` applied changes matching `filter` after `after` and up to `upTo` (a head). */
  async replay(
    after: FeedPosition,
    upTo: FeedPosition,
    filter: ChangeFilter,
    limit: number,
  ): Promise<FeedChange[]> {
    if (this.replaying >= REPLAY_CONCURRENCY) {
      await new Promise<void>((resolve) => this.replayQueue.push(resolve));
    } else {
      this.replaying++;
    }
    try {
      const rows = await this.dataSource.query<ChangeRow[]>(FEED_REPLAY_SQL, [
        after.xid.toString(),
        after.id.toString(),
        upTo.xid.toString(),
        upTo.id.toString(),
        filter.deviceId ?? null,
        filter.commandId ?? null,
        limit,
      ]);
      return rows.map(toFeedChange);
    } finally {
      // The turn passes to the next replay waiting, if any.
      const next = this.replayQueue.shift();
      if (next === undefined) {
        this.replaying--;
      } else {
        next();
      }
    }
  }

  /**
   * The current cut as a position: every change up to it is committed, whether or not the reader
   * runs, so that it bounds a replay (the reader's own head is one such position).
   */
  async cut(): Promise<FeedPosition> {
    const [row] = await this.dataSource.query<{ xmin: string }[]>(FEED_CUT_SQL);
    return { xid: BigInt(row.xmin), id: 0n };
  }

  /** The position just after history row `id`, or undefined when there is no such row. */
  async positionOfHistoryId(id: bigint): Promise<FeedPosition | undefined> {
    const rows = await this.dataSource.query<{ xid: string }[]>(FEED_ROW_XID_SQL, [id.toString()]);
    return rows.length === 0 ? undefined : { xid: BigInt(rows[0].xid), id };
  }

  /** Age in seconds of the oldest transaction on the server that holds the feed back. */
  async holdbackSeconds(): Promise<number> {
    const [row] = await this.dataSource.query<{ seconds: number }[]>(FEED_HOLDBACK_SQL);
    return row.seconds;
  }

  beforeApplicationShutdown(): void {
    this.closed = true;
    this.interruptAll();
    this.stop();
  }

  private async start(): Promise<void> {
    const run = ++this.run;
    try {
      const cut = await this.cut();
      if (run !== this.run) {
        throw new Error('the change reader stopped while starting');
      }
      // Every transaction below the cut has ended: the stream starts with those after it.
      this.position = cut;
      this.failingSince = undefined;
      this.schedule(POLL_MS);
    } finally {
      if (run === this.run && this.position === undefined) {
        this.starting = undefined;
      }
    }
  }

  private stop(): void {
    this.run++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.position = undefined;
    this.starting = undefined;
    this.wanted = false;
    this.failingSince = undefined;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.read(), delayMs);
  }

  private async read(): Promise<void> {
    const run = this.run;
    const from = this.position;
    if (from === undefined || this.readingRun === run) {
      return;
    }
    this.readingRun = run;
    this.wanted = false;
    this.lastReadAt = Date.now();
    let full = false;
    try {
      const rows = await this.dataSource.query<ReadRow[]>(FEED_READ_SQL, [
        from.xid.toString(),
        from.id.toString(),
        READ_PAGE_SIZE,
      ]);
      if (run !== this.run) {
        return;
      }
      this.failingSince = undefined;
      const changes = rows
        .filter((row) => row.id !== null)
        .map((row) => toFeedChange(row as ChangeRow));
      full = changes.length === READ_PAGE_SIZE;
      this.pass(changes);
      if (!full && rows.length > 0) {
        // Nothing else below the cut: the next read starts there, over no finished rows again.
        this.position = laterPosition(this.head, { xid: BigInt(rows[0].cut), id: 0n });
      }
    } catch (error) {
      if (run !== this.run) {
        return;
      }
      this.failed(error);
    } finally {
      this.completedReads++;
      if (this.readingRun === run) {
        this.readingRun = undefined;
      }
      if (run === this.run) {
        if (this.position !== undefined) {
          this.schedule(full ? 0 : this.wanted ? MIN_READ_GAP_MS : POLL_MS);
        }
      }
    }
  }

  private pass(changes: FeedChange[]): void {
    const now = Date.now();
    for (const change of changes) {
      // The head moves before the listeners see the change: one subscribing meanwhile cannot.
      if (comparePositions(change.position, this.head) <= 0) {
        continue;
      }
      this.position = change.position;
      this.metrics.changeRead((now - change.receivedAtMs) / 1000);
      for (const listener of this.unfiltered) {
        listener.deliver(change);
      }
      for (const set of [
        this.byCommand.get(change.commandId),
        this.byDevice.get(change.deviceId),
      ]) {
        if (set !== undefined) {
          for (const listener of set) {
            listener.deliver(change);
          }
        }
      }
    }
  }

  private failed(error: unknown): void {
    const now = Date.now();
    if (this.failingSince === undefined) {
      this.failingSince = now;
      this.logger.warn(`The change feed cannot read the history: ${describe(error)}`);
    }
    if (now - this.failingSince >= FAILURE_GRACE_MS) {
      this.logger.warn('The change feed ends its streams: the history is unreadable');
      this.interruptAll();
    }
  }

  private interruptAll(): void {
    for (const listener of [...this.listeners]) {
      listener.interrupted();
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
