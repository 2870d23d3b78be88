import { Logger } from '@nestjs/common';
import { isCommandStatus } from '../commands/command-status.js';
import { type PlatformConfig } from '../config/config.js';
import { signRequest } from './iotda-signer.js';
import {
  type CallGate,
  type DispatchRequest,
  type PlatformClient,
  type PlatformCommand,
  PlatformAnswerLostError,
  PlatformInvalidAnswerError,
  PlatformNotImplementedError,
  type PlatformOperation,
  PlatformRefusedError,
  type SyncCommandAnswer,
} from './platform-client.js';
import {
  answeredDevice,
  answeredId,
  type CallObserver,
  compactTime,
  observedRequest,
  parsePlatformTime,
  pathSegment,
  platformTarget,
  type PlatformChannel,
  type PlatformResponse,
} from './platform-http.js';

type IotdaConfig = Extract<PlatformConfig, { name: 'iotda' }>;

// CreateCommand waits about 20 s for the device: its calls may take this long.
const SYNC_TIMEOUT_MS = 25_000;
// The device did not answer a synchronous command in time (seen with HTTP 200, and others).
const SYNC_TIMEOUT_CODE = 'IOTDA.014111';

// ListAsyncCommands and ListAsyncHistoryCommands give at most 50 records a page; a device holds at
// most 20 cached commands, so a few pages cover any window reconciliation looks at.
const PAGE_LIMIT = 50;
const MAX_PAGES = 4;

/** Huawei Cloud IoTDA API v5, each request signed with the access key pair. */
export class IotdaClient implements PlatformClient {
  // An instance per client (one per application), not per module: Nest binds a logger to the
  // application logger of the moment it first writes.
  private readonly logger = new Logger('Platform');
  readonly name = 'iotda' as const;
  private readonly channel: PlatformChannel;
  private readonly syncChannel: PlatformChannel;

  constructor(
    private readonly config: IotdaConfig,
    timeoutMs: number,
    observe: CallObserver,
  ) {
    this.channel = { timeoutMs, agent: undefined, logger: this.logger, observe };
    this.syncChannel = { ...this.channel, timeoutMs: Math.max(timeoutMs, SYNC_TIMEOUT_MS) };
  }

