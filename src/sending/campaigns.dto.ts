import {
  IDENTIFIER_DOC,
  type Parsed,
  type ParsedFields,
  identifier,
  instant,
  jsonObject,
  object,
  oneOf,
  optional,
  required,
  text,
  wholeNumber,
  withDefault,
} from '../http/fields.js';
import { MAX_DISPATCH_TIMEOUT_SECONDS } from '../platform/dispatch.dto.js';
import { DISPATCH_MODES, type DispatchMode } from './dispatches.dto.js';

export const CAMPAIGN_STATES = [
  'scheduled',
  'running',
  'paused',
  'completed',
  'aborted',
  'canceled',
] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

export const MAX_CAMPAIGN_DEVICES = 100_000;
/** POST /campaigns alone accepts bodies this large: 100,000 device ids of up to 64 bytes or so. */
export const CAMPAIGN_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** Device ids, each an identifier, each once. */
function deviceList(given: unknown): Parsed<string[]> {
  if (!Array.isArray(given)) {
    return { problem: 'must be an array of device ids' };
  }
  if (given.length < 1 || given.length > MAX_CAMPAIGN_DEVICES) {
    return { problem: `must hold 1 to ${MAX_CAMPAIGN_DEVICES} device ids` };
  }
  const seen = new Set<string>();
  for (let i = 0; i < given.length; i++) {
    const parsed = identifier(given[i]);
    if (!('value' in parsed)) {
      return {
        problems: [{ field: String(i), message: 'problem' in parsed ? parsed.problem : '' }],
      };
    }
    if (seen.has(parsed.value)) {
      return { problems: [{ field: String(i), message: 'repeats an earlier device id' }] };
    }
    seen.add(parsed.value);
  }
  return { value: given as string[] };
}

const PERCENT_DOC = { type: 'integer', minimum: 0, maximum: 100 } as const;

const CAMPAIGN_COMMAND = {
  serviceId: required(text(128, false), { type: 'string', minLength: 1, maxLength: 128 }),
  method: required(text(128, false), { type: 'string', minLength: 1, maxLength: 128 }),
  paras: required(jsonObject, { type: 'object', additionalProperties: true }),
  mode: withDefault<DispatchMode>('async', oneOf(DISPATCH_MODES), {
    type: 'string',
    enum: [...DISPATCH_MODES],
    default: 'async',
  }),
  timeoutSeconds: optional(wholeNumber(1, MAX_DISPATCH_TIMEOUT_SECONDS), {
    type: 'integer',
    minimum: 1,
    maximum: MAX_DISPATCH_TIMEOUT_SECONDS,
  }),
};

const CANARY = {
  devices: required(wholeNumber(1, MAX_CAMPAIGN_DEVICES), { type: 'integer', minimum: 1 }),
  minSuccessPercent: required(wholeNumber(0, 100), PERCENT_DOC),
};

const ABORT = {
  failurePercent: required(wholeNumber(0, 100), PERCENT_DOC),
  minResults: required(wholeNumber(1, MAX_CAMPAIGN_DEVICES), { type: 'integer', minimum: 1 }),
};

/** POST /campaigns */
export const CREATE_CAMPAIGN_BODY = {
  name: required(text(200, false), { type: 'string', minLength: 1, maxLength: 200 }),
  command: required(object(CAMPAIGN_COMMAND), {
    type: 'object',
    required: ['serviceId', 'method', 'paras'],
  }),
  devices: required(deviceList, {
    type: 'array',
    items: IDENTIFIER_DOC('92d3f8da-200a-4143-8d0d-591a7e11de6c'),
    minItems: 1,
    maxItems: MAX_CAMPAIGN_DEVICES,
    uniqueItems: true,
  }),
  ratePerMinute: withDefault(600, wholeNumber(1, 60_000), {
    type: 'integer',
    minimum: 1,
    maximum: 60_000,
    default: 600,
    description: 'Dispatches released a minute, by all instances together',
  }),
  canary: optional(object(CANARY), {
    type: 'object',
    description: 'Release the first `devices` only, then go on if minSuccessPercent succeeded',
  }),
  abort: optional(object(ABORT), {
    type: 'object',
    description: 'Abort once minResults are final and over failurePercent of them failed',
  }),
  startAt: optional(instant, { type: 'string', format: 'date-time' }),
  endAt: optional(instant, { type: 'string', format: 'date-time' }),
};

export type CreateCampaignDto = ParsedFields<typeof CREATE_CAMPAIGN_BODY>;

const WHOLE_NUMBER = /^\d{1,4}$/;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;
export const MAX_CAMPAIGN_PAGE = 500;

function pageSize(given: unknown): Parsed<number> {
  const value = typeof given === 'string' && WHOLE_NUMBER.test(given) ? Number(given) : 0;
  return value >= 1 && value <= MAX_CAMPAIGN_PAGE
    ? { value }
    : { problem: `must be a whole number from 1 to ${MAX_CAMPAIGN_PAGE}` };
}

/** The position after a campaign in newest-first order. */
export interface CampaignCursor {
  createdAt: Date;
  campaignId: string;
}

export function encodeCampaignCursor(cursor: CampaignCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.campaignId}`, 'utf8').toString(
    'base64url',
  );
}

function cursor(given: unknown): Parsed<CampaignCursor> {
  const problem = { problem: 'is not a cursor this service issued' };
  if (typeof given !== 'string' || !CURSOR.test(given)) {
    return problem;
  }
  const [at, campaignId, ...rest] = Buffer.from(given, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  return rest.length > 0 || campaignId === undefined || Number.isNaN(createdAt.getTime())
    ? problem
    : { value: { createdAt, campaignId } };
}

/** GET /campaigns */
export const LIST_CAMPAIGNS_QUERY = {
  state: optional(oneOf(CAMPAIGN_STATES), {
    description: `One of ${CAMPAIGN_STATES.join(', ')}`,
    example: 'running',
  }),
  limit: withDefault(50, pageSize, {
    description: `Page size, 1 to ${MAX_CAMPAIGN_PAGE} (default 50)`,
    example: '50',
  }),
  cursor: optional(cursor, { description: "Opaque, from the previous page's nextCursor" }),
};

export type ListCampaignsQuery = ParsedFields<typeof LIST_CAMPAIGNS_QUERY>;
