// An IoTDA v5 data-forwarding message, as pushed over HTTP or put into an AMQP queue: one pure
// reading of it, shared by POST /callbacks/iotda and the AMQP consumer, so both apply the same
// reports and refuse the same messages. The message's fields are validated by its DTO classes
// (iotda-message.dto.ts), as every input is.

import {
  IOTDA_COMMAND_EVENT,
  IOTDA_COMMAND_RESOURCES,
  IotdaMessageDto,
  type IotdaStatus,
} from './iotda-message.dto.js';
import { type FieldProblem, unstorableJson } from '../http/json-checks.js';
import { validateInput } from '../http/validation.js';

export {
  IOTDA_COMMAND_EVENT,
  IOTDA_COMMAND_RESOURCES,
  IOTDA_STATUSES,
  type IotdaStatus,
  parseIotdaTime,
} from './iotda-message.dto.js';

/** What a forwarded message says about a command, ready for the rule. */
export interface IotdaReport {
  deviceId: string;
  commandId: string;
  status: IotdaStatus;
  /** notify_data.body.result; null when absent. */
  resultDetail: unknown;
}

export type IotdaMessage =
  | { kind: 'report'; report: IotdaReport }
  /** Another resource or event: the same forwarding target may serve other rules. */
  | { kind: 'ignored'; resource: string; event: string }
  | { kind: 'invalid'; problems: FieldProblem[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(field: string, message: string): IotdaMessage {
  return { kind: 'invalid', problems: [{ field, message: `${field} ${message}` }] };
}

const BESIDE = 'notify_data.body.';

/** Reads a parsed JSON message; never throws. */
export function parseIotdaMessage(message: unknown): IotdaMessage {
  if (!isObject(message)) {
    return invalid('body', 'must be a JSON object');
  }
  const { resource, event } = message;
  if (typeof resource !== 'string') {
    return invalid('resource', 'must be a string');
  }
  if (typeof event !== 'string') {
    return invalid('event', 'must be a string');
  }
  if (
    !(IOTDA_COMMAND_RESOURCES as readonly string[]).includes(resource) ||
    event !== IOTDA_COMMAND_EVENT
  ) {
    return { kind: 'ignored', resource, event };
  }
  const unstorable = unstorableJson(message, '');
  if (unstorable !== undefined) {
    return invalid(unstorable.field, unstorable.message);
  }
  // IoTDA's documents show `body` inside notify_data in their field tables and beside it in some
  // examples; both are read, inside first. One beside it is validated in its place, and its
  // fields' problems name where it was.
  const notifyData = message.notify_data;
  const beside =
    isObject(notifyData) && notifyData.body === undefined && message.body !== undefined;
  const input = beside
    ? { ...message, notify_data: { ...notifyData, body: message.body } }
    : message;
  const result = validateInput(IotdaMessageDto, input);
  if ('problems' in result) {
    // The first problem, as a message is refused for one reason.
    const { field, message: text } = result.problems[0];
    const moved = beside && field.startsWith(BESIDE);
    return {
      kind: 'invalid',
      problems: [
        moved
          ? {
              field: `body.${field.slice(BESIDE.length)}`,
              message: `body.${text.slice(BESIDE.length)}`,
            }
          : { field, message: text },
      ],
    };
  }
  const { header, body } = result.value.notify_data;
  return {
    kind: 'report',
    report: {
      deviceId: header.device_id,
      commandId: body.command_id,
      status: body.status,
      resultDetail: body.result,
    },
  };
}