  async createSync(request: DispatchRequest): Promise<SyncCommandAnswer> {
    const body = {
      service_id: request.serviceId,
      command_name: request.method,
      paras: request.paras,
    };
    const path = `/v5/iot/${enc(this.config.projectId)}/devices/${enc(request.deviceId)}/commands`;
    let response: PlatformResponse;
    try {
      response = await this.call('create_sync', 'POST', path, {}, body, false, this.syncChannel);
    } catch (error) {
      if (error instanceof PlatformRefusedError && error.code === SYNC_TIMEOUT_CODE) {
        return {
          kind: 'timeout',
          record: { error_code: error.code, error_msg: error.platformMessage },
        };
      }
      throw error;
    }
    const json = response.json;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new PlatformAnswerLostError('the platform answered no command result');
    }
    const fields = json as Record<string, unknown>;
    return {
      kind: 'answered',
      commandId:
        fields.command_id === undefined || fields.command_id === null
          ? undefined
          : answeredId(fields.command_id),
      response: fields.response ?? null,
      record: json,
    };
  }

  async create(request: DispatchRequest): Promise<PlatformCommand> {
    const body: Record<string, unknown> = {
      service_id: request.serviceId,
      command_name: request.method,
      paras: request.paras,
      send_strategy: request.sendStrategy,
    };
    if (request.timeoutSeconds !== undefined) {
      body.expire_time = request.timeoutSeconds;
    }
    const response = await this.call(
      'create',
      'POST',
      this.commandsPath(request.deviceId),
      {},
      body,
    );
    return toCommand(response.json, request.deviceId);
  }

  async show(
    command: { commandId: string; deviceId: string },
    gate?: CallGate,
  ): Promise<PlatformCommand | undefined> {
    const path = `${this.commandsPath(command.deviceId)}/${pathSegment(command.commandId)}`;
    await gate?.();
    const response = await this.call('show', 'GET', path, {}, undefined, true);
    return response === undefined
      ? undefined
      : toCommand(response.json, command.deviceId, command.commandId);
  }

  async recent(deviceId: string, since: Date, gate?: CallGate): Promise<PlatformCommand[]> {
    const found: PlatformCommand[] = [];
    // The queue (PENDING, SENT, DELIVERED) is small and its records may have no delivery time,
    // which start_time filters on; the history is filtered by the platform.
    for (const [path, query] of [
      [this.commandsPath(deviceId), {}],
      [
        `/v5/iot/${enc(this.config.projectId)}/devices/${enc(deviceId)}/async-commands-history`,
        { start_time: compactTime(since) },
      ],
    ] as const) {
      let marker: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        await gate?.();
        const response = await this.call('list', 'GET', path, {
          ...query,
          limit: String(PAGE_LIMIT),
          ...(marker === undefined ? {} : { marker }),
        });
        const { commands, next } = toPage(response.json, deviceId);
        found.push(
          ...commands.filter(
            (command) => command.createdAt === undefined || command.createdAt >= since,
          ),
        );
        if (next === undefined || commands.length < PAGE_LIMIT) {
          break;
        }
        marker = next;
      }
    }
    return found;
  }

  cancel(): Promise<PlatformCommand> {
    return Promise.reject(
      new PlatformNotImplementedError('IoTDA has no cancel for asynchronous commands'),
    );
  }

  private commandsPath(deviceId: string): string {
    return `/v5/iot/${enc(this.config.projectId)}/devices/${enc(deviceId)}/async-commands`;
  }

  private async call(
    operation: PlatformOperation,
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string>,
    body?: unknown,
    notFoundIsUndefined?: false,
    channel?: PlatformChannel,
  ): Promise<PlatformResponse>;
  private async call(
    operation: PlatformOperation,
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string>,
    body: unknown,
    notFoundIsUndefined: true,
  ): Promise<PlatformResponse | undefined>;
  private async call(
    operation: PlatformOperation,
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string>,
    body?: unknown,
    notFoundIsUndefined = false,
    channel: PlatformChannel = this.channel,
  ): Promise<PlatformResponse | undefined> {
    const target = platformTarget(this.config.endpoint, path, query);
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.config.instanceId !== undefined) {
      headers['Instance-Id'] = this.config.instanceId;
    }
    const signed = signRequest(
      {
        accessKey: this.config.accessKey,
        secretKey: this.config.secretKey,
        region: this.config.region,
        service: 'iotda',
      },
      { method, url: target.url, path: target.path, headers, body: text },
    );
    const request = {
      operation,
      method,
      url: target.url,
      path: target.path,
      headers: signed,
      body: body === undefined ? undefined : text,
    };
    // show's 404 is an answer: the platform does not know the command.
    return observedRequest(request, channel, (response) =>
      notFoundIsUndefined && response.status === 404 ? 'not_found' : undefined,
    );
  }
}

function enc(value: string): string {
  return pathSegment(value);
}

function toPage(
  json: unknown,
  deviceId: string,
): { commands: PlatformCommand[]; next: string | undefined } {
  if (
    typeof json !== 'object' ||
    json === null ||
    !Array.isArray((json as { commands?: unknown }).commands)
  ) {
    throw new PlatformAnswerLostError('the platform answered a list without commands');
  }
  const { commands, page } = json as { commands: unknown[]; page?: { marker?: unknown } };
  return {
    commands: commands.map((record) => toCommand(record, deviceId)),
    next: typeof page?.marker === 'string' && page.marker !== '' ? page.marker : undefined,
  };
}

/**
 * An IoTDA AsyncDeviceCommand record (create, show and list share it), for `deviceId` and, on a
 * lookup, the command `askedId`.
 */
export function toCommand(record: unknown, deviceId: string, askedId?: string): PlatformCommand {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new PlatformAnswerLostError('the platform answered no command record');
  }
  const fields = record as Record<string, unknown>;
  const commandId = answeredId(fields.command_id, askedId);
  if (!isCommandStatus(fields.status) || fields.status === 'CANCELED') {
    throw new PlatformInvalidAnswerError('the platform answered a command of no known status');
  }
  return {
    commandId,
    deviceId: answeredDevice(fields.device_id, deviceId),
    status: fields.status,
    resultDetail: fields.result ?? null,
    serviceId: typeof fields.service_id === 'string' ? fields.service_id : null,
    method: typeof fields.command_name === 'string' ? fields.command_name : null,
    paras: fields.paras ?? null,
    createdAt: parsePlatformTime(fields.created_time),
    record,
  };
}
