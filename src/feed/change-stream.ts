import { Logger } from '@nestjs/common';
import { once } from 'node:events';
import { type ServerResponse } from 'node:http';
import { type ChangeReader, type FeedListener } from './change-reader.js';
import { type ChangeFilter, type FeedChange, matches } from './feed-change.js';
import {
  type FeedPosition,
  comparePositions,
  encodePosition,
  laterPosition,
} from './feed-position.js';

// A replay reads the history in pages of this many changes, sending each before reading the next.
const REPLAY_PAGE_SIZE = 500;
// A replay waits for the client to take what was sent when more than this is unsent...
const REPLAY_HIGH_WATER_BYTES = 256 * 1024;
// ...for at most this long before it gives up on the client.
const REPLAY_DRAIN_TIMEOUT_MS = 30_000;
// A live stream whose client leaves this much unsent is ended (it resumes with Last-Event-ID).
export const MAX_UNSENT_BYTES = 1024 * 1024;
// Tells EventSource how long to wait before reconnecting.
const CLIENT_RETRY_MS = 2000;

export interface StreamOptions {
  filter: ChangeFilter;
  /** Resume after this position (Last-Event-ID); without it, the stream starts with what follows. */
  after?: FeedPosition;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Called once before the first write to the response (Fastify: reply.hijack()). */
  takeOver?: () => void;
}

/**
 * One GET /changes connection. From Last-Event-ID it replays the history page by page up to the
 * reader's head, chasing it while it moves, and joins the reader's live changes once it has
 * reached it: the join and the head's move are both synchronous, so no change falls between them
 * and none comes twice. A live stream holds only the position it resumed from, to skip what it
 * already sent when it resumed ahead of this instance's reader.
 */
export class ChangeStream implements FeedListener {
  private readonly logger = new Logger(ChangeStream.name);
  private skipUpTo: FeedPosition | undefined;
  private acquired = false;
  private ended = false;
  private takenOver = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: StreamOptions,
    private readonly reader: ChangeReader,
    private readonly heartbeatSeconds: number,
    private readonly onEnd: () => void,
  ) {}

  /**
   * Serves the stream until it starts its live part; throws, with nothing written, when it cannot
   * start (the caller answers with problem details).
   */
  async run(): Promise<void> {
    this.response.once('close', () => this.end());
    let firstPage: FeedChange[] = [];
    let firstBound: FeedPosition | undefined;
    const after = this.options.after;
    try {
      await this.reader.acquire();
      this.acquired = true;
      firstBound = this.reader.head;
      if (after !== undefined && comparePositions(after, firstBound) < 0) {
        firstPage = await this.reader.replay(
          after,
          firstBound,
          this.options.filter,
          REPLAY_PAGE_SIZE,
        );
      }
    } catch (error) {
      this.finish();
      throw error;
    }
    if (this.ended) {
      return;
    }
    this.takeOver();
    this.response.writeHead(200, {
      ...this.options.headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The first message is the position the stream starts from, alone: EventSource keeps it as its
    // last event id, so a client that reconnects before any change reached it resumes from there.
    // A fresh stream starts at the head it joins in this same synchronous step, so resuming from
    // it neither skips nor repeats a change.
    this.response.write(`id: ${encodePosition(after ?? firstBound)}\n\n`);
    this.response.write(`retry: ${CLIENT_RETRY_MS}\n\n`);
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), this.heartbeatSeconds * 1000);
    this.heartbeat.unref();
    if (after === undefined) {
      this.join(undefined);
    } else {
      await this.replayThenJoin(after, firstPage, firstBound);
    }
  }

  get filter(): ChangeFilter {
    return this.options.filter;
  }

  deliver(change: FeedChange): void {
    if (this.skipUpTo !== undefined) {
      if (comparePositions(change.position, this.skipUpTo) <= 0) {
        return;
      }
      this.skipUpTo = undefined;
    }
    if (matches(change, this.options.filter)) {
      this.write(change.message);
    }
  }

  interrupted(): void {
    this.end();
  }

  /** Ends the stream (also at shutdown): the client resumes elsewhere or later. */
  end(): void {
    if (this.ended) {
      return;
    }
    this.finish();
    this.takeOver();
    if (!this.response.writableEnded) {
      this.response.end();
    }
  }

  /**
   * Joins the reader's live changes. Called in the same synchronous step as the check that the
   * stream has reached the head: the head cannot move in between.
   */
  private join(sentUpTo: FeedPosition | undefined): void {
    this.skipUpTo = sentUpTo;
    this.unsubscribe = this.reader.subscribe(this);
  }

  /**
   * Sends the history after `after` (`firstPage` holds its first changes up to `firstBound`) page
   * by page up to the reader's head, chasing the head while it moves, then joins.
   */
  private async replayThenJoin(
    after: FeedPosition,
    firstPage: FeedChange[],
    firstBound: FeedPosition,
  ): Promise<void> {
    let page = firstPage;
    let bound = firstBound;
    let position = after;
    try {
      for (;;) {
        for (const change of page) {
          this.response.write(change.message);
        }
        // A short page means nothing else up to the bound; a position ahead of it stays.
        position =
          page.length === REPLAY_PAGE_SIZE
            ? page[page.length - 1].position
            : laterPosition(position, bound);
        if (this.response.writableLength > REPLAY_HIGH_WATER_BYTES && !(await this.drained())) {
          this.logger.warn('A /changes client stopped reading its replay; ending its stream');
          this.end();
        }
        if (this.ended) {
          return;
        }
        bound = this.reader.head;
        if (comparePositions(position, bound) >= 0) {
          this.join(position);
          return;
        }
        page = await this.reader.replay(position, bound, this.options.filter, REPLAY_PAGE_SIZE);
        if (this.ended) {
          return;
        }
      }
    } catch (error) {
      this.logger.warn(`Replay of /changes failed: ${describe(error)}`);
      this.end();
    }
  }

  /** Waits for the response to drain; false when it did not within the timeout, or it closed. */
  private async drained(): Promise<boolean> {
    const signal = AbortSignal.timeout(REPLAY_DRAIN_TIMEOUT_MS);
    try {
      await Promise.race([
        once(this.response, 'drain', { signal }),
        once(this.response, 'close', { signal }),
      ]);
      return !this.ended && this.response.writableLength <= REPLAY_HIGH_WATER_BYTES;
    } catch {
      return false;
    }
  }

  private write(text: string): void {
    if (this.ended) {
      return;
    }
    this.response.write(text);
    if (this.response.writableLength > MAX_UNSENT_BYTES) {
      this.logger.warn('A /changes client is not keeping up; ending its stream');
      this.end();
    }
  }

  private takeOver(): void {
    if (!this.takenOver) {
      this.takenOver = true;
      this.options.takeOver?.();
    }
  }

  /** Releases everything the stream holds; idempotent. */
  private finish(): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    if (this.acquired) {
      this.acquired = false;
      this.reader.release();
    }
    this.onEnd();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
