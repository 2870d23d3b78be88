import { type FeedChange } from '../feed/feed-change.js';

export const SINK_NAMES = ['amqp', 'nats', 'webhook'] as const;
export type SinkName = (typeof SINK_NAMES)[number];

export interface DeliveryContext {
  /** Aborted when the instance stops or loses the sink's lease: give up, confirming nothing. */
  readonly signal: AbortSignal;
  /** A failed attempt that the sink retries by itself (counted and logged by the caller). */
  failed(error: unknown): void;
}

/** Somewhere applied changes go: a broker or a webhook. */
export interface EventSink {
  readonly name: SinkName;
  /**
   * Delivers `changes` (in feed order, each sent with its feed position as id) and resolves once
   * the sink confirmed every one of them; rejects when it could not (the caller retries them all).
   */
  deliver(changes: readonly FeedChange[], context: DeliveryContext): Promise<void>;
  /** Opens the connection ahead of the first delivery (deliver() opens one itself otherwise). */
  connect(): Promise<void>;
  /** Closes any connection; deliver() opens a new one if called again. */
  close(): Promise<void>;
}

/** Exponential backoff with full jitter: attempt 0 waits up to `baseMs`, never over `maxMs`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `work`, or a rejection as soon as `signal` aborts (the work itself is left to settle). */
export async function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  let stopped: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    stopped = () => reject(new Error('stopped'));
    signal.addEventListener('abort', stopped, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (stopped !== undefined) {
      signal.removeEventListener('abort', stopped);
    }
  }
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  // fetch() says only "fetch failed"; the reason (ECONNREFUSED, a timeout) is its cause.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
