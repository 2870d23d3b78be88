// An IoTDA v5 data-forwarding message, as pushed over HTTP or put into an AMQP queue: one pure
// reading of it, shared by POST /callbacks/iotda and the AMQP consumer, so both apply the same
// reports and refuse the same messages.

import { type CommandStatus } from '../commands/command-status.js';
import { type FieldProblem, identifierProblem, unstorableJson } from '../http/json-checks.js';

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

const STATUS_MESSAGE = `must be one of ${IOTDA_STATUSES.join(', ')}`;

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
  if (message.event_time !== undefined && parseIotdaTime(message.event_time) === undefined) {
    return invalid('event_time', `must be a UTC time such as 20261201T101500Z`);
  }
  const notifyData = message.notify_data;
  if (!isObject(notifyData)) {
    return invalid('notify_data', 'must be an object');
  }
  const header = notifyData.header;
  if (!isObject(header)) {
    return invalid('notify_data.header', 'must be an object');
  }
  // IoTDA's documents show `body` inside notify_data in their field tables and beside it in some
  // examples; both are read, inside first.
  const bodyField = notifyData.body !== undefined ? 'notify_data.body' : 'body';
  const body = notifyData.body ?? message.body;
  if (!isObject(body)) {
    return invalid('notify_data.body', 'must be an object');
  }
  const deviceProblem = identifierProblem(header.device_id);
  if (deviceProblem !== undefined) {
    return invalid('notify_data.header.device_id', deviceProblem);
  }
  const commandProblem = identifierProblem(body.command_id);
  if (commandProblem !== undefined) {
    return invalid(`${bodyField}.command_id`, commandProblem);
  }
  const status = body.status;
  if (!(IOTDA_STATUSES as readonly unknown[]).includes(status)) {
    return invalid(`${bodyField}.status`, STATUS_MESSAGE);
  }
  return {
    kind: 'report',
    report: {
      deviceId: header.device_id as string,
      commandId: body.command_id as string,
      status: status as IotdaStatus,
      resultDetail: body.result ?? null,
    },
  };
}

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
