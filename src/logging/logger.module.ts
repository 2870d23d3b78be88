import {
  ConsoleLogger,
  type DynamicModule,
  type LogLevel as NestLogLevel,
  RequestMethod,
} from '@nestjs/common';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { type DestinationStream } from 'pino';
import { type Options } from 'pino-http';
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
    // Fastify made the id (from X-Request-Id or a UUID) and middie copies it to the raw request:
    // the log lines, the X-Request-Id response header and problem responses share one id.
    genReqId: (request) => (request as IncomingMessage & { id?: string }).id ?? 'unknown',
    customAttributeKeys: { reqId: 'requestId' },
    quietReqLogger: true,
    autoLogging: {
      // Nest's middleware sees req.url with its mount path stripped; originalUrl is the whole one.
      ignore: (request) =>
        QUIET_PATHS.test((request as { originalUrl?: string }).originalUrl ?? request.url ?? ''),
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

/** Structured JSON logs through nestjs-pino; `destination` lets tests capture them. */
export function loggerModule(config: AppConfig, destination?: DestinationStream): DynamicModule {
  const options = pinoHttpOptions(config);
  return LoggerModule.forRoot({
    pinoHttp: destination === undefined ? options : [options, destination],
    forRoutes: [{ path: '/{*splat}', method: RequestMethod.ALL }],
  });
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
