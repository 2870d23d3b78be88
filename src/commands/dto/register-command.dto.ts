import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { COMMAND_STATUSES, type CommandStatus } from '../command-status.js';
import {
  IsIdentifier,
  IsJsonObject,
  IsOneOf,
  IsText,
  IsWholeNumber,
  Optional,
  ParsedWith,
} from '../../http/validators.js';
import { INSTANT_MESSAGE, instantOf } from '../../http/instants.js';
import {
  COMMAND_ID_EXAMPLE,
  DEVICE_ID_EXAMPLE,
  IDENTIFIER_PROPERTY,
  STATUS_LIST_MESSAGE,
} from './command-status-callback.dto.js';

export const MAX_TIMEOUT_SECONDS = 31536000;

/** POST /commands: a command the application created on the platform, tracked before any callback. */
export class RegisterCommandDto {
  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: COMMAND_ID_EXAMPLE })
  @IsIdentifier()
  commandId!: string;

  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: DEVICE_ID_EXAMPLE })
  @IsIdentifier()
  deviceId!: string;

  @ApiPropertyOptional({ type: String, maxLength: 128, example: 'WaterMeter' })
  @Optional()
  @IsText(128, true)
  serviceId?: string;

  @ApiPropertyOptional({ type: String, maxLength: 128, example: 'SET_TEMPERATURE_READ_PERIOD' })
  @Optional()
  @IsText(128, true)
  method?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { value: 5 } })
  @Optional()
  @IsJsonObject()
  paras?: Record<string, unknown>;

  @ApiPropertyOptional({ enum: COMMAND_STATUSES, default: 'PENDING' })
  @Optional()
  @IsOneOf(COMMAND_STATUSES, STATUS_LIST_MESSAGE)
  status?: CommandStatus;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    example: '2026-11-28T05:00:00.000Z',
    description: 'When the command times out; not with timeoutSeconds',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  deadline?: Date;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_TIMEOUT_SECONDS,
    example: 3600,
  })
  @Optional()
  @IsWholeNumber(1, MAX_TIMEOUT_SECONDS)
  timeoutSeconds?: number;
}

export type RegisterCommand = RegisterCommandDto;
