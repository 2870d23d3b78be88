import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  databaseConfigurationProblem,
  isDatabaseUnavailable,
  sqlState,
} from '../database/database-errors.js';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { UnauthorizedProblem } from './auth.guards.js';
import {
  PROBLEM_CONTENT_TYPE,
  type Problem,
  ServiceBusyProblem,
  CALLBACK_PATH,
  ValidationProblem,
  mappedProblem,
  problem,
} from './problem.js';
import { answeredWithProblem } from '../logging/request-log.js';

const logger = new Logger('Problem');

/** Fastify's own refusals (body parsing, size, media type) carry a statusCode and an FST_ code. */
function fastifyError(exception: unknown): { statusCode: number; message: string } | undefined {
  if (exception instanceof Error) {
    const { statusCode, code } = exception as { statusCode?: unknown; code?: unknown };
    if (
      typeof statusCode === 'number' &&
      statusCode >= 400 &&
      statusCode < 500 &&
      typeof code === 'string' &&
      code.startsWith('FST_')
    ) {
      return { statusCode, message: exception.message };
    }
  }
  return undefined;
}

/** Maps anything thrown while serving a request to RFC 9457 problem details. */
export function toProblem(exception: unknown, request: { id: string; url: string }): Problem {
  const requestId = request.id;
  if (exception instanceof ValidationProblem) {
    return {
      details: problem(400, exception.message, { errors: exception.errors, requestId }),
      headers: {},
    };
  }
  if (exception instanceof UnauthorizedProblem) {
    return {
      details: problem(401, exception.message, { requestId }),
      headers: exception.challenge ? { 'www-authenticate': exception.challenge } : {},
    };
  }
  if (exception instanceof ServiceBusyProblem) {
    return {
      details: problem(503, exception.message, { requestId }),
      headers: { 'retry-after': String(exception.retryAfterSeconds) },
    };
  }
  // A feature's own errors (commands, platform, the write path's overload), mapped where defined.
  const mapped = mappedProblem(exception, request);
  if (mapped !== undefined) {
    return mapped;
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : typeof (response as { message?: unknown }).message === 'string'
          ? (response as { message: string }).message
          : exception.message;
    return { details: problem(status, message, { requestId }), headers: {} };
  }
  const fastify = fastifyError(exception);
  if (fastify) {
    return { details: problem(fastify.statusCode, fastify.message, { requestId }), headers: {} };
  }
  const onCallback = request.url.startsWith(CALLBACK_PATH);
  const unavailable = isDatabaseUnavailable(exception);
  if (unavailable || onCallback) {
    const configuration = unavailable ? databaseConfigurationProblem(exception) : undefined;
    if (configuration !== undefined) {
      // Not an outage that passes: someone has to fix the configuration or the database.
      logger.error(
        { requestId, sqlState: sqlState(exception) },
        `Database configuration error: ${configuration}; answered 503`,
      );
    } else if (unavailable) {
      logger.warn(
        { requestId, err: describe(exception) },
        'Answered 503: the request could not be served by the database',
      );
    } else {
      // A fault of this service, not of the database: loud, yet still 503 so the platform pushes
      // the status again once it is fixed instead of dropping it.
      logger.error(
        { requestId, err: describe(exception) },
        'Unexpected error on a status push; answered 503 so that the platform pushes it again',
      );
    }
    return {
      // Not "nothing was stored": a commit may land just after the deadline; a repeat is a duplicate.
      details: problem(503, 'The database is unavailable or too slow; try again', {
        requestId,
      }),
      headers: { 'retry-after': '5' },
      ...(onCallback ? { callbackFailure: unavailable ? 'database' : 'unexpected' } : {}),
    };
  }
  logger.error({ requestId, err: describe(exception) }, 'Unexpected error');
  return {
    details: problem(500, 'An unexpected error occurred', { requestId }),
    headers: {},
  };
}

function describe(exception: unknown): string {
  return exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
}

export function sendProblem(reply: FastifyReply, { details, headers }: Problem): void {
  answeredWithProblem(reply.request, details);
  void reply
    .status(details.status)
    .headers(headers)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    // Also here: Fastify's router answers a URL it refuses without running the onSend hooks.
    .header('x-content-type-options', 'nosniff')
    .send(JSON.stringify(details));
}

/** Fastify's router refuses some URLs (bad percent-encoding) before Nest sees them: same answer. */
export function answerFrameworkError(
  error: Error,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  sendProblem(reply, toProblem(error, request));
}

/** Answers an exception as problem details, counting a status push that was not stored. */
export function answerException(
  exception: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  metrics: CommandMetrics,
): void {
  const answer = toProblem(exception, request);
  if (answer.callbackFailure !== undefined) {
    metrics.callbackFailed(answer.callbackFailure);
  }
  sendProblem(reply, answer);
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly metrics: CommandMetrics) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    answerException(
      exception,
      http.getRequest<FastifyRequest>(),
      http.getResponse<FastifyReply>(),
      this.metrics,
    );
  }
}
