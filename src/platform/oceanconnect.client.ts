import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { type CommandStatus, isCommandStatus } from '../commands/command-status.js';
import { type PlatformConfig } from '../config/config.js';
import { redactQueryString } from '../http/redact.js';
import {
  type CallGate,
  type DispatchRequest,
  type PlatformClient,
  type PlatformCommand,
  PlatformAnswerLostError,
  PlatformInvalidAnswerError,
  type PlatformOperation,
  PlatformUnreachableError,
} from './platform-client.js';
import {
  answeredDevice,
  answeredId,
  type CallObserver,
  compactTime,
  errorInBody,
  observedRequest,
  parsePlatformTime,
  pathSegment,
  platformTarget,
  type PlatformChannel,
  type PlatformResponse,
} from './platform-http.js';

type OceanConnectConfig = Extract<PlatformConfig, { name: 'oceanconnect' }>;

const COMMANDS_PATH = '/iocm/app/cmd/v1.4.0/deviceCommands';
const LOGIN_PATH = '/iocm/app/sec/v1.1.0/login';
// "invalid access token or appId": log in again and repeat the call once.
const REJECTED_TOKEN_CODES = new Set(['1010005', '100028', '1010004']);
// A token is renewed this long before it expires (at most half its lifetime).
const RENEW_BEFORE_MS = 5 * 60 * 1000;
// The query answers at most 1000 records a page; a few pages cover a command's window.
const PAGE_SIZE = 1000;
const MAX_PAGES = 5;
// A command's time window on the platform starts a little before it was created here, for clocks
// that disagree.
const WINDOW_SLACK_MS = 10 * 60 * 1000;

interface Token {
  value: string;
  renewAt: number;
}

/**
 * The legacy OceanConnect northbound API: form login, `app_key` + `Authorization: Bearer` on
 * every call, mutual TLS when PEM files are configured. Only the latest token is valid, so one
 * login at a time (single flight): calls that meet a rejected token wait for the same renewal.
 */
export class OceanConnectClient implements PlatformClient {
  // An instance per client (one per application), not per module: Nest binds a logger to the
  // application logger of the moment it first writes.
  private readonly logger = new Logger('Platform');
  readonly name = 'oceanconnect' as const;
  private token: Token | undefined;
  private renewing: Promise<Token> | undefined;
  private readonly channel: PlatformChannel;

  constructor(
    private readonly config: OceanConnectConfig,
    timeoutMs: number,
    observe: CallObserver,
    private readonly now: () => number = Date.now,
  ) {
    const agent =
      config.certFile === undefined && config.keyFile === undefined && config.caFile === undefined
        ? undefined
        : new https.Agent({
            cert: config.certFile === undefined ? undefined : readFileSync(config.certFile),
            key: config.keyFile === undefined ? undefined : readFileSync(config.keyFile),
            ca: config.caFile === undefined ? undefined : readFileSync(config.caFile),
            keepAlive: true,
          });
    this.channel = { timeoutMs, agent, logger: this.logger, observe };
  }

  async create(request: DispatchRequest): Promise<PlatformCommand> {
    const body: Record<string, unknown> = {
      deviceId: request.deviceId,
      command: { serviceId: request.serviceId, method: request.method, paras: request.paras },
    };
    if (this.config.callbackUrl !== undefined) {
      body.callbackUrl = this.config.callbackUrl;
    }
    if (request.timeoutSeconds !== undefined) {
      body.expireTime = request.timeoutSeconds;
    }
    const response = await this.call('create', 'POST', COMMANDS_PATH, {}, body);
    return toCommand(response.json, request.deviceId);
  }

  async cancel(command: { commandId: string; deviceId: string }): Promise<PlatformCommand> {
    const response = await this.call(
      'cancel',
      'PUT',
      `${COMMANDS_PATH}/${pathSegment(command.commandId)}`,
      {},
      { status: 'CANCELED' },
    );
    return toCommand(response.json, command.deviceId, command.commandId);
  }

  async show(
    command: { commandId: string; deviceId: string; createdAt: Date },
    gate?: CallGate,
  ): Promise<PlatformCommand | undefined> {
    const since = new Date(command.createdAt.getTime() - WINDOW_SLACK_MS);
    const found = await this.query(
      command.deviceId,
      since,
      gate,
      (record) => record.commandId === command.commandId,
    );
    return found[0];
  }

  recent(deviceId: string, since: Date, gate?: CallGate): Promise<PlatformCommand[]> {
    return this.query(deviceId, since, gate, () => true);
  }

