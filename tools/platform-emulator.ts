// An in-process emulator of Huawei's two command APIs (IoTDA v5 and the legacy OceanConnect NA
// API), for the tests and the simulator: login and token expiry, create, show, list, cancel, the
// platforms' error codes (also inside a 200), status pushes to the callback or forwarding URL,
// and faults on demand (refusals, hung calls, lost pushes).
import http from 'node:http';
import https from 'node:https';
import { type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { signRequest } from '../src/platform/iotda-signer.js';

export type EmulatedStatus =
  'PENDING' | 'SENT' | 'DELIVERED' | 'TIMEOUT' | 'EXPIRED' | 'CANCELED' | 'SUCCESSFUL' | 'FAILED';

export type Operation = 'login' | 'create' | 'create_sync' | 'show' | 'list' | 'cancel';

/** How an MQTT device answers a synchronous command: its response, or none in time. */
export type SyncAnswer = { response: unknown; delayMs?: number } | { timeout: true };

export interface EmulatedCommand {
  platform: 'iotda' | 'oceanconnect';
  commandId: string;
  deviceId: string;
  serviceId: string;
  method: string;
  paras: unknown;
  status: EmulatedStatus;
  result: unknown;
  expireTime: number | null;
  sendStrategy: string;
  callbackUrl: string | null;
  createdAt: Date;
  sentAt: Date | null;
  deliveredAt: Date | null;
  respondedAt: Date | null;
  /** Increasing: IoTDA list markers and newest-first order. */
  sequence: number;
}

export type Fault =
  /** An error status with the platform's error body. */
  | { kind: 'refuse'; httpStatus: number; code: string; message: string }
  /** 200 with an error code in the body (the legacy platform does this). */
  | { kind: 'error-in-200'; code: string; message: string }
  /** No answer at all; with `afterEffect` the call takes effect first (a lost answer). */
  | { kind: 'hang'; afterEffect: boolean }
  /** The connection is reset once the request has arrived, after the effect if `afterEffect`. */
  | { kind: 'reset'; afterEffect: boolean }
  /**
   * This answer instead of the call's own (a gateway's 502, an unreadable 200, a record of
   * another command), after the effect if `afterEffect`. A string body is sent as it is.
   */
  | { kind: 'answer'; httpStatus: number; body: unknown; afterEffect: boolean };

export interface RecordedCall {
  at: number;
  platform: 'iotda' | 'oceanconnect';
  operation: Operation;
  method: string;
  path: string;
  /** The query string, without `?`. */
  query: string;
  headers: http.IncomingHttpHeaders;
  /** IoTDA: the access key the request was signed with. */
  accessKey?: string;
}

export interface EmulatorOptions {
  iotda?: {
    projectId: string;
    /** Access key → secret key accepted in signatures. */
    credentials: Record<string, string>;
    /** Set: V11-HMAC-SHA256 signatures in this region are expected. */
    region?: string;
    /** The data-forwarding rule's HTTP URL (POST /callbacks/iotda of the service). */
    forwardingUrl?: string;
  };
  oceanconnect?: { appId: string; secret: string; tokenLifetimeSeconds?: number };
  /** Serve HTTPS and require a client certificate signed by `ca` (the legacy mutual TLS). */
  tls?: { key: string; cert: string; ca: string };
  /** Share of status pushes silently dropped (0 to 1). */
  pushLossRate?: number;
  random?: () => number;
}

const IOTDA_PREFIX =
  /^\/v5\/iot\/([^/]+)\/devices\/([^/]+)\/(async-commands-history|async-commands|commands)(?:\/([^/]+))?$/;
const OC_COMMANDS = '/iocm/app/cmd/v1.4.0/deviceCommands';
const OC_LOGIN = '/iocm/app/sec/v1.1.0/login';
// Both platforms cache at most 20 PENDING commands per device.
const PENDING_LIMIT = 20;
const QUEUE_STATUSES = new Set<EmulatedStatus>(['PENDING', 'SENT', 'DELIVERED']);

type Refusal = 'invalid' | 'offline' | 'full';
/** How each platform refuses a create: HTTP status, error code, message. */
const REFUSALS: Record<'iotda' | 'oceanconnect', Record<Refusal, [number, string, string]>> = {
  iotda: {
    invalid: [400, 'IOTDA.000006', 'Invalid input'],
    offline: [403, 'IOTDA.014016', 'Operation not allowed. The device is not online.'],
    full: [400, 'IOTDA.014301', 'The number of cached commands reached the limit'],
  },
  oceanconnect: {
    invalid: [400, '100022', 'Invalid input'],
    // The legacy platform says so inside a 200.
    offline: [200, '100428', 'The device is not online'],
    full: [400, '100223', 'Command counts has reached the upLimit'],
  },
};

export class PlatformEmulator {
  readonly calls: RecordedCall[] = [];
  readonly commands = new Map<string, EmulatedCommand>();
  /** Each device's commands, so that a create's cache check does not scan every device's. */
  private readonly byDevice = new Map<string, EmulatedCommand[]>();
  /** Devices that are offline: create is refused (legacy 100428 in a 200, IoTDA IOTDA.014016). */
  readonly offline = new Set<string>();
  logins = 0;
  pushes = { sent: 0, lost: 0, failed: 0 };
  pushLossRate: number;
  /** How devices answer synchronous commands (IoTDA CreateCommand); by default at once, with 0. */
  syncAnswer: (deviceId: string, paras: unknown) => SyncAnswer = () => ({
    response: { result_code: 0, response_name: 'COMMAND_RESPONSE', paras: { result: 'ok' } },
  });
  /** Called once a command is created, before the answer leaves (a test cuts the database here). */
  onCreated: ((command: EmulatedCommand) => void) | undefined;
  private readonly faults: { operation: Operation; fault: Fault }[] = [];
  private readonly hung = new Set<http.ServerResponse>();
  private tokens = new Map<string, number>();
  private latestToken: string | undefined;
  private sequence = 0;
  private readonly random: () => number;

  private constructor(
    private readonly server: http.Server,
    private readonly options: EmulatorOptions,
  ) {
    this.pushLossRate = options.pushLossRate ?? 0;
    this.random = options.random ?? Math.random;
  }

  static async start(options: EmulatorOptions): Promise<PlatformEmulator> {
    const server =
      options.tls === undefined
        ? http.createServer()
        : https.createServer({ ...options.tls, requestCert: true, rejectUnauthorized: true });
    const emulator = new PlatformEmulator(server, options);
    server.on('request', (request, response) => {
      void emulator.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return emulator;
  }

  get url(): string {
    const scheme = this.options.tls === undefined ? 'http' : 'https';
    return `${scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `times` calls of `operation` meet `fault`. */
  failNext(operation: Operation, fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.faults.push({ operation, fault });
    }
  }

  /** Every legacy token stops being valid (as after a login elsewhere). */
  revokeTokens(): void {
    this.tokens.clear();
    this.latestToken = undefined;
  }

  /** Legacy tokens expire as if this many seconds had passed. */
  expireTokens(): void {
    for (const token of this.tokens.keys()) {
      this.tokens.set(token, 0);
    }
  }

  callsOf(operation: Operation): RecordedCall[] {
    return this.calls.filter((call) => call.operation === operation);
  }

  /**
   * Moves a command to `status` as the device would, and pushes the change (unless the push is
   * lost). Resolves with whether a push was delivered with a 200.
   */
  async advance(
    commandId: string,
    status: EmulatedStatus,
    result: unknown = null,
  ): Promise<boolean> {
    const command = this.commands.get(commandId);
    if (command === undefined) {
      throw new Error(`The emulator knows no command ${commandId}`);
    }
    const now = new Date();
    command.status = status;
    command.result = result;
    if (status === 'SENT') {
      command.sentAt ??= now;
    }
    if (status === 'DELIVERED') {
      command.deliveredAt ??= now;
    }
    if (status === 'SUCCESSFUL' || status === 'FAILED') {
      command.respondedAt ??= now;
    }
    return this.push(command);
  }

  async close(): Promise<void> {
    for (const response of this.hung) {
      response.destroy();
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async push(command: EmulatedCommand): Promise<boolean> {
    const url =
      command.platform === 'iotda' ? this.options.iotda?.forwardingUrl : command.callbackUrl;
    if (url === undefined || url === null) {
      return false;
    }
    if (this.random() < this.pushLossRate) {
      this.pushes.lost++;
      return false;
    }
    const body =
      command.platform === 'iotda'
        ? {
            resource: 'device.command.status',
            event: 'update',
            event_time: compact(new Date()),
            notify_data: {
              header: { device_id: command.deviceId, product_id: 'emulated', app_id: 'emulated' },
              body: { command_id: command.commandId, ...iotdaState(command) },
            },
          }
        : {
            deviceId: command.deviceId,
            commandId: command.commandId,
            result: { resultCode: command.status, resultDetail: command.result },
          };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      await response.arrayBuffer();
      if (response.status === 200) {
        this.pushes.sent++;
        return true;
      }
    } catch {
      // Counted below: the platform drops a push it could not deliver.
    }
    this.pushes.failed++;
    return false;
  }

  private async handle(
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) {
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://emulator');
    // The path as received: a URL resolves `.` and `..` segments, which a platform does not.
    const path = (request.url ?? '/').split('?')[0];
    const iotda = IOTDA_PREFIX.exec(path);
    try {
      if (iotda !== null && this.options.iotda !== undefined) {
        this.handleIotda(request, response, url, path, iotda, body);
      } else if (path.startsWith('/iocm/') && this.options.oceanconnect !== undefined) {
        this.handleOceanConnect(request, response, url, path, body);
      } else {
        send(response, 404, { error_code: 'NOT_FOUND', error_msg: 'No such API' });
      }
    } catch (error) {
      send(response, 500, { error_code: 'EMULATOR', error_msg: String(error) });
    }
  }

  /** Applies a pending fault: true when it answered (or hung) already. */
  private fault(
    operation: Operation,
    response: http.ServerResponse,
    platform: 'iotda' | 'oceanconnect',
    effect: () => void = () => undefined,
  ): boolean {
    const index = this.faults.findIndex((pending) => pending.operation === operation);
    if (index < 0) {
      return false;
    }
    const [{ fault }] = this.faults.splice(index, 1);
    switch (fault.kind) {
      case 'refuse':
        send(response, fault.httpStatus, errorBody(platform, fault.code, fault.message));
        return true;
      case 'error-in-200':
        send(response, 200, errorBody(platform, fault.code, fault.message));
        return true;
      case 'hang':
        if (fault.afterEffect) {
          effect();
        }
        this.hung.add(response);
        response.on('close', () => this.hung.delete(response));
        return true;
      case 'reset':
        if (fault.afterEffect) {
          effect();
        }
        response.socket?.resetAndDestroy();
        return true;
      case 'answer': {
        if (fault.afterEffect) {
          effect();
        }
        sendText(
          response,
          fault.httpStatus,
          typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body),
        );
        return true;
      }
    }
  }

  private handleIotda(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    url: URL,
    path: string,
    [, projectId, deviceIdRaw, collection, commandIdRaw]: RegExpExecArray,
    body: string,
  ): void {
    const options = this.options.iotda!;
    const deviceId = decodeURIComponent(deviceIdRaw);
    const method = request.method ?? 'GET';
    const operation: Operation =
      collection === 'commands'
        ? 'create_sync'
        : method === 'POST'
          ? 'create'
          : commandIdRaw === undefined
            ? 'list'
            : 'show';
    const accessKey = this.verifySignature(request, url, path, body);
    this.record(request, url, path, 'iotda', operation, accessKey);
    if (accessKey === undefined) {
      send(response, 401, {
        error_code: 'APIGW.0301',
        error_msg: 'Incorrect IAM authentication information',
      });
      return;
    }
    if (projectId !== options.projectId) {
      send(response, 403, { error_code: 'IOTDA.000004', error_msg: 'project not found' });
      return;
    }
    switch (operation) {
      case 'create_sync':
        this.createSync(response, deviceId, body);
        return;
      case 'create': {
        const input = parseInput<Record<string, unknown>>(response, 'iotda', body);
        if (input === undefined) {
          return;
        }
        this.createQueued(
          response,
          'iotda',
          deviceId,
          typeof input.paras === 'object' &&
            input.paras !== null &&
            typeof input.send_strategy === 'string',
          () =>
            this.createIotda(
              deviceId,
              input,
              input.send_strategy === 'delay' ? 'delay' : 'immediately',
            ),
        );
        return;
      }
      case 'show': {
        if (this.fault('show', response, 'iotda')) {
          return;
        }
        const command = this.commands.get(decodeURIComponent(commandIdRaw));
        if (
          command === undefined ||
          command.deviceId !== deviceId ||
          command.platform !== 'iotda'
        ) {
          send(response, 404, {
            error_code: 'IOTDA.014000',
            error_msg: 'The command does not exist',
          });
          return;
        }
        send(response, 200, iotdaRecord(command));
        return;
      }
      case 'list': {
        if (this.fault('list', response, 'iotda')) {
          return;
        }
        const history = collection === 'async-commands-history';
        const limit = Math.min(50, Number(url.searchParams.get('limit') ?? 10));
        const marker = url.searchParams.get('marker');
        const start = url.searchParams.get('start_time');
        const matching = [...this.commands.values()]
          .filter((command) => command.platform === 'iotda' && command.deviceId === deviceId)
          .filter((command) => QUEUE_STATUSES.has(command.status) !== history)
          .filter((command) => start === null || compact(command.createdAt) >= start)
          .filter((command) => marker === null || command.sequence < Number(marker))
          .sort((a, b) => b.sequence - a.sequence);
        const page = matching.slice(0, limit);
        send(response, 200, {
          commands: page.map(iotdaRecord),
          page: {
            count: matching.length,
            marker: page.length > 0 ? String(page[page.length - 1].sequence) : '',
          },
        });
        return;
      }
      default:
        send(response, 405, { error_code: 'IOTDA.000006', error_msg: 'Method not allowed' });
    }
  }

  /** CreateCommand: the platform waits for the device's answer (about 20 s at most). */
  private createSync(response: http.ServerResponse, deviceId: string, body: string): void {
    const input = parseInput<Record<string, unknown>>(response, 'iotda', body);
    if (input === undefined) {
      return;
    }
    const create = () => this.createIotda(deviceId, input, 'sync');
    if (this.fault('create_sync', response, 'iotda', create)) {
      return;
    }
    if (this.offline.has(deviceId)) {
      refuse(response, 'iotda', 'offline');
      return;
    }
    const command = create();
    const answer = this.syncAnswer(deviceId, input.paras);
    if ('timeout' in answer) {
      command.status = 'TIMEOUT';
      send(response, 200, {
        error_code: 'IOTDA.014111',
        error_msg: 'Command request timed out.',
      });
      return;
    }
    const reply = () => {
      // As the service reads it: a result_code other than 0 is the device's failure.
      const code = (answer.response as { result_code?: unknown } | null)?.result_code;
      command.status = code === undefined || code === 0 ? 'SUCCESSFUL' : 'FAILED';
      command.result = answer.response;
      send(response, 200, { command_id: command.commandId, response: answer.response });
    };
    if (answer.delayMs === undefined) {
      reply();
    } else {
      setTimeout(reply, answer.delayMs);
    }
  }

  /** The access key of a valid signature, else undefined. */
  private verifySignature(
    request: http.IncomingMessage,
    url: URL,
    path: string,
    body: string,
  ): string | undefined {
    const authorization = request.headers.authorization ?? '';
    const options = this.options.iotda!;
    const match =
      /^(SDK|V11)-HMAC-SHA256 (?:Access|Credential)=([^/,]+)[^,]*, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(
        authorization,
      );
    if (match === null) {
      return undefined;
    }
    const [, algorithm, accessKey, signedHeaders] = match;
    const secretKey = options.credentials[accessKey];
    if (secretKey === undefined || (algorithm === 'V11') !== (options.region !== undefined)) {
      return undefined;
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders.split(';')) {
      const value = request.headers[name];
      headers[name] = Array.isArray(value) ? value.join(',') : (value ?? '');
    }
    const expected = signRequest(
      { accessKey, secretKey, region: options.region, service: 'iotda' },
      { method: request.method ?? 'GET', url, path, headers, body },
    );
    return expected.Authorization === authorization ? accessKey : undefined;
  }

  private handleOceanConnect(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    url: URL,
    path: string,
    body: string,
  ): void {
    const options = this.options.oceanconnect!;
    const method = request.method ?? 'GET';
    if (path === OC_LOGIN && method === 'POST') {
      this.record(request, url, path, 'oceanconnect', 'login');
      this.logins++;
      if (this.fault('login', response, 'oceanconnect')) {
        return;
      }
      const form = new URLSearchParams(body);
      if (
        !String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded') ||
        form.get('appId') !== options.appId ||
        form.get('secret') !== options.secret
      ) {
        send(response, 401, { error_code: '1010002', error_desc: 'Invalid appId or secret' });
        return;
      }
      const lifetime = options.tokenLifetimeSeconds ?? 3600;
      const token = randomBytes(16).toString('hex');
      // Only the latest token is valid.
      this.tokens = new Map([[token, Date.now() + lifetime * 1000]]);
      this.latestToken = token;
      send(response, 200, {
        accessToken: token,
        tokenType: 'bearer',
        refreshToken: randomBytes(16).toString('hex'),
        expiresIn: lifetime,
        scope: 'default',
      });
      return;
    }
    const commandPath = path.startsWith(`${OC_COMMANDS}/`)
      ? decodeURIComponent(path.slice(OC_COMMANDS.length + 1))
      : undefined;
    const operation: Operation =
      method === 'POST' ? 'create' : method === 'PUT' ? 'cancel' : 'list';
    this.record(request, url, path, 'oceanconnect', operation);
    if (path !== OC_COMMANDS && commandPath === undefined) {
      send(response, 404, { error_code: '100022', error_desc: 'No such API' });
      return;
    }
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiresAt = bearer === undefined ? undefined : this.tokens.get(bearer);
    if (
      request.headers.app_key !== options.appId ||
      expiresAt === undefined ||
      expiresAt <= Date.now() ||
      bearer !== this.latestToken
    ) {
      send(response, 403, { error_code: '1010005', error_desc: 'Invalid access token or appId' });
      return;
    }
    if (operation === 'create') {
      const input = parseInput<{
        deviceId?: unknown;
        command?: { serviceId?: unknown; method?: unknown; paras?: unknown };
        callbackUrl?: unknown;
        expireTime?: unknown;
      }>(response, 'oceanconnect', body);
      if (input === undefined) {
        return;
      }
      const deviceId = String(input.deviceId);
      this.createQueued(
        response,
        'oceanconnect',
        deviceId,
        typeof input.deviceId === 'string' && typeof input.command?.serviceId === 'string',
        () =>
          this.create(
            'oceanconnect',
            deviceId,
            String(input.command?.serviceId),
            String(input.command?.method),
            input.command?.paras ?? {},
            typeof input.expireTime === 'number' ? input.expireTime : null,
            'immediately',
            typeof input.callbackUrl === 'string' ? input.callbackUrl : null,
            'PENDING',
          ),
      );
      return;
    }
    if (operation === 'cancel') {
      if (this.fault('cancel', response, 'oceanconnect')) {
        return;
      }
      const command = commandPath === undefined ? undefined : this.commands.get(commandPath);
      if (command === undefined || command.platform !== 'oceanconnect') {
        send(response, 404, {
          error_code: '100434',
          error_desc: 'The device command does not exist',
        });
        return;
      }
      if (command.status !== 'PENDING') {
        send(response, 400, {
          error_code: '100435',
          error_desc: 'Only PENDING commands can be canceled',
        });
        return;
      }
      command.status = 'CANCELED';
      send(response, 200, ocRecord(command));
      return;
    }
    if (this.fault('list', response, 'oceanconnect')) {
      return;
    }
    const deviceId = url.searchParams.get('deviceId');
    const start = url.searchParams.get('startTime');
    const end = url.searchParams.get('endTime');
    const pageNo = Number(url.searchParams.get('pageNo') ?? 0);
    const pageSize = Math.min(1000, Number(url.searchParams.get('pageSize') ?? 1000));
    const matching = [...this.commands.values()]
      .filter((command) => command.platform === 'oceanconnect')
      .filter((command) => deviceId === null || command.deviceId === deviceId)
      .filter((command) => start === null || compact(command.createdAt) >= start)
      .filter((command) => end === null || compact(command.createdAt) <= end)
      .sort((a, b) => b.sequence - a.sequence);
    send(response, 200, {
      pagination: { pageNo, pageSize, totalSize: matching.length },
      data: matching.slice(pageNo * pageSize, (pageNo + 1) * pageSize).map(ocRecord),
    });
  }

  private record(
    request: http.IncomingMessage,
    url: URL,
    path: string,
    platform: 'iotda' | 'oceanconnect',
    operation: Operation,
    accessKey?: string,
  ): void {
    this.calls.push({
      at: Date.now(),
      platform,
      operation,
      method: request.method ?? 'GET',
      path,
      query: url.search.slice(1),
      headers: request.headers,
      accessKey,
    });
  }

  /**
   * An asynchronous create as both platforms answer it: a pending fault first (which may make the
   * command all the same), then the input, the device being online and its cache's limit.
   */
  private createQueued(
    response: http.ServerResponse,
    platform: 'iotda' | 'oceanconnect',
    deviceId: string,
    valid: boolean,
    create: () => EmulatedCommand,
  ): void {
    if (this.fault('create', response, platform, create)) {
      return;
    }
    const refusal: Refusal | undefined = !valid
      ? 'invalid'
      : this.offline.has(deviceId)
        ? 'offline'
        : this.pendingOf(deviceId) >= PENDING_LIMIT
          ? 'full'
          : undefined;
    if (refusal !== undefined) {
      refuse(response, platform, refusal);
      return;
    }
    const command = create();
    send(response, 201, platform === 'iotda' ? iotdaRecord(command) : ocRecord(command));
  }

  /** A command from an IoTDA create's body: a delayed one waits (PENDING), the others are sent. */
  private createIotda(
    deviceId: string,
    input: Record<string, unknown>,
    strategy: 'delay' | 'immediately' | 'sync',
  ): EmulatedCommand {
    return this.create(
      'iotda',
      deviceId,
      String(input.service_id),
      String(input.command_name),
      input.paras,
      strategy !== 'sync' && typeof input.expire_time === 'number' ? input.expire_time : null,
      strategy,
      null,
      strategy === 'delay' ? 'PENDING' : 'SENT',
    );
  }

  private create(
    platform: 'iotda' | 'oceanconnect',
    deviceId: string,
    serviceId: string,
    method: string,
    paras: unknown,
    expireTime: number | null,
    sendStrategy: string,
    callbackUrl: string | null,
    status: EmulatedStatus,
  ): EmulatedCommand {
    const now = new Date();
    const command: EmulatedCommand = {
      platform,
      commandId:
        platform === 'iotda'
          ? randomBytes(16)
              .toString('hex')
              .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
          : randomBytes(16).toString('hex'),
      deviceId,
      serviceId,
      method,
      paras,
      status,
      result: null,
      expireTime,
      sendStrategy,
      callbackUrl,
      createdAt: now,
      sentAt: status === 'SENT' ? now : null,
      deliveredAt: null,
      respondedAt: null,
      sequence: ++this.sequence,
    };
    this.commands.set(command.commandId, command);
    const ofDevice = this.byDevice.get(deviceId);
    if (ofDevice === undefined) {
      this.byDevice.set(deviceId, [command]);
    } else {
      ofDevice.push(command);
    }
    this.onCreated?.(command);
    return command;
  }

  private pendingOf(deviceId: string): number {
    return (this.byDevice.get(deviceId) ?? []).filter((command) => command.status === 'PENDING')
      .length;
  }
}

function errorBody(
  platform: 'iotda' | 'oceanconnect',
  code: string,
  message: string,
): Record<string, string> {
  return platform === 'iotda'
    ? { error_code: code, error_msg: message }
    : { error_code: code, error_desc: message };
}

function refuse(
  response: http.ServerResponse,
  platform: 'iotda' | 'oceanconnect',
  refusal: Refusal,
): void {
  const [status, code, message] = REFUSALS[platform][refusal];
  send(response, status, errorBody(platform, code, message));
}

/** The request body's JSON, or undefined once a body that is not JSON was refused. */
function parseInput<T>(
  response: http.ServerResponse,
  platform: 'iotda' | 'oceanconnect',
  body: string,
): T | undefined {
  try {
    return JSON.parse(body) as T;
  } catch {
    refuse(response, platform, 'invalid');
    return undefined;
  }
}

function send(response: http.ServerResponse, status: number, body: unknown): void {
  sendText(response, status, JSON.stringify(body));
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function compact(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function optionalCompact(at: Date | null): string | undefined {
  return at === null ? undefined : compact(at);
}

export function iotdaRecord(command: EmulatedCommand): Record<string, unknown> {
  return {
    device_id: command.deviceId,
    command_id: command.commandId,
    service_id: command.serviceId,
    command_name: command.method,
    paras: command.paras,
    expire_time: command.expireTime ?? 0,
    send_strategy: command.sendStrategy,
    ...iotdaState(command),
  };
}

/** Where a command is, as both IoTDA's records and its pushes give it. */
function iotdaState(command: EmulatedCommand): Record<string, unknown> {
  return {
    status: command.status,
    result: command.result,
    created_time: compact(command.createdAt),
    sent_time: optionalCompact(command.sentAt),
    delivered_time: optionalCompact(command.deliveredAt),
    response_time: optionalCompact(command.respondedAt),
  };
}

export function ocRecord(command: EmulatedCommand): Record<string, unknown> {
  return {
    commandId: command.commandId,
    appId: 'emulated',
    deviceId: command.deviceId,
    command: { serviceId: command.serviceId, method: command.method, paras: command.paras },
    callbackUrl: command.callbackUrl,
    expireTime: command.expireTime ?? 172800,
    status: command.status,
    result: command.result,
    creationTime: compact(command.createdAt),
    executeTime: optionalCompact(command.respondedAt) ?? null,
    platformIssuedTime: optionalCompact(command.sentAt) ?? null,
    deliveredTime: optionalCompact(command.deliveredAt) ?? null,
    issuedTimes: command.sentAt === null ? 0 : 1,
    maxRetransmit: 3,
  };
}
