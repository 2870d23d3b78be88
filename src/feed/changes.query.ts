import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  COMMAND_ID_EXAMPLE,
  DEVICE_ID_EXAMPLE,
  IDENTIFIER_PROPERTY,
} from '../commands/dto/command-status-callback.dto.js';
import { Checked, IsIdentifier, Optional } from '../http/validators.js';

/**
 * An event id of this feed (a position, `xid-id`), or a bare history id, which resumes just after
 * that history entry: clients that keep a history id as their place can still resume with it.
 */
export const EVENT_ID = /^(\d{1,19}-\d{1,19}|0|[1-9]\d{0,17})$/;

export const EVENT_ID_MESSAGE = 'must be an event id of this feed';

/** GET /changes */
export class ChangesQuery {
  @ApiPropertyOptional({
    ...IDENTIFIER_PROPERTY,
    example: DEVICE_ID_EXAMPLE,
    description: 'Only changes of commands of this device',
  })
  @Optional()
  @IsIdentifier()
  deviceId?: string;

  @ApiPropertyOptional({
    ...IDENTIFIER_PROPERTY,
    example: COMMAND_ID_EXAMPLE,
    description: 'Only changes of this command',
  })
  @Optional()
  @IsIdentifier()
  commandId?: string;

  @ApiPropertyOptional({
    type: String,
    description:
      'Like the Last-Event-ID header (which wins when both are given): first the applied changes after this event id',
    example: '1234-42',
  })
  @Optional()
  @Checked('isEventId', (value) =>
    typeof value === 'string' && EVENT_ID.test(value) ? undefined : EVENT_ID_MESSAGE,
  )
  lastEventId?: string;
}
