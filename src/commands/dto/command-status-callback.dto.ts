import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsObject, ValidateNested } from 'class-validator';
import {
  COMMAND_STATUSES,
  type CommandStatus,
  type ReportOutcome,
  REPORT_OUTCOMES,
} from '../command-status.js';
import { IsIdentifier } from '../../http/validators.js';

export const STATUS_LIST_MESSAGE = `must be one of ${COMMAND_STATUSES.join(', ')}`;

/** What some platform versions send for PENDING: accepted, stored and applied as PENDING. */
export const LEGACY_PENDING = 'DEFAULT';

export const LEGACY_RESULT_CODES = [...COMMAND_STATUSES, LEGACY_PENDING] as const;

export type LegacyResultCode = (typeof LEGACY_RESULT_CODES)[number];

/** The status a legacy resultCode reports. */
export function legacyStatus(code: LegacyResultCode): CommandStatus {
  return code === LEGACY_PENDING ? 'PENDING' : code;
}

export class CommandResultDto {
  @ApiProperty({
    enum: LEGACY_RESULT_CODES,
    example: 'SENT',
    description: 'DEFAULT is read as PENDING',
  })
  @IsIn(LEGACY_RESULT_CODES, { message: STATUS_LIST_MESSAGE })
  resultCode!: LegacyResultCode;

  @ApiPropertyOptional({
    description: 'Whatever the device or codec returned; absent means null',
    example: null,
    nullable: true,
  })
  resultDetail?: unknown;
}

/** The platform's status push (OceanConnect callbackUrl). Unknown extra fields are kept. */
export class CommandStatusCallbackDto {
  @ApiProperty({ example: '92d3f8da-200a-4143-8d0d-591a7e11de6c', minLength: 1, maxLength: 128 })
  @IsIdentifier()
  deviceId!: string;

  @ApiProperty({ example: '108a9c71462a48e09426e06e844d47ba', minLength: 1, maxLength: 128 })
  @IsIdentifier()
  commandId!: string;

  @ApiProperty({ type: CommandResultDto })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => CommandResultDto)
  result!: CommandResultDto;
}

export class CallbackAnswerDto {
  @ApiProperty({ example: '108a9c71462a48e09426e06e844d47ba' })
  commandId!: string;

  @ApiProperty({ enum: COMMAND_STATUSES, description: 'Current status, after this report' })
  status!: CommandStatus;

  @ApiProperty({ enum: REPORT_OUTCOMES })
  outcome!: ReportOutcome;
}
