import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  DEVICE_ID_EXAMPLE,
  IDENTIFIER_PROPERTY,
} from '../commands/dto/command-status-callback.dto.js';
import {
  IsIdentifier,
  IsJsonObject,
  IsOneOf,
  IsText,
  IsWholeNumber,
  Optional,
} from '../http/validators.js';

/** The platform's longest command cache (48 h): a dispatched command's timeoutSeconds stays within it. */
export const MAX_DISPATCH_TIMEOUT_SECONDS = 172800;
export const SEND_STRATEGIES = ['immediately', 'delay'] as const;
export type SendStrategy = (typeof SEND_STRATEGIES)[number];

/** POST /commands/dispatch: a command to send to a device through the configured platform. */
export class DispatchCommandDto {
  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: DEVICE_ID_EXAMPLE })
  @IsIdentifier()
  deviceId!: string;

  @ApiProperty({ type: String, minLength: 1, maxLength: 128, example: 'WaterMeter' })
  @IsText(128, false)
  serviceId!: string;

  @ApiProperty({
    type: String,
    minLength: 1,
    maxLength: 128,
    example: 'SET_TEMPERATURE_READ_PERIOD',
  })
  @IsText(128, false)
  method!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { value: 5 } })
  @IsJsonObject()
  paras!: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_DISPATCH_TIMEOUT_SECONDS,
    example: 3600,
    description: "The platform's expire time, and this command's deadline",
  })
  @Optional()
  @IsWholeNumber(1, MAX_DISPATCH_TIMEOUT_SECONDS)
  timeoutSeconds?: number;

  @ApiPropertyOptional({ enum: SEND_STRATEGIES, default: 'immediately', description: 'IoTDA only' })
  @Optional()
  @IsOneOf(SEND_STRATEGIES)
  sendStrategy?: SendStrategy;
}
