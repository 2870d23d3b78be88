import { type Parsed, parseInstant } from '../http/fields.js';

// Cursors are opaque to clients: the keyset of the last item a page sent, checked on return.

const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,1024}$/;
const NOT_OURS = 'is not a cursor this service issued';

/** A command in GET /commands' order (createdAt desc, then commandId desc). */
export interface CommandKeyset {
  createdAt: Date;
  commandId: string;
}

export function encodeListCursor(keyset: { createdAt: string; commandId: string }): string {
  return Buffer.from(JSON.stringify([keyset.createdAt, keyset.commandId])).toString('base64url');
}

export function parseListCursor(given: unknown): Parsed<CommandKeyset> {
  const decoded = decode(given);
  if ('problem' in decoded) {
    return decoded;
  }
  const value = decoded.value;
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'string' ||
    typeof value[1] !== 'string'
  ) {
    return { problem: NOT_OURS };
  }
  const createdAt = parseInstant(value[0]);
  const commandId: string = value[1];
  if (
    createdAt === undefined ||
    commandId.length === 0 ||
    !commandId.isWellFormed() ||
    commandId.includes('\u0000')
  ) {
    return { problem: NOT_OURS };
  }
  return { value: { createdAt, commandId } };
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
