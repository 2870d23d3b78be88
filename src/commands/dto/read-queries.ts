import { COMMAND_STATUSES, type CommandStatus } from '../command-status.js';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { INSTANT_MESSAGE, instantOf } from '../../http/instants.js';
import { type FieldProblem } from '../../http/json-checks.js';
import { IsIdentifier, IsOneOf, Optional, ParsedWith } from '../../http/validators.js';
import {
  type CommandKeyset,
  cursorProblem,
  parseHistoryCursor,
  parseListCursor,
} from '../read-cursors.js';
import { type ListOrder } from '../sql/read.js';

const LIST_ORDERS: readonly ListOrder[] = ['newest', 'silent'];

// The read routes' query strings: each parameter parsed and checked here, once, into the value the
// service uses. A parsed query string holds strings (repeated parameters are refused before); the
// checks still take anything, so that a value of another type gets the same message.

const STATUS = `(${COMMAND_STATUSES.join('|')})`;
const STATUS_LIST = new RegExp(`^${STATUS}(,${STATUS})*$`);
const WHOLE_NUMBER = /^[1-9]\d{0,3}$/;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_HISTORY_PAGE_SIZE = 1000;
export const DEFAULT_HISTORY_PAGE_SIZE = 100;

const STATUS_LIST_MESSAGE = `must be one or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`;

function statusList(given: unknown): CommandStatus[] | undefined {
  return typeof given === 'string' && STATUS_LIST.test(given)
    ? (given.split(',') as CommandStatus[])
    : undefined;
}

function pageSize(max: number): (given: unknown) => number | undefined {
  return (given) => {
    const value = typeof given === 'string' && WHOLE_NUMBER.test(given) ? Number(given) : 0;
    return value >= 1 && value <= max ? value : undefined;
  };
}

const pageSizeMessage = (max: number): string => `must be a whole number from 1 to ${max}`;

/** The filters GET /commands and GET /analytics/counts share. */
export class CommandFiltersQuery {
  @ApiPropertyOptional({ type: String, example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' })
  @Optional()
  @IsIdentifier()
  deviceId?: string;

  @ApiPropertyOptional({
    type: String,
    description: 'deviceId starts with this (instead of deviceId)',
    example: '92d3f8da',
  })
  @Optional()
  @IsIdentifier()
  deviceIdPrefix?: string;

  @ApiPropertyOptional({
    type: String,
    description: `One status or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
    example: 'SENT,DELIVERED',
  })
  @ParsedWith('isStatusList', statusList, STATUS_LIST_MESSAGE)
  status?: CommandStatus[];

  @ApiPropertyOptional({
    type: String,
    description: 'createdAt at or after (inclusive)',
    example: '2026-11-26T00:00:00Z',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  since?: Date;

  @ApiPropertyOptional({
    type: String,
    description: 'createdAt before (exclusive)',
    example: '2026-11-27T00:00:00Z',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  until?: Date;

  @ApiPropertyOptional({
    type: String,
    description: 'updatedAt before (exclusive): silent since then',
    example: '2026-11-26T04:00:00Z',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  updatedBefore?: Date;

  @ApiPropertyOptional({
    type: String,
    description: "The commands of this campaign's dispatches",
  })
  @Optional()
  @IsIdentifier()
  campaignId?: string;
}

/** GET /commands */
export class ListCommandsQuery extends CommandFiltersQuery {
  @ApiPropertyOptional({
    type: String,
    description:
      'newest (createdAt desc, then commandId desc; the default) or silent (updatedAt, then commandId: the longest silent first)',
    example: 'silent',
  })
  @Optional('newest')
  @IsOneOf(LIST_ORDERS)
  order: ListOrder = 'newest';

  @ApiPropertyOptional({
    type: String,
    description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}); a page also stops early at 4 MB of JSON`,
    example: String(DEFAULT_PAGE_SIZE),
  })
  @ParsedWith(
    'isPageSize',
    pageSize(MAX_PAGE_SIZE),
    pageSizeMessage(MAX_PAGE_SIZE),
    DEFAULT_PAGE_SIZE,
  )
  limit: number = DEFAULT_PAGE_SIZE;

  @ApiPropertyOptional({
    type: String,
    description: "Opaque, from the previous page's nextCursor, with the same order",
  })
  @ParsedWith('isCursor', parseListCursor, cursorProblem)
  cursor?: CommandKeyset;
}

export const COUNT_GROUPS = ['status', 'deviceId', 'command'] as const;
export type CountGroup = (typeof COUNT_GROUPS)[number];

/** GET /analytics/counts */
export class CountsQuery extends CommandFiltersQuery {
  @ApiPropertyOptional({
    type: String,
    description: 'status, deviceId or command (serviceId and method); absent: the total only',
    example: 'deviceId',
  })
  @Optional()
  @IsOneOf(COUNT_GROUPS)
  groupBy?: CountGroup;

  @ApiPropertyOptional({
    type: String,
    description: `Groups, largest first: 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`,
    example: String(DEFAULT_PAGE_SIZE),
  })
  @ParsedWith(
    'isPageSize',
    pageSize(MAX_PAGE_SIZE),
    pageSizeMessage(MAX_PAGE_SIZE),
    DEFAULT_PAGE_SIZE,
  )
  limit: number = DEFAULT_PAGE_SIZE;
}

/** What no single parameter says wrong: two that cannot go together. */
export function combinationProblem(query: {
  deviceId?: string;
  deviceIdPrefix?: string;
  order?: ListOrder;
  cursor?: CommandKeyset;
}): FieldProblem | undefined {
  if (query.deviceId !== undefined && query.deviceIdPrefix !== undefined) {
    return { field: 'deviceIdPrefix', message: 'deviceIdPrefix cannot be given with deviceId' };
  }
  if (query.cursor !== undefined && query.cursor.order !== query.order) {
    return {
      field: 'cursor',
      message: `cursor continues order=${query.cursor.order}, not order=${query.order}`,
    };
  }
  return undefined;
}

/** GET /commands/{commandId}/history */
export class HistoryPageQuery {
  @ApiPropertyOptional({
    type: String,
    description: `Page size, 1 to ${MAX_HISTORY_PAGE_SIZE} (default ${DEFAULT_HISTORY_PAGE_SIZE}); a page also stops early at 4 MB of JSON`,
    example: String(DEFAULT_HISTORY_PAGE_SIZE),
  })
  @ParsedWith(
    'isPageSize',
    pageSize(MAX_HISTORY_PAGE_SIZE),
    pageSizeMessage(MAX_HISTORY_PAGE_SIZE),
    DEFAULT_HISTORY_PAGE_SIZE,
  )
  limit: number = DEFAULT_HISTORY_PAGE_SIZE;

  @ApiPropertyOptional({ type: String, description: "Opaque, from the previous page's nextCursor" })
  @ParsedWith('isCursor', parseHistoryCursor, cursorProblem)
  cursor?: string;
}
