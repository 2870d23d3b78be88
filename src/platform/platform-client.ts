import { type CommandStatus } from '../commands/command-status.js';
import { type PlatformName } from '../config/config.js';

/** A command as the platform holds it, with the record it answered (kept as the report's payload). */
export interface PlatformCommand {
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  resultDetail: unknown;
  serviceId: string | null;
  method: string | null;
  paras: unknown;
  /** When the platform created it, when the record says. */
  createdAt: Date | undefined;
  record: unknown;
}

export interface DispatchRequest {
  deviceId: string;
  serviceId: string;
  method: string;
  paras: Record<string, unknown>;
  timeoutSeconds: number | undefined;
  sendStrategy: 'immediately' | 'delay';
}

/** What IoTDA's synchronous CreateCommand answered once the device had (or had not, in time). */
export type SyncCommandAnswer =
  | { kind: 'answered'; commandId: string | undefined; response: unknown; record: unknown }
  /** IOTDA.014111: the device did not answer in time. */
  | { kind: 'timeout'; record: unknown };

export const PLATFORM_OPERATIONS = [
  'login',
  'create',
  'create_sync',
  'show',
  'list',
  'cancel',
] as const;
export type PlatformOperation = (typeof PLATFORM_OPERATIONS)[number];

/** What every platform call ended with, for the metrics. */
export type CallResult = 'ok' | 'refused' | 'not_found' | 'timeout' | 'lost' | 'unreachable';

/** Awaited before each HTTP call: reconciliation's shared budget of calls a second. */
export type CallGate = () => Promise<void>;

/** One interface over IoTDA v5 and the legacy OceanConnect API, chosen by PLATFORM. */
export interface PlatformClient {
  readonly name: PlatformName;
  create(request: DispatchRequest): Promise<PlatformCommand>;
  /** IoTDA only (MQTT devices): sends and waits for the device's answer, about 20 s at most. */
  createSync?(request: DispatchRequest): Promise<SyncCommandAnswer>;
  /** The command now, or undefined when the platform does not know it. */
  show(
    command: { commandId: string; deviceId: string; createdAt: Date },
    gate?: CallGate,
  ): Promise<PlatformCommand | undefined>;
  /** The device's commands created since `since`. */
  recent(deviceId: string, since: Date, gate?: CallGate): Promise<PlatformCommand[]>;
  /** Legacy only; IoTDA has no cancel and throws PlatformNotImplementedError (501). */
  cancel(command: { commandId: string; deviceId: string }): Promise<PlatformCommand>;
}

/** The platform refused (an error status, or an error code inside a 200): 502 (409 for cancel). */
export class PlatformRefusedError extends Error {
  constructor(
    readonly code: string,
    readonly platformMessage: string,
    readonly httpStatus: number,
  ) {
    super(`The platform refused: ${code} ${platformMessage}`);
    this.name = 'PlatformRefusedError';
  }
}

/** No answer within PLATFORM_TIMEOUT_MS: whether the call took effect is unknown (504). */
export class PlatformTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The platform did not answer within ${timeoutMs} ms`);
    this.name = 'PlatformTimeoutError';
  }
}

/**
 * The answer was lost after the request may have reached the platform (the connection broke
 * after sending, a 5xx from a gateway, an unreadable or oversized 2xx): whether the call took
 * effect is unknown (504), as after a timeout.
 */
export class PlatformAnswerLostError extends Error {
  constructor(readonly reason: string) {
    super(`The platform's answer was lost: ${reason}`);
    this.name = 'PlatformAnswerLostError';
  }
}

/** The platform answered a record this service does not accept (an invalid or other id): 502. */
export class PlatformInvalidAnswerError extends Error {
  constructor(readonly reason: string) {
    super(`The platform answered something invalid: ${reason}`);
    this.name = 'PlatformInvalidAnswerError';
  }
}

/** The platform could not be reached at all (connection refused, TLS failure): 502. */
export class PlatformUnreachableError extends Error {
  constructor(readonly reason: string) {
    super(`The platform could not be reached: ${reason}`);
    this.name = 'PlatformUnreachableError';
  }
}

/** The platform does not know the command: 404. */
export class PlatformCommandNotFoundError extends Error {
  constructor(readonly commandId: string) {
    super(`The platform does not know command ${commandId}`);
    this.name = 'PlatformCommandNotFoundError';
  }
}

/** PLATFORM is unset, or the configured platform cannot do this: 501. */
export class PlatformNotImplementedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformNotImplementedError';
  }
}

/** The configured platform's client; without one (PLATFORM unset), PlatformNotImplementedError. */
export function configuredClient(client: PlatformClient | null): PlatformClient {
  if (client === null) {
    throw new PlatformNotImplementedError('No platform is configured (PLATFORM is unset)');
  }
  return client;
}

/** Whether a failed call may have taken effect all the same: its answer was lost or late. */
export function isUncertain(
  error: unknown,
): error is PlatformAnswerLostError | PlatformTimeoutError {
  return error instanceof PlatformAnswerLostError || error instanceof PlatformTimeoutError;
}
