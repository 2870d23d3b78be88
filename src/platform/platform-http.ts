import { Logger } from '@nestjs/common';
import http from 'node:http';
import https from 'node:https';
import { identifierProblem } from '../http/json-checks.js';
import {
  type CallResult,
  PlatformAnswerLostError,
  PlatformInvalidAnswerError,
  type PlatformOperation,
  PlatformRefusedError,
  PlatformTimeoutError,
  PlatformUnreachableError,
} from './platform-client.js';

export interface PlatformRequest {
  operation: PlatformOperation;
  method: 'GET' | 'POST' | 'PUT';
  /** Scheme, host, port and query; the path sent is `path`. */
  url: URL;
  /** The path exactly as sent, ids in it encoded by pathSegment: a URL would resolve `..` in it. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface PlatformResponse {
  status: number;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  json: unknown;
}

/** Told of every call's end: the metrics listen here. */
export type CallObserver = (operation: PlatformOperation, result: CallResult) => void;

/** What every call of one client shares: its bound, its TLS agent, its log and its metrics. */
export interface PlatformChannel {
  timeoutMs: number;
  agent: http.Agent | undefined;
  logger: Logger;
  observe: CallObserver;
}

// Answers larger than this are not a command record or a page of them.
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * One HTTP exchange with the platform, bounded as a whole (connect, send, headers and body) by
 * `timeoutMs`. Request headers and bodies carry credentials, so neither appears in errors.
 */
function platformRequest(
  request: PlatformRequest,
  timeoutMs: number,
  agent: http.Agent | undefined,
  logger: Logger,
): Promise<PlatformResponse> {
  return new Promise((resolve, reject) => {
    const transport = request.url.protocol === 'https:' ? https : http;
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    if (body !== undefined) {
      headers['content-length'] = String(body.length);
    }
    let settled = false;
    // Once the request has left, a broken connection may have lost an answer to a call that
    // took effect; before, the platform cannot have seen it.
    let sent = false;
    // A TLS failure (with TLS 1.3 a refused client certificate shows after sending) means the
    // request never got past the TLS layer.
    const broken = (error: NodeJS.ErrnoException) =>
      sent && !/^ERR_(SSL|TLS)_/.test(error.code ?? '')
        ? new PlatformAnswerLostError(error.code ?? 'connection error')
        : new PlatformUnreachableError(error.code ?? 'connection error');
    const startedAt = performance.now();
    const finish = (outcome: () => void, status?: number) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        // The path only: headers and bodies carry credentials, the query the legacy device id.
        logger.debug(
          {
            operation: request.operation,
            method: request.method,
            path: request.path,
            status: status ?? null,
            ms: Math.round(performance.now() - startedAt),
          },
          'Platform call',
        );
        outcome();
      }
    };
    const outgoing = transport.request(
      {
        protocol: request.url.protocol,
        hostname: request.url.hostname,
        port: request.url.port,
        path: `${request.path}${request.url.search}`,
        method: request.method,
        headers,
        agent,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            outgoing.destroy();
            finish(() => reject(new PlatformAnswerLostError('the answer is too large')));
            return;
          }
          chunks.push(chunk);
        });
        incoming.on('error', (error: NodeJS.ErrnoException) => finish(() => reject(broken(error))));
        incoming.on('aborted', () =>
          finish(() => reject(new PlatformAnswerLostError('the answer was cut off'))),
        );
        incoming.on('end', () =>
          finish(() => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text.length === 0 ? undefined : JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: incoming.statusCode ?? 0, json });
          }, incoming.statusCode),
        );
      },
    );
    const timer = setTimeout(() => {
      finish(() => reject(new PlatformTimeoutError(timeoutMs)));
      outgoing.destroy();
    }, timeoutMs);
    outgoing.on('finish', () => {
      sent = true;
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => finish(() => reject(broken(error))));
    outgoing.end(body);
  });
}

/**
 * One platform call, observed exactly once: resolves with a successful answer, throws a refusal
 * (an error status or an error code inside a 200), a timeout or an unreachable platform. An answer
 * `handOver` gives a result for is observed as that result and resolves undefined, for the client
 * to handle itself (a 404 that means "unknown command", a rejected token to renew).
 */
