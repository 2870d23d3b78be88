import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { IsIdentifier } from '../http/validators.js';

/**
 * An event id of this feed (a position, `xid-id`), or a bare history id, which resumes just after
 * that history entry: clients that keep a history id as their place can still resume with it.
 */
export const EVENT_ID = /^(\d{1,19}-\d{1,19}|0|[1-9]\d{0,17})$/;

export const EVENT_ID_MESSAGE = 'must be an event id of this feed';

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
      'Like the Last-Event-ID header (which wins when both are given): first the applied changes after this event id',
    example: '1234-42',
  })
  @IsOptional()
  @Matches(EVENT_ID, { message: EVENT_ID_MESSAGE })
  lastEventId?: string;
}
