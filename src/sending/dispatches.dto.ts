import {
  type Parsed,
  type ParsedFields,
  identifier,
  instant,
  oneOf,
  optional,
  text,
  withDefault,
} from '../http/fields.js';
import { DISPATCH_COMMAND_BODY } from '../platform/dispatch.dto.js';

export const DISPATCH_MODES = ['async', 'sync'] as const;
export type DispatchMode = (typeof DISPATCH_MODES)[number];

export const DISPATCH_STATES = [
  'queued',
  'sending',
  'sent',
  'failed',
  'expired',
  'canceled',
  'superseded',
] as const;
export type DispatchState = (typeof DISPATCH_STATES)[number];

export const ATTEMPT_OUTCOMES = [
  'sent',
  'refused',
  'offline',
  'throttled',
  'unavailable',
  'lost',
] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** POST /dispatches: POST /commands/dispatch's body, plus how and when to send it. */
export const QUEUE_DISPATCH_BODY = {
  ...DISPATCH_COMMAND_BODY,
  mode: withDefault<DispatchMode>('async', oneOf(DISPATCH_MODES), {
    type: 'string',
    enum: [...DISPATCH_MODES],
    default: 'async',
    description: 'sync: IoTDA CreateCommand, for MQTT devices',
  }),
  replaceKey: optional(text(128, false), {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    description: 'A newer dispatch of the device with the same key replaces a queued older one',
  }),
  notBefore: optional(instant, {
    type: 'string',
    format: 'date-time',
    description: 'Not sent before (default now)',
  }),
  sendBy: optional(instant, {
    type: 'string',
    format: 'date-time',
    description: 'Expired when not sent by then (default now + timeoutSeconds, or 48 h)',
  }),
};

export type QueueDispatchDto = ParsedFields<typeof QUEUE_DISPATCH_BODY>;

const STATE_LIST = new RegExp(`^(${DISPATCH_STATES.join('|')})(,(${DISPATCH_STATES.join('|')}))*$`);
const WHOLE_NUMBER = /^\d{1,4}$/;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;
export const MAX_DISPATCH_PAGE = 500;

function stateList(given: unknown): Parsed<DispatchState[]> {
  return typeof given === 'string' && STATE_LIST.test(given)
    ? { value: given.split(',') as DispatchState[] }
    : { problem: `must be one or a comma-separated list of ${DISPATCH_STATES.join(', ')}` };
}

function pageSize(given: unknown): Parsed<number> {
  const value = typeof given === 'string' && WHOLE_NUMBER.test(given) ? Number(given) : 0;
  return value >= 1 && value <= MAX_DISPATCH_PAGE
    ? { value }
    : { problem: `must be a whole number from 1 to ${MAX_DISPATCH_PAGE}` };
}

/** The position after a dispatch in newest-first order: its createdAt and id. */
export interface DispatchCursor {
  createdAt: Date;
  dispatchId: string;
}

export function encodeCursor(cursor: DispatchCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.dispatchId}`, 'utf8').toString(
    'base64url',
  );
}

function cursor(given: unknown): Parsed<DispatchCursor> {
  const problem = { problem: 'is not a cursor this service issued' };
  if (typeof given !== 'string' || !CURSOR.test(given)) {
    return problem;
  }
  const [at, dispatchId, ...rest] = Buffer.from(given, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  return rest.length > 0 || dispatchId === undefined || Number.isNaN(createdAt.getTime())
    ? problem
    : { value: { createdAt, dispatchId } };
}

/** GET /dispatches */
export const LIST_DISPATCHES_QUERY = {
  deviceId: optional(identifier, { example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' }),
  state: optional(stateList, {
    description: `One state or a comma-separated list of ${DISPATCH_STATES.join(', ')}`,
    example: 'queued,sending',
  }),
  campaignId: optional(identifier, { description: 'Dispatches of this campaign' }),
  limit: withDefault(50, pageSize, {
    description: `Page size, 1 to ${MAX_DISPATCH_PAGE} (default 50)`,
    example: '50',
  }),
  cursor: optional(cursor, { description: "Opaque, from the previous page's nextCursor" }),
};

export type ListDispatchesQuery = ParsedFields<typeof LIST_DISPATCHES_QUERY>;
