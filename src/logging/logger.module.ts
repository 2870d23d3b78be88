import { ConsoleLogger, type LoggerService, type LogLevel as NestLogLevel } from '@nestjs/common';
import { type FastifyInstance } from 'fastify';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type DestinationStream, type Level, type Logger as Pino } from 'pino';
import { type HttpLogger, type Options, pinoHttp } from 'pino-http';
import { type AppConfig, type LogLevel } from '../config/config.js';
import { redactHeaders, redactQuery, redactQueryString } from '../http/redact.js';

// Probes and scrapes come every few seconds: logging each would drown the lines that matter.
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

interface SerializedRequest {
  url?: string;
  query?: unknown;
  headers?: Record<string, unknown>;
  [field: string]: unknown;
}

/** pino-http's options: JSON lines at LOG_LEVEL, each request's lines carrying its requestId. */
export function pinoHttpOptions(config: AppConfig): Options<IncomingMessage, ServerResponse> {
  return {
    level: config.logLevel,
    // Fastify made the id (from X-Request-Id or a UUID), copied to the raw request by the hook in
    // logRequests: the log lines, the X-Request-Id header and problem responses share one id.
    genReqId: (request) => (request as IncomingMessage & { id?: string }).id ?? 'unknown',
    customAttributeKeys: { reqId: 'requestId' },
    quietReqLogger: true,
    autoLogging: {
      ignore: (request) => QUIET_PATHS.test(request.url ?? ''),
    },
    // 5xx are already logged by the exception filter, with the cause.
    customLogLevel: (_request, response, error) =>
      error !== undefined || response.statusCode >= 400 ? 'warn' : 'info',
    serializers: {
      // Never log a secret: the API key, the callback token, in headers or in the query string.
      req: (request: SerializedRequest) => ({
        ...request,
        url: request.url === undefined ? undefined : redactQueryString(request.url),
        query: redactQuery(request.query),
        headers: redactHeaders(request.headers),
      }),
    },
  };
}

/**
 * The process's logging: pino writing JSON lines at LOG_LEVEL (to `destination` if given, which
 * lets tests capture them), and pino-http logging each request as it completes.
 */
export function createLogging(config: AppConfig, destination?: DestinationStream): HttpLogger {
  const options = pinoHttpOptions(config);
  return destination === undefined ? pinoHttp(options) : pinoHttp(options, destination);
}

/**
 * Logs every request Fastify answers, from its first hook. Lines logged while handling a request
 * carry its id where the code that logs them adds it (the problem and health filters do): no
 * AsyncLocalStorage binds a logger to each request, which cost CPU on every promise, and, on some
 * runs, kept request data alive into the old generation (measured in bench/RESULTS.md).
 */
export function logRequests(fastify: FastifyInstance, http: HttpLogger): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    // What the request serializer shows, as Fastify parsed it.
    Object.assign(request.raw, { id: request.id, query: request.query });
    http(request.raw, reply.raw);
    done();
  });
}

/** Nest's logger on pino: the context as `context`, an object's fields merged into the line. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  // A Logger made with a context (all of this service's are) passes it as the last parameter;
  // Nest's own error(message, stack, context) passes a stack trace before it.
  private write(level: Level, message: unknown, params: unknown[]): void {
    const fields: Record<string, unknown> = {};
    let rest = params;
    if (typeof rest.at(-1) === 'string') {
      fields.context = rest.at(-1);
      rest = rest.slice(0, -1);
    }
    if (message instanceof Error) {
      fields.err = message;
      this.pino[level](fields, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const [text] = rest;
      this.pino[level]({ ...fields, ...message }, typeof text === 'string' ? text : undefined);
    } else if (level === 'error' && typeof rest[0] === 'string') {
      fields.err = { message: String(message), stack: rest[0] };
      this.pino.error(fields, String(message));
    } else {
      this.pino[level](fields, String(message));
    }
  }
}

const NEST_LEVELS: Record<LogLevel, NestLogLevel[]> = {
  silent: [],
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * Nest's logger until pino takes over: when start-up fails before that (say, the database is
 * unreachable), the buffered lines and the error still come out as JSON at LOG_LEVEL.
 */
export function startupLogger(config: AppConfig): ConsoleLogger {
  return new ConsoleLogger({ json: true, logLevels: NEST_LEVELS[config.logLevel] });
}
