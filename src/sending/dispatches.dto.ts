import { ApiPropertyOptional } from '@nestjs/swagger';
import { DispatchCommandDto } from '../platform/dispatch.dto.js';
import { INSTANT_MESSAGE, instantOf } from '../http/instants.js';
import { IsIdentifier, IsOneOf, IsText, Optional, ParsedWith } from '../http/validators.js';

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
export class QueueDispatchDto extends DispatchCommandDto {
  @ApiPropertyOptional({
    enum: DISPATCH_MODES,
    default: 'async',
    description: 'sync: IoTDA CreateCommand, for MQTT devices',
  })
  @Optional('async')
  @IsOneOf(DISPATCH_MODES)
  mode: DispatchMode = 'async';

  @ApiPropertyOptional({
    type: String,
    minLength: 1,
    maxLength: 128,
    description: 'A newer dispatch of the device with the same key replaces a queued older one',
  })
  @Optional()
  @IsText(128, false)
  replaceKey?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'Not sent before (default now)',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  notBefore?: Date;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'Expired when not sent by then (default now + timeoutSeconds, or 48 h)',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  sendBy?: Date;
}

const STATE_LIST = new RegExp(`^(${DISPATCH_STATES.join('|')})(,(${DISPATCH_STATES.join('|')}))*$`);
const WHOLE_NUMBER = /^\d{1,4}$/;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;
export const MAX_DISPATCH_PAGE = 500;

const STATES_MESSAGE = `must be one or a comma-separated list of ${DISPATCH_STATES.join(', ')}`;
const PAGE_MESSAGE = `must be a whole number from 1 to ${MAX_DISPATCH_PAGE}`;

function stateList(given: unknown): DispatchState[] | undefined {
  return typeof given === 'string' && STATE_LIST.test(given)
    ? (given.split(',') as DispatchState[])
    : undefined;
}

function pageSize(given: unknown): number | undefined {
  const value = typeof given === 'string' && WHOLE_NUMBER.test(given) ? Number(given) : 0;
  return value >= 1 && value <= MAX_DISPATCH_PAGE ? value : undefined;
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

function cursor(given: unknown): DispatchCursor | undefined {
  if (typeof given !== 'string' || !CURSOR.test(given)) {
    return undefined;
  }
  const [at, dispatchId, ...rest] = Buffer.from(given, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  return rest.length > 0 || dispatchId === undefined || Number.isNaN(createdAt.getTime())
    ? undefined
    : { createdAt, dispatchId };
}

/** GET /dispatches */
export class ListDispatchesQuery {
  @ApiPropertyOptional({ type: String, example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' })
  @Optional()
  @IsIdentifier()
  deviceId?: string;

  @ApiPropertyOptional({
    type: String,
    description: `One state or a comma-separated list of ${DISPATCH_STATES.join(', ')}`,
    example: 'queued,sending',
  })
  @ParsedWith('isStateList', stateList, STATES_MESSAGE)
  state?: DispatchState[];

  @ApiPropertyOptional({ type: String, description: 'Dispatches of this campaign' })
  @Optional()
  @IsIdentifier()
  campaignId?: string;

  @ApiPropertyOptional({
    type: String,
    description: `Page size, 1 to ${MAX_DISPATCH_PAGE} (default 50)`,
    example: '50',
  })
  @ParsedWith('isPageSize', pageSize, PAGE_MESSAGE, 50)
  limit: number = 50;

  @ApiPropertyOptional({ type: String, description: "Opaque, from the previous page's nextCursor" })
  @ParsedWith('isCursor', cursor, 'is not a cursor this service issued')
  cursor?: DispatchCursor;
}
