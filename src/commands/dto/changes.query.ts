import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { IsIdentifier } from '../../http/validators.js';

/** A history event id: a positive whole number (PostgreSQL bigint). */
export const EVENT_ID = /^(0|[1-9]\d{0,17})$/;

export class ChangesQuery {
  @ApiPropertyOptional({
    description: 'Only changes of commands of this device',
    example: '92d3f8da-200a-4143-8d0d-591a7e11de6c',
  })
  @IsOptional()
  @IsIdentifier()
  deviceId?: string;

  @ApiPropertyOptional({
    description: 'Only changes of this command',
    example: '108a9c71462a48e09426e06e844d47ba',
  })
  @IsOptional()
  @IsIdentifier()
  commandId?: string;

  @ApiPropertyOptional({
    description:
      'Like the Last-Event-ID header (which wins when both are given): first the applied changes recorded after this event id',
    example: '42',
  })
  @IsOptional()
  @Matches(EVENT_ID, { message: 'must be an event id (a whole number)' })
  lastEventId?: string;
}
