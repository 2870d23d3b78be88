import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  COMMAND_STATUSES,
  type CommandStatus,
  type ReportOutcome,
  REPORT_OUTCOMES,
} from '../command-status.js';
import { IsIdentifier, IsNestedObject, IsOneOf, Optional } from '../../http/validators.js';
import { IDENTIFIER_MAX_LENGTH } from '../../http/json-checks.js';
import { nested } from '../../http/validation.js';

export const STATUS_LIST_MESSAGE = `must be one of ${COMMAND_STATUSES.join(', ')}`;

/** What some platform versions send for PENDING: accepted, stored and applied as PENDING. */
export const LEGACY_PENDING = 'DEFAULT';

export const LEGACY_RESULT_CODES = [...COMMAND_STATUSES, LEGACY_PENDING] as const;

export type LegacyResultCode = (typeof LEGACY_RESULT_CODES)[number];

/** The status a legacy resultCode reports. */
export function legacyStatus(code: LegacyResultCode): CommandStatus {
  return code === LEGACY_PENDING ? 'PENDING' : code;
}

/** Any JSON value, for the OpenAPI document (a property typed unknown would read as an object). */
export const ANY_JSON = [
  { type: 'object' },
  { type: 'array', items: {} },
  { type: 'string' },
  { type: 'number' },
  { type: 'boolean' },
];

/** Example ids for the OpenAPI document. */
export const DEVICE_ID_EXAMPLE = '92d3f8da-200a-4143-8d0d-591a7e11de6c';
export const COMMAND_ID_EXAMPLE = '108a9c71462a48e09426e06e844d47ba';

/** The OpenAPI description of an identifier field (IsIdentifier checks it). */
export const IDENTIFIER_PROPERTY = { type: String, minLength: 1, maxLength: IDENTIFIER_MAX_LENGTH };

export class CommandResultDto {
  @ApiProperty({
    enum: LEGACY_RESULT_CODES,
    example: 'SENT',
    description: 'DEFAULT is read as PENDING',
  })
  @IsOneOf(LEGACY_RESULT_CODES, STATUS_LIST_MESSAGE)
  resultCode!: LegacyResultCode;

  @ApiPropertyOptional({
    description: 'Whatever the device or codec returned; absent means null',
    example: null,
    nullable: true,
    oneOf: ANY_JSON,
  })
  @Optional(null)
  resultDetail: unknown = null;

  static fromPlain(input: Record<string, unknown>): CommandResultDto {
    const dto = new CommandResultDto();
    dto.resultCode = input.resultCode as LegacyResultCode;
    dto.resultDetail = input.resultDetail ?? null;
    return dto;
  }
}

/** The platform's status push (OceanConnect callbackUrl). Unknown extra fields are kept. */
export class CommandStatusCallbackDto {
  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: DEVICE_ID_EXAMPLE })
  @IsIdentifier()
  deviceId!: string;

  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: COMMAND_ID_EXAMPLE })
  @IsIdentifier()
  commandId!: string;

  @ApiProperty({ type: CommandResultDto, description: 'The status and what came with it' })
  @IsNestedObject(() => CommandResultDto)
  result!: CommandResultDto;

  // The hot path: read by hand, as plainToInstance would (the spec compares them).
  static fromPlain(input: Record<string, unknown>): CommandStatusCallbackDto {
    const dto = new CommandStatusCallbackDto();
    dto.deviceId = input.deviceId as string;
    dto.commandId = input.commandId as string;
    dto.result = nested(CommandResultDto, input.result) as CommandResultDto;
    return dto;
  }
}

export class CallbackAnswerDto {
  @ApiProperty({ example: '108a9c71462a48e09426e06e844d47ba' })
  commandId!: string;

  @ApiProperty({ enum: COMMAND_STATUSES, description: 'Current status, after this report' })
  status!: CommandStatus;

  @ApiProperty({ enum: REPORT_OUTCOMES })
  outcome!: ReportOutcome;
}
