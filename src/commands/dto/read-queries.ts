import { COMMAND_STATUSES, type CommandStatus } from '../command-status.js';
import {
  type Parsed,
  type ParsedFields,
  identifier,
  instant,
  oneOf,
  optional,
  withDefault,
} from '../../http/fields.js';
import { type FieldProblem } from '../../http/json-checks.js';
import { type CommandKeyset, parseHistoryCursor, parseListCursor } from '../read-cursors.js';
import { type ListOrder } from '../sql/read.js';

const LIST_ORDERS: readonly ListOrder[] = ['newest', 'silent'];

// The read routes' query strings: each parameter parsed and checked here, once, into the value the
// service uses. A parsed query string holds strings (or arrays, for repeated parameters); the
// checks still take anything, so that a value of another type gets the same message.

const STATUS = `(${COMMAND_STATUSES.join('|')})`;
const STATUS_LIST = new RegExp(`^${STATUS}(,${STATUS})*$`);
const WHOLE_NUMBER = /^[1-9]\d{0,3}$/;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_HISTORY_PAGE_SIZE = 1000;
export const DEFAULT_HISTORY_PAGE_SIZE = 100;

function statusList(given: unknown): Parsed<CommandStatus[]> {
  return typeof given === 'string' && STATUS_LIST.test(given)
    ? { value: given.split(',') as CommandStatus[] }
    : { problem: `must be one or a comma-separated list of ${COMMAND_STATUSES.join(', ')}` };
}

function pageSize(max: number): (given: unknown) => Parsed<number> {
  return (given) => {
    const value = typeof given === 'string' && WHOLE_NUMBER.test(given) ? Number(given) : 0;
    return value >= 1 && value <= max
      ? { value }
      : { problem: `must be a whole number from 1 to ${max}` };
  };
}

/** The filters GET /commands and GET /analytics/counts share. */
const COMMAND_FILTERS = {
  deviceId: optional(identifier, { example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' }),
  deviceIdPrefix: optional(identifier, {
    description: 'deviceId starts with this (instead of deviceId)',
    example: '92d3f8da',
  }),
  status: optional(statusList, {
    description: `One status or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
    example: 'SENT,DELIVERED',
  }),
  since: optional(instant, {
    description: 'createdAt at or after (inclusive)',
    example: '2026-11-26T00:00:00Z',
  }),
  until: optional(instant, {
    description: 'createdAt before (exclusive)',
    example: '2026-11-27T00:00:00Z',
  }),
  updatedBefore: optional(instant, {
    description: 'updatedAt before (exclusive): silent since then',
    example: '2026-11-26T04:00:00Z',
  }),
  campaignId: optional(identifier, { description: "The commands of this campaign's dispatches" }),
};

/** GET /commands */
export const LIST_COMMANDS_QUERY = {
  ...COMMAND_FILTERS,
  order: withDefault<ListOrder>('newest', oneOf(LIST_ORDERS), {
    description:
      'newest (createdAt desc, then commandId desc; the default) or silent (updatedAt, then commandId: the longest silent first)',
    example: 'silent',
  }),
  limit: withDefault(DEFAULT_PAGE_SIZE, pageSize(MAX_PAGE_SIZE), {
    description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}); a page also stops early at 4 MB of JSON`,
    example: String(DEFAULT_PAGE_SIZE),
  }),
  cursor: optional(parseListCursor, {
    description: "Opaque, from the previous page's nextCursor, with the same order",
  }),
};

export type ListCommandsQuery = ParsedFields<typeof LIST_COMMANDS_QUERY>;

export const COUNT_GROUPS = ['status', 'deviceId', 'command'] as const;
export type CountGroup = (typeof COUNT_GROUPS)[number];

/** GET /analytics/counts */
export const COUNTS_QUERY = {
  ...COMMAND_FILTERS,
  groupBy: optional(oneOf(COUNT_GROUPS), {
    description: 'status, deviceId or command (serviceId and method); absent: the total only',
    example: 'deviceId',
  }),
  limit: withDefault(DEFAULT_PAGE_SIZE, pageSize(MAX_PAGE_SIZE), {
    description: `Groups, largest first: 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`,
    example: String(DEFAULT_PAGE_SIZE),
  }),
};

export type CountsQuery = ParsedFields<typeof COUNTS_QUERY>;

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
export const HISTORY_PAGE_QUERY = {
  limit: withDefault(DEFAULT_HISTORY_PAGE_SIZE, pageSize(MAX_HISTORY_PAGE_SIZE), {
    description: `Page size, 1 to ${MAX_HISTORY_PAGE_SIZE} (default ${DEFAULT_HISTORY_PAGE_SIZE}); a page also stops early at 4 MB of JSON`,
    example: String(DEFAULT_HISTORY_PAGE_SIZE),
  }),
  cursor: optional(parseHistoryCursor, {
    description: "Opaque, from the previous page's nextCursor",
  }),
};

export type HistoryPageQuery = ParsedFields<typeof HISTORY_PAGE_QUERY>;
