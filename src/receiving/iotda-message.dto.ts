import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { type CommandStatus } from '../commands/command-status.js';
import { Checked, IsIdentifier, IsNestedObject, IsOneOf, Optional } from '../http/validators.js';
import { ANY_JSON, IDENTIFIER_PROPERTY } from '../commands/dto/command-status-callback.dto.js';
import { nested } from '../http/validation.js';

// An IoTDA forwarded message as DTO classes: what parseIotdaMessage() validates a command status
// report with (for the HTTP push and the AMQP consumer alike), and its OpenAPI description.

/** Both spellings: older IoTDA documents and SDKs write "commmad" with three m's. */
export const IOTDA_COMMAND_RESOURCES = ['device.command.status', 'device.commmad.status'] as const;

export const IOTDA_COMMAND_EVENT = 'update';

/** The statuses IoTDA reports for an asynchronous command (it has no CANCELED). */
export const IOTDA_STATUSES = [
  'PENDING',
  'EXPIRED',
  'SENT',
  'DELIVERED',
  'SUCCESSFUL',
  'FAILED',
  'TIMEOUT',
] as const satisfies readonly CommandStatus[];

export type IotdaStatus = (typeof IOTDA_STATUSES)[number];

// IoTDA's compact UTC time, e.g. 20261201T101500Z.
const COMPACT_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
// event_time_ms and most other APIs: 2026-12-01T10:15:00.000Z.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

/** An IoTDA time (`yyyyMMdd'T'HHmmss'Z'`, or ISO 8601 UTC) as a Date; undefined when it is not one. */
export function parseIotdaTime(value: unknown): Date | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const match = COMPACT_TIME.exec(value) ?? ISO_TIME.exec(value);
  if (match === null) {
    return undefined;
  }
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(match[i]));
  const millis = Number((match[7] ?? '0').padEnd(3, '0'));
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis));
  // Date.UTC rolls impossible fields over (30 February is 2 March): refuse them instead.
  const roundTrips =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return roundTrips ? date : undefined;
}

export class IotdaHeaderDto {
  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: 'd-1' })
  @IsIdentifier()
  device_id!: string;

  static fromPlain(input: Record<string, unknown>): IotdaHeaderDto {
    const dto = new IotdaHeaderDto();
    dto.device_id = input.device_id as string;
    return dto;
  }
}

export class IotdaCommandStatusDto {
  @ApiProperty({ ...IDENTIFIER_PROPERTY, example: 'b1224afb-7d3e-4c5a-9c1e-0f3b2a6d8e11' })
  @IsIdentifier()
  command_id!: string;

  @ApiProperty({ enum: IOTDA_STATUSES, example: 'SUCCESSFUL' })
  @IsOneOf(IOTDA_STATUSES)
  status!: IotdaStatus;

  @ApiPropertyOptional({
    description: "The device's result, any JSON; absent means null",
    oneOf: ANY_JSON,
  })
  @Optional(null)
  result: unknown = null;

  static fromPlain(input: Record<string, unknown>): IotdaCommandStatusDto {
    const dto = new IotdaCommandStatusDto();
    dto.command_id = input.command_id as string;
    dto.status = input.status as IotdaStatus;
    dto.result = input.result ?? null;
    return dto;
  }
}

export class IotdaNotifyDataDto {
  @ApiProperty({ type: IotdaHeaderDto })
  @IsNestedObject(() => IotdaHeaderDto, 'must be an object')
  header!: IotdaHeaderDto;

  @ApiPropertyOptional({
    type: IotdaCommandStatusDto,
    description: 'Here, or beside notify_data',
  })
  @IsNestedObject(() => IotdaCommandStatusDto, 'must be an object')
  body!: IotdaCommandStatusDto;

  static fromPlain(input: Record<string, unknown>): IotdaNotifyDataDto {
    const dto = new IotdaNotifyDataDto();
    dto.header = nested(IotdaHeaderDto, input.header) as IotdaHeaderDto;
    dto.body = nested(IotdaCommandStatusDto, input.body) as IotdaCommandStatusDto;
    return dto;
  }
}

export class IotdaMessageDto {
  @ApiProperty({
    example: 'device.command.status',
    description: `${IOTDA_COMMAND_RESOURCES.join(' or ')} is a report; anything else is ignored`,
  })
  // parseIotdaMessage ignores other resources and events before validating: these hold for a report.
  @IsOneOf(IOTDA_COMMAND_RESOURCES)
  resource!: string;

  @ApiProperty({ example: 'update', description: 'update is a report; anything else is ignored' })
  @IsOneOf([IOTDA_COMMAND_EVENT])
  event!: string;

  @ApiPropertyOptional({ example: '20261201T101500Z', description: "UTC, yyyyMMdd'T'HHmmss'Z'" })
  @Optional()
  @Checked('isIotdaTime', (value) =>
    parseIotdaTime(value) === undefined ? 'must be a UTC time such as 20261201T101500Z' : undefined,
  )
  event_time?: string;

  @ApiProperty({ type: IotdaNotifyDataDto })
  @IsNestedObject(() => IotdaNotifyDataDto, 'must be an object')
  notify_data!: IotdaNotifyDataDto;

  // The hot path: read by hand, as plainToInstance would (the spec compares them).
  static fromPlain(input: Record<string, unknown>): IotdaMessageDto {
    const dto = new IotdaMessageDto();
    dto.resource = input.resource as string;
    dto.event = input.event as string;
    dto.event_time = (input.event_time ?? undefined) as string | undefined;
    dto.notify_data = nested(IotdaNotifyDataDto, input.notify_data) as IotdaNotifyDataDto;
    return dto;
  }
}

export class IgnoredAnswerDto {
  @ApiProperty({ enum: ['ignored'] })
  outcome!: 'ignored';
}