  private async query(
    deviceId: string,
    since: Date,
    gate: CallGate | undefined,
    keep: (command: PlatformCommand) => boolean,
  ): Promise<PlatformCommand[]> {
    const found: PlatformCommand[] = [];
    const until = new Date(this.now() + WINDOW_SLACK_MS);
    for (let pageNo = 0; pageNo < MAX_PAGES; pageNo++) {
      await gate?.();
      const response = await this.call('list', 'GET', COMMANDS_PATH, {
        deviceId,
        startTime: compactTime(since),
        endTime: compactTime(until),
        pageNo: String(pageNo),
        pageSize: String(PAGE_SIZE),
      });
      const json = response.json as
        { data?: unknown; pagination?: { totalSize?: unknown } } | undefined;
      if (typeof json !== 'object' || !Array.isArray(json.data)) {
        throw new PlatformAnswerLostError('the platform answered a query without data');
      }
      const commands = json.data.map((record) => toCommand(record, deviceId));
      found.push(...commands.filter(keep));
      const total = typeof json.pagination?.totalSize === 'number' ? json.pagination.totalSize : 0;
      if ((pageNo + 1) * PAGE_SIZE >= total || commands.length < PAGE_SIZE) {
        break;
      }
    }
    return found;
  }

  /** An authorized call; a rejected token is renewed (once, shared) and the call repeated once. */
  private async call(
    operation: PlatformOperation,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    query: Record<string, string>,
    body?: unknown,
  ): Promise<PlatformResponse> {
    const { url, path: sentPath } = platformTarget(this.config.baseUrl, path, query);
    for (let attempt = 1; ; attempt++) {
      const token = await this.currentToken();
      const response = await observedRequest(
        {
          operation,
          method,
          url,
          path: sentPath,
          headers: {
            app_key: this.config.appId,
            Authorization: `Bearer ${token.value}`,
            'Content-Type': 'application/json',
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        },
        this.channel,
        (candidate) => (attempt === 1 && isRejectedToken(candidate) ? 'refused' : undefined),
      );
      if (response !== undefined) {
        return response;
      }
      this.rejected(token);
    }
  }

  private async currentToken(): Promise<Token> {
    if (this.token !== undefined && this.now() < this.token.renewAt) {
      return this.token;
    }
    return this.renew();
  }

  /** The token was refused: renew, unless a renewal since then already replaced it. */
  private rejected(token: Token): void {
    if (this.token === token) {
      this.token = undefined;
    }
  }

  private renew(): Promise<Token> {
    this.renewing ??= this.login().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async login(): Promise<Token> {
    const { url, path } = platformTarget(this.config.baseUrl, LOGIN_PATH, {});
    const form = new URLSearchParams({ appId: this.config.appId, secret: this.config.secret });
    const startedAt = this.now();
    const response = await observedRequest(
      {
        operation: 'login',
        method: 'POST',
        url,
        path,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      },
      this.channel,
    );
    const json = response.json as { accessToken?: unknown; expiresIn?: unknown } | undefined;
    if (typeof json?.accessToken !== 'string' || typeof json.expiresIn !== 'number') {
      throw new PlatformUnreachableError('the platform answered a login without accessToken');
    }
    const lifetimeMs = json.expiresIn * 1000;
    this.token = {
      value: json.accessToken,
      renewAt: startedAt + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 2),
    };
    return this.token;
  }
}

function isRejectedToken(response: PlatformResponse): boolean {
  if (response.status === 401) {
    return true;
  }
  const error = errorInBody(response.json);
  return error !== undefined && REJECTED_TOKEN_CODES.has(error.code);
}

function toStatus(value: unknown): CommandStatus | undefined {
  if (value === 'DEFAULT') {
    return 'PENDING';
  }
  return isCommandStatus(value) ? value : undefined;
}

/** A legacy command record (create, cancel and query share it); on a cancel, of `askedId`. */
export function toCommand(record: unknown, deviceId: string, askedId?: string): PlatformCommand {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new PlatformAnswerLostError('the platform answered no command record');
  }
  const fields = record as Record<string, unknown>;
  const commandId = answeredId(fields.commandId, askedId);
  const status = toStatus(fields.status);
  if (status === undefined) {
    throw new PlatformInvalidAnswerError('the platform answered a command of no known status');
  }
  const command = (
    typeof fields.command === 'object' && fields.command !== null ? fields.command : {}
  ) as Record<string, unknown>;
  return {
    commandId,
    deviceId: answeredDevice(fields.deviceId, deviceId),
    status,
    resultDetail: fields.result ?? null,
    serviceId: typeof command.serviceId === 'string' ? command.serviceId : null,
    method: typeof command.method === 'string' ? command.method : null,
    paras: command.paras ?? null,
    createdAt: parsePlatformTime(fields.creationTime),
    // The record becomes a history payload, which API clients read: the callback token stays out.
    record:
      typeof fields.callbackUrl === 'string'
        ? { ...fields, callbackUrl: redactQueryString(fields.callbackUrl) }
        : record,
  };
}
