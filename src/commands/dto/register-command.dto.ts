import { COMMAND_STATUSES } from '../command-status.js';
import {
  IDENTIFIER_DOC,
  type ParsedFields,
  identifier,
  instant,
  jsonObject,
  oneOf,
  optional,
  required,
  text,
  wholeNumber,
} from '../../http/fields.js';
import { STATUS_LIST_MESSAGE } from './command-status-callback.dto.js';

export const MAX_TIMEOUT_SECONDS = 31536000;

/** POST /commands: a command the application created on the platform, tracked before any callback. */
export const REGISTER_COMMAND_BODY = {
  commandId: required(identifier, IDENTIFIER_DOC('108a9c71462a48e09426e06e844d47ba')),
  deviceId: required(identifier, IDENTIFIER_DOC('92d3f8da-200a-4143-8d0d-591a7e11de6c')),
  serviceId: optional(text(128, true), { type: 'string', maxLength: 128, example: 'WaterMeter' }),
  method: optional(text(128, true), {
    type: 'string',
    maxLength: 128,
    example: 'SET_TEMPERATURE_READ_PERIOD',
  }),
  paras: optional(jsonObject, {
    type: 'object',
    additionalProperties: true,
    example: { value: 5 },
  }),
  status: optional(oneOf(COMMAND_STATUSES, STATUS_LIST_MESSAGE), {
    type: 'string',
    enum: [...COMMAND_STATUSES],
    default: 'PENDING',
  }),
  deadline: optional(instant, {
    type: 'string',
    format: 'date-time',
    example: '2026-11-28T05:00:00.000Z',
    description: 'When the command times out; not with timeoutSeconds',
  }),
  timeoutSeconds: optional(wholeNumber(1, MAX_TIMEOUT_SECONDS), {
    type: 'integer',
    minimum: 1,
    maximum: MAX_TIMEOUT_SECONDS,
    example: 3600,
  }),
};

export type RegisterCommand = ParsedFields<typeof REGISTER_COMMAND_BODY>;
