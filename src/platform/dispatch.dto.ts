import {
  IDENTIFIER_DOC,
  type ParsedFields,
  identifier,
  jsonObject,
  oneOf,
  optional,
  required,
  text,
  wholeNumber,
} from '../http/fields.js';

/** The platform's longest command cache (48 h): a dispatched command's timeoutSeconds stays within it. */
export const MAX_DISPATCH_TIMEOUT_SECONDS = 172800;
export const SEND_STRATEGIES = ['immediately', 'delay'] as const;

/** POST /commands/dispatch: a command to send to a device through the configured platform. */
export const DISPATCH_COMMAND_BODY = {
  deviceId: required(identifier, IDENTIFIER_DOC('92d3f8da-200a-4143-8d0d-591a7e11de6c')),
  serviceId: required(text(128, false), {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    example: 'WaterMeter',
  }),
  method: required(text(128, false), {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    example: 'SET_TEMPERATURE_READ_PERIOD',
  }),
  paras: required(jsonObject, {
    type: 'object',
    additionalProperties: true,
    example: { value: 5 },
  }),
  timeoutSeconds: optional(wholeNumber(1, MAX_DISPATCH_TIMEOUT_SECONDS), {
    type: 'integer',
    minimum: 1,
    maximum: MAX_DISPATCH_TIMEOUT_SECONDS,
    example: 3600,
    description: "The platform's expire time, and this command's deadline",
  }),
  sendStrategy: optional(oneOf(SEND_STRATEGIES), {
    type: 'string',
    enum: [...SEND_STRATEGIES],
    default: 'immediately',
    description: 'IoTDA only',
  }),
};

export type DispatchCommandDto = ParsedFields<typeof DISPATCH_COMMAND_BODY>;
