/**
 * A place in the change feed: just after the history row `id` written by transaction `xid`. The
 * feed is ordered by (xid, id); an event's SSE id is its row's position, encoded as `xid-id`, which
 * clients treat as opaque and send back as Last-Event-ID.
 */
export interface FeedPosition {
  readonly xid: bigint;
  readonly id: bigint;
}

// Both parts are PostgreSQL bigints (xid8 values fit: their epoch never reaches 2^31).
const MAX_BIGINT = 2n ** 63n - 1n;
const POSITION = /^(\d{1,19})-(\d{1,19})$/;

export function encodePosition(position: FeedPosition): string {
  return `${position.xid}-${position.id}`;
}

/** The position an event id names, or undefined when it is not one this feed issues. */
export function decodePosition(text: string): FeedPosition | undefined {
  const match = POSITION.exec(text);
  if (match === null) {
    return undefined;
  }
  const xid = BigInt(match[1]);
  const id = BigInt(match[2]);
  return xid <= MAX_BIGINT && id <= MAX_BIGINT ? { xid, id } : undefined;
}

/** Negative, zero or positive as `a` comes before, at or after `b` in the feed. */
export function comparePositions(a: FeedPosition, b: FeedPosition): number {
  if (a.xid !== b.xid) {
    return a.xid < b.xid ? -1 : 1;
  }
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** The later of two positions. */
export function laterPosition(a: FeedPosition, b: FeedPosition): FeedPosition {
  return comparePositions(a, b) >= 0 ? a : b;
}
