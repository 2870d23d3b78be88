import { parseInstant } from '../http/instants.js';
import { type ListOrder } from './sql/read.js';

// Cursors are opaque to clients: the keyset of the last item a page sent, checked on return.

const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,1024}$/;
const NOT_OURS = 'is not a cursor this service issued';

/** Why a given cursor does not parse. */
export function cursorProblem(given: unknown): string {
  return typeof given === 'string' ? NOT_OURS : 'must be a string';
}

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

/** The keyset a list cursor holds; undefined when it is not one this service issued. */
export function parseListCursor(given: unknown): CommandKeyset | undefined {
  const value = decode(given);
  if (!Array.isArray(value) || !value.every((part) => typeof part === 'string')) {
    return undefined;
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
    return undefined;
  }
  return { order: order as ListOrder, at: time, commandId };
}

/** A history cursor is the id of the last entry sent: the next page starts after it. */
export function encodeHistoryCursor(entryId: string): string {
  return Buffer.from(JSON.stringify({ after: entryId })).toString('base64url');
}

// A history entry id is a positive bigint.
const ENTRY_ID = /^[1-9]\d{0,17}$/;

/** The entry id a history cursor holds; undefined when it is not one this service issued. */
export function parseHistoryCursor(given: unknown): string | undefined {
  const value = decode(given) as { after?: unknown } | null | undefined;
  const after = typeof value === 'object' && value !== null ? value.after : undefined;
  return typeof after === 'string' && ENTRY_ID.test(after) ? after : undefined;
}

// The JSON a cursor encodes; undefined when it is not base64url JSON.
function decode(given: unknown): unknown {
  if (typeof given !== 'string' || !CURSOR_TEXT.test(given)) {
    return undefined;
  }
  try {
    return JSON.parse(Buffer.from(given, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
