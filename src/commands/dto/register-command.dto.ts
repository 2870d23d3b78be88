import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { COMMAND_STATUSES, type CommandStatus } from '../command-status.js';
import { IsIdentifier, IsInstant } from '../../http/validators.js';
import { STATUS_LIST_MESSAGE } from './command-status-callback.dto.js';

export const MAX_TIMEOUT_SECONDS = 31536000;

/** A command the application created on the platform, to be tracked before any callback. */
export class RegisterCommandDto {
  @ApiProperty({ example: '108a9c71462a48e09426e06e844d47ba', minLength: 1, maxLength: 128 })
  @IsIdentifier()
  commandId!: string;

  @ApiProperty({ example: '92d3f8da-200a-4143-8d0d-591a7e11de6c', minLength: 1, maxLength: 128 })
  @IsIdentifier()
  deviceId!: string;

  @ApiPropertyOptional({ example: 'WaterMeter', maxLength: 128 })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters long' })
  serviceId?: string | null;

  @ApiPropertyOptional({ example: 'SET_TEMPERATURE_READ_PERIOD', maxLength: 128 })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters long' })
  method?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { value: 5 } })
  @IsOptional()
  @IsObject({ message: 'must be a JSON object' })
  paras?: Record<string, unknown> | null;

  @ApiPropertyOptional({ enum: COMMAND_STATUSES, default: 'PENDING' })
  @IsOptional()
  @IsIn(COMMAND_STATUSES, { message: STATUS_LIST_MESSAGE })
  status?: CommandStatus | null;

  @ApiPropertyOptional({
    example: '2026-11-28T05:00:00.000Z',
    description: 'When the command times out; not with timeoutSeconds',
  })
  @IsOptional()
  @IsInstant()
  deadline?: string | null;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TIMEOUT_SECONDS, example: 3600 })
  @ValidateIf(
    (dto: RegisterCommandDto) => dto.timeoutSeconds !== undefined && dto.timeoutSeconds !== null,
  )
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: `must be from 1 to ${MAX_TIMEOUT_SECONDS}` })
  @Max(MAX_TIMEOUT_SECONDS, { message: `must be from 1 to ${MAX_TIMEOUT_SECONDS}` })
  timeoutSeconds?: number | null;
}
