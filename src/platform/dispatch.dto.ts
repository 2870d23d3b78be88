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
  MinLength,
} from 'class-validator';
import { IsIdentifier } from '../http/validators.js';

/** The platform's longest command cache (48 h): a dispatched command's timeoutSeconds stays within it. */
export const MAX_DISPATCH_TIMEOUT_SECONDS = 172800;
export const SEND_STRATEGIES = ['immediately', 'delay'] as const;

/** POST /commands/dispatch: a command to send to a device through the configured platform. */
export class DispatchCommandDto {
  @ApiProperty({ example: '92d3f8da-200a-4143-8d0d-591a7e11de6c', minLength: 1, maxLength: 128 })
  @IsIdentifier()
  deviceId!: string;

  @ApiProperty({ example: 'WaterMeter', minLength: 1, maxLength: 128 })
  @IsString({ message: 'must be a string' })
  @MinLength(1, { message: 'must not be empty' })
  @MaxLength(128, { message: 'must be at most 128 characters long' })
  serviceId!: string;

  @ApiProperty({ example: 'SET_TEMPERATURE_READ_PERIOD', minLength: 1, maxLength: 128 })
  @IsString({ message: 'must be a string' })
  @MinLength(1, { message: 'must not be empty' })
  @MaxLength(128, { message: 'must be at most 128 characters long' })
  method!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { value: 5 } })
  @IsObject({ message: 'must be a JSON object' })
  paras!: Record<string, unknown>;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_DISPATCH_TIMEOUT_SECONDS,
    example: 3600,
    description: "The platform's expire time, and this command's deadline",
  })
  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: `must be from 1 to ${MAX_DISPATCH_TIMEOUT_SECONDS}` })
  @Max(MAX_DISPATCH_TIMEOUT_SECONDS, {
    message: `must be from 1 to ${MAX_DISPATCH_TIMEOUT_SECONDS}`,
  })
  timeoutSeconds?: number;

  @ApiPropertyOptional({ enum: SEND_STRATEGIES, default: 'immediately', description: 'IoTDA only' })
  @IsOptional()
  @IsIn(SEND_STRATEGIES, { message: 'must be one of immediately, delay' })
  sendStrategy?: (typeof SEND_STRATEGIES)[number];
}
