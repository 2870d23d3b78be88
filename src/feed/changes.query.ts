import { IDENTIFIER_DOC, identifier, matching, optional } from '../http/fields.js';

/**
 * An event id of this feed (a position, `xid-id`), or a bare history id, which resumes just after
 * that history entry: clients that keep a history id as their place can still resume with it.
 */
export const EVENT_ID = /^(\d{1,19}-\d{1,19}|0|[1-9]\d{0,17})$/;

export const EVENT_ID_MESSAGE = 'must be an event id of this feed';

/** GET /changes */
export const CHANGES_QUERY = {
  deviceId: optional(identifier, {
    ...IDENTIFIER_DOC('92d3f8da-200a-4143-8d0d-591a7e11de6c'),
    description: 'Only changes of commands of this device',
  }),
  commandId: optional(identifier, {
    ...IDENTIFIER_DOC('108a9c71462a48e09426e06e844d47ba'),
    description: 'Only changes of this command',
  }),
  lastEventId: optional(matching(EVENT_ID, EVENT_ID_MESSAGE), {
    type: 'string',
    description:
      'Like the Last-Event-ID header (which wins when both are given): first the applied changes after this event id',
    example: '1234-42',
  }),
};
