import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  DEVICE_ID_EXAMPLE,
  IDENTIFIER_PROPERTY,
} from '../commands/dto/command-status-callback.dto.js';
import { INSTANT_MESSAGE, instantOf } from '../http/instants.js';
import { identifierProblem } from '../http/json-checks.js';
import {
  Checked,
  IsJsonObject,
  IsNestedObject,
  IsOneOf,
  IsText,
  IsWholeNumber,
  Optional,
  ParsedWith,
  problemAt,
} from '../http/validators.js';
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

/** Device ids, each an identifier, each once; a problem names the first wrong id's index. */
function deviceListProblem(given: unknown): string | undefined {
  if (!Array.isArray(given)) {
    return 'must be an array of device ids';
  }
  if (given.length < 1 || given.length > MAX_CAMPAIGN_DEVICES) {
    return `must hold 1 to ${MAX_CAMPAIGN_DEVICES} device ids`;
  }
  const seen = new Set<unknown>();
  for (let i = 0; i < given.length; i++) {
    const problem = identifierProblem(given[i]);
    if (problem !== undefined) {
      return problemAt(String(i), problem);
    }
    if (seen.has(given[i])) {
      return problemAt(String(i), 'repeats an earlier device id');
    }
    seen.add(given[i]);
  }
  return undefined;
}

const PERCENT = { type: 'integer', minimum: 0, maximum: 100 } as const;

export class CampaignCommandDto {
  @ApiProperty({ type: String, minLength: 1, maxLength: 128 })
  @IsText(128, false)
  serviceId!: string;

  @ApiProperty({ type: String, minLength: 1, maxLength: 128 })
  @IsText(128, false)
  method!: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  @IsJsonObject()
  paras!: Record<string, unknown>;

  @ApiPropertyOptional({ enum: DISPATCH_MODES, default: 'async' })
  @Optional('async')
  @IsOneOf(DISPATCH_MODES)
  mode: DispatchMode = 'async';

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_DISPATCH_TIMEOUT_SECONDS })
  @Optional()
  @IsWholeNumber(1, MAX_DISPATCH_TIMEOUT_SECONDS)
  timeoutSeconds?: number;
}

export class CanaryDto {
  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsWholeNumber(1, MAX_CAMPAIGN_DEVICES)
  devices!: number;

  @ApiProperty(PERCENT)
  @IsWholeNumber(0, 100)
  minSuccessPercent!: number;
}

export class AbortDto {
  @ApiProperty(PERCENT)
  @IsWholeNumber(0, 100)
  failurePercent!: number;

  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsWholeNumber(1, MAX_CAMPAIGN_DEVICES)
  minResults!: number;
}

/** POST /campaigns */
export class CreateCampaignDto {
  @ApiProperty({ type: String, minLength: 1, maxLength: 200 })
  @IsText(200, false)
  name!: string;

  @ApiProperty({ type: CampaignCommandDto })
  @IsNestedObject(() => CampaignCommandDto)
  command!: CampaignCommandDto;

  @ApiProperty({
    type: [String],
    items: { ...IDENTIFIER_PROPERTY, type: 'string', example: DEVICE_ID_EXAMPLE },
    minItems: 1,
    maxItems: MAX_CAMPAIGN_DEVICES,
    uniqueItems: true,
  })
  @Checked('isDeviceList', deviceListProblem)
  devices!: string[];

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 60_000,
    default: 600,
    description: 'Dispatches released a minute, by all instances together',
  })
  @Optional(600)
  @IsWholeNumber(1, 60_000)
  ratePerMinute: number = 600;

  @ApiPropertyOptional({
    type: CanaryDto,
    description: 'Release the first `devices` only, then go on if minSuccessPercent succeeded',
  })
  @Optional()
  @IsNestedObject(() => CanaryDto)
  canary?: CanaryDto;

  @ApiPropertyOptional({
    type: AbortDto,
    description: 'Abort once minResults are final and over failurePercent of them failed',
  })
  @Optional()
  @IsNestedObject(() => AbortDto)
  abort?: AbortDto;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  startAt?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  endAt?: Date;
}

const WHOLE_NUMBER = /^\d{1,4}$/;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;
export const MAX_CAMPAIGN_PAGE = 500;

const PAGE_MESSAGE = `must be a whole number from 1 to ${MAX_CAMPAIGN_PAGE}`;

function pageSize(given: unknown): number | undefined {
  const value = typeof given === 'string' && WHOLE_NUMBER.test(given) ? Number(given) : 0;
  return value >= 1 && value <= MAX_CAMPAIGN_PAGE ? value : undefined;
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

function cursor(given: unknown): CampaignCursor | undefined {
  if (typeof given !== 'string' || !CURSOR.test(given)) {
    return undefined;
  }
  const [at, campaignId, ...rest] = Buffer.from(given, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  return rest.length > 0 || campaignId === undefined || Number.isNaN(createdAt.getTime())
    ? undefined
    : { createdAt, campaignId };
}

/** GET /campaigns */
export class ListCampaignsQuery {
  @ApiPropertyOptional({
    type: String,
    description: `One of ${CAMPAIGN_STATES.join(', ')}`,
    example: 'running',
  })
  @Optional()
  @IsOneOf(CAMPAIGN_STATES)
  state?: CampaignState;

  @ApiPropertyOptional({
    type: String,
    description: `Page size, 1 to ${MAX_CAMPAIGN_PAGE} (default 50)`,
    example: '50',
  })
  @ParsedWith('isPageSize', pageSize, PAGE_MESSAGE, 50)
  limit: number = 50;

  @ApiPropertyOptional({ type: String, description: "Opaque, from the previous page's nextCursor" })
  @ParsedWith('isCursor', cursor, 'is not a cursor this service issued')
  cursor?: CampaignCursor;
}
