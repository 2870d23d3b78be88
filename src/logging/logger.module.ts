import { ConsoleLogger, type LoggerService, type LogLevel as NestLogLevel } from '@nestjs/common';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type DestinationStream, type Level, type Logger as Pino, pino } from 'pino';
import { type AppConfig, type LogLevel } from '../config/config.js';
import { redactHeaders, redactQuery, redactQueryString } from '../http/redact.js';

// Probes and scrapes come every few seconds: logging each would drown the lines that matter.
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/** The process's logger: JSON lines at LOG_LEVEL, to stdout or to `destination` (which tests give). */
export function createLogger(config: AppConfig, destination?: DestinationStream): Pino {
  const options = { level: config.logLevel };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** A request as its log line shows it, never with a secret (in headers or in the query string). */
function requestFields(request: FastifyRequest): Record<string, unknown> {
  return {
    id: request.id,
    method: request.method,
    url: redactQueryString(request.url),
    query: redactQuery(request.query, request.url),
    params: request.params,
    headers: redactHeaders(request.headers),
    remoteAddress: request.socket.remoteAddress,
    remotePort: request.socket.remotePort,
  };
}

function responseFields(reply: FastifyReply): Record<string, unknown> {
  return { statusCode: reply.statusCode, headers: reply.getHeaders() };
}

// Requests refused on purpose under overload: possibly thousands a second, and counted in the
// metrics, so logged at info rather than warn.
const expectedRefusals = new WeakSet<object>();

/** Logs this request's answer at info even though it is an error (see expectedRefusals). */
export function refusedOnPurpose(request: object): void {
  expectedRefusals.add(request);
}

/**
 * Logs every request Fastify answers, when it has been answered: at info, or warn for 4xx and 5xx
 * (5xx are logged with their cause by the exception filter too). Each line carries the request's
 * id as `requestId`, the id the client gets in X-Request-Id and problem responses.
 *
 * Written on Fastify's hooks rather than with pino-http, which makes two child loggers for every
 * request, logged or not. Lines logged while handling a request carry its id where the code that
 * logs them adds it (the problem and health filters do): no AsyncLocalStorage binds a logger to
 * each request, since that costs CPU on every promise and can keep request data alive into V8's
 * old generation.
 */
export function logRequests(fastify: FastifyInstance, logger: Pino): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const level = reply.statusCode >= 400 && !expectedRefusals.has(request) ? 'warn' : 'info';
    if (logger.isLevelEnabled(level) && !QUIET_PATHS.test(request.url)) {
      logger[level](
        {
          requestId: request.id,
          req: requestFields(request),
          res: responseFields(reply),
          responseTime: reply.elapsedTime,
        },
        reply.statusCode >= 500 ? 'request errored' : 'request completed',
      );
    }
    done();
  });
  // The client went away before the answer was complete, so onResponse does not run: a client
  // that gave up, or one leaving the change feed, which is how a feed normally ends (hence info).
  fastify.addHook('onRequestAbort', (request, done) => {
    if (logger.isLevelEnabled('info') && !QUIET_PATHS.test(request.url)) {
      logger.info({ requestId: request.id, req: requestFields(request) }, 'request aborted');
    }
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