export async function observedRequest(
  request: PlatformRequest,
  channel: PlatformChannel,
): Promise<PlatformResponse>;
export async function observedRequest(
  request: PlatformRequest,
  channel: PlatformChannel,
  handOver: (response: PlatformResponse) => CallResult | undefined,
): Promise<PlatformResponse | undefined>;
export async function observedRequest(
  request: PlatformRequest,
  channel: PlatformChannel,
  handOver: (response: PlatformResponse) => CallResult | undefined = () => undefined,
): Promise<PlatformResponse | undefined> {
  try {
    const response = await platformRequest(
      request,
      channel.timeoutMs,
      channel.agent,
      channel.logger,
    );
    const handedOver = handOver(response);
    if (handedOver !== undefined) {
      channel.observe(request.operation, handedOver);
      return undefined;
    }
    const refusal = refusalOf(response);
    if (refusal !== undefined) {
      throw refusal;
    }
    channel.observe(request.operation, 'ok');
    return response;
  } catch (error) {
    channel.observe(request.operation, resultOf(error));
    throw error;
  }
}

/**
 * Where a call to `path` under the configured base URL goes: the base's own path prefix, then
 * `path` as written (never resolved), and the query.
 */
export function platformTarget(
  baseUrl: string,
  path: string,
  query: Record<string, string>,
): { url: URL; path: string } {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  url.pathname = '/';
  for (const [key, value] of Object.entries(query)) {
    url.searchParams.set(key, value);
  }
  return { url, path: `${prefix}${path}` };
}

/**
 * An id as one path segment, percent-encoded in full: everything but letters, digits, `-`, `_`
 * and `~`, dots included, so that no id (`.`, `..`) can change the path that is signed and called.
 */
export function pathSegment(id: string): string {
  return encodeURIComponent(id).replace(
    /[!'()*.]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The error code and message of a platform answer, whatever the HTTP status; undefined if none. */
export function errorInBody(json: unknown): { code: string; message: string } | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return undefined;
  }
  const record = json as Record<string, unknown>;
  const code = scalar(record.error_code ?? record.errorCode);
  if (code === undefined || code === '') {
    return undefined;
  }
  const message = scalar(
    record.error_msg ?? record.error_desc ?? record.errorMsg ?? record.message,
  );
  return { code, message: message ?? '' };
}

function scalar(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/**
 * An answer that is not a 2xx, or a 2xx with an error code inside, as PlatformRefusedError; a 5xx
 * (a gateway's, or the platform's own failure) as a lost answer: the call may have taken effect.
 */
function refusalOf(
  response: PlatformResponse,
): PlatformRefusedError | PlatformAnswerLostError | undefined {
  if (response.status >= 500) {
    return new PlatformAnswerLostError(`HTTP ${response.status}`);
  }
  const inBody = errorInBody(response.json);
  if (inBody !== undefined) {
    return new PlatformRefusedError(inBody.code, inBody.message, response.status);
  }
  if (response.status < 200 || response.status > 299) {
    return new PlatformRefusedError(
      `HTTP_${response.status}`,
      'the platform answered an error',
      response.status,
    );
  }
  return undefined;
}

function resultOf(error: unknown): CallResult {
  if (error instanceof PlatformTimeoutError) {
    return 'timeout';
  }
  if (error instanceof PlatformAnswerLostError) {
    return 'lost';
  }
  if (error instanceof PlatformRefusedError) {
    return error.httpStatus === 404 ? 'not_found' : 'refused';
  }
  return 'unreachable';
}

/**
 * A command id the platform answered, checked like a request's: a valid identifier and, when one
 * was asked for, that one.
 */
export function answeredId(value: unknown, asked?: string): string {
  const problem = identifierProblem(value);
  if (problem !== undefined) {
    throw new PlatformInvalidAnswerError(`the command id it answered ${problem}`);
  }
  if (asked !== undefined && value !== asked) {
    throw new PlatformInvalidAnswerError('it answered another command than the one asked for');
  }
  return value as string;
}

/** The device id of an answered record: absent, or the one asked for. */
export function answeredDevice(value: unknown, asked: string): string {
  if (value !== undefined && value !== null && value !== asked) {
    throw new PlatformInvalidAnswerError('it answered a command of another device');
  }
  return asked;
}

/** The compact platform time `yyyyMMdd'T'HHmmss'Z'`, or ISO 8601; undefined if neither. */
export function parsePlatformTime(value: unknown): Date | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const compact = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  const date = compact
    ? new Date(
        `${compact[1]}-${compact[2]}-${compact[3]}T${compact[4]}:${compact[5]}:${compact[6]}Z`,
      )
    : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** `yyyyMMdd'T'HHmmss'Z'`. */
export function compactTime(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
