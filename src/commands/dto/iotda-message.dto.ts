import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IOTDA_COMMAND_RESOURCES, IOTDA_STATUSES } from '../../platform/iotda-message.js';

// The OpenAPI description of an IoTDA forwarded message; parseIotdaMessage() checks it.

export class IotdaHeaderDto {
  @ApiProperty({ example: 'd-1', minLength: 1, maxLength: 128 })
  device_id!: string;
}

export class IotdaCommandStatusDto {
  @ApiProperty({ example: 'b1224afb-7d3e-4c5a-9c1e-0f3b2a6d8e11', minLength: 1, maxLength: 128 })
  command_id!: string;

  @ApiProperty({ enum: IOTDA_STATUSES, example: 'SUCCESSFUL' })
  status!: string;

  @ApiPropertyOptional({ description: "The device's result, any JSON; absent means null" })
  result?: unknown;
}

export class IotdaNotifyDataDto {
  @ApiProperty({ type: IotdaHeaderDto })
  header!: IotdaHeaderDto;

  @ApiPropertyOptional({
    type: IotdaCommandStatusDto,
    description: 'Here, or beside notify_data',
  })
  body?: IotdaCommandStatusDto;
}

export class IotdaMessageDto {
  @ApiProperty({
    example: 'device.command.status',
    description: `${IOTDA_COMMAND_RESOURCES.join(' or ')} is a report; anything else is ignored`,
  })
  resource!: string;

  @ApiProperty({ example: 'update', description: 'update is a report; anything else is ignored' })
  event!: string;

  @ApiPropertyOptional({ example: '20261201T101500Z', description: "UTC, yyyyMMdd'T'HHmmss'Z'" })
  event_time?: string;

  @ApiProperty({ type: IotdaNotifyDataDto })
  notify_data!: IotdaNotifyDataDto;
}

export class IgnoredAnswerDto {
  @ApiProperty({ enum: ['ignored'] })
  outcome!: 'ignored';
}
