import { type Parsed, parseInstant } from '../http/fields.js';
import { type ListOrder } from './sql/read.js';

// Cursors are opaque to clients: the keyset of the last item a page sent, checked on return.

const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,1024}$/;
const NOT_OURS = 'is not a cursor this service issued';

/**
 * The last command a GET /commands page sent, in the page's order: newest (createdAt desc, then
 * commandId desc) or silent (updatedAt, then commandId). `at` is createdAt or updatedAt.
 */
export interface CommandKeyset {
  order: ListOrder;
  at: Date;
  commandId: string;
}

// A newest-first cursor is [createdAt, commandId], as it has always been; other orders put their
// name first, so that a cursor names the order it continues.
export function encodeListCursor(keyset: {
  order: ListOrder;
  at: string;
  commandId: string;
}): string {
  const value =
    keyset.order === 'newest'
      ? [keyset.at, keyset.commandId]
      : [keyset.order, keyset.at, keyset.commandId];
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function parseListCursor(given: unknown): Parsed<CommandKeyset> {
  const decoded = decode(given);
  if ('problem' in decoded) {
    return decoded;
  }
  const value = decoded.value;
  if (!Array.isArray(value) || !value.every((part) => typeof part === 'string')) {
    return { problem: NOT_OURS };
  }
  const parts = value;
  const [order, at, commandId]: [string, string | undefined, string | undefined] =
    parts.length === 2 ? ['newest', parts[0], parts[1]] : [parts[0], parts[1], parts[2]];
  const time = at === undefined ? undefined : parseInstant(at);
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    (parts.length === 3 && order !== 'silent') ||
    time === undefined ||
    commandId === undefined ||
    commandId.length === 0 ||
    !commandId.isWellFormed() ||
    commandId.includes('\u0000')
  ) {
    return { problem: NOT_OURS };
  }
  return { value: { order: order as ListOrder, at: time, commandId } };
}

/** A history cursor is the id of the last entry sent: the next page starts after it. */
export function encodeHistoryCursor(entryId: string): string {
  return Buffer.from(JSON.stringify({ after: entryId })).toString('base64url');
}

// A history entry id is a positive bigint.
const ENTRY_ID = /^[1-9]\d{0,17}$/;

export function parseHistoryCursor(given: unknown): Parsed<string> {
  const decoded = decode(given);
  if ('problem' in decoded) {
    return decoded;
  }
  const value = decoded.value as { after?: unknown } | null;
  const after = typeof value === 'object' && value !== null ? value.after : undefined;
  return typeof after === 'string' && ENTRY_ID.test(after)
    ? { value: after }
    : { problem: NOT_OURS };
}

function decode(given: unknown): { value: unknown } | { problem: string } {
  if (typeof given !== 'string') {
    return { problem: 'must be a string' };
  }
  if (!CURSOR_TEXT.test(given)) {
    return { problem: NOT_OURS };
  }
  try {
    return { value: JSON.parse(Buffer.from(given, 'base64url').toString('utf8')) };
  } catch {
    return { problem: NOT_OURS };
  }
}
