import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Logger as Pino } from 'pino';
import { redactHeaders, redactQuery, redactQueryString } from '../http/redact.js';

// Probes and scrapes come every few seconds: logging each would drown the lines that matter.
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

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

/** What a problem answer's line shows of it: never `errors`, which may quote the input. */
export interface ProblemSummary {
  type: string;
  title: string;
  detail?: string;
}

// The problem each request was answered with, for its line: kept beside the request rather than
// on it, and gone with it.
const problems = new WeakMap<object, ProblemSummary>();

/**
 * Records the problem details a request is answered with, for its completion line. A detail may
 * quote the request's URL (Nest's "Cannot GET /x?token=..."): its query string is redacted as the
 * URL's own is.
 */
export function answeredWithProblem(
  request: object,
  { type, title, detail }: ProblemSummary,
): void {
  problems.set(request, {
    type,
    title,
    ...(detail === undefined ? {} : { detail: redactQueryString(detail) }),
  });
}

/**
 * Logs every request Fastify answers, when it has been answered: at info, or warn for 4xx and 5xx
 * (503s shed under overload included; 5xx are logged with their cause by the exception filter
 * too). Each line carries the request's id as `requestId`, the id the client gets in X-Request-Id
 * and problem responses, and an answer with problem details carries its `type`, `title` and
 * `detail` as `problem`.
 *
 * Written on Fastify's hooks rather than with pino-http, which makes two child loggers for every
 * request, logged or not. Lines logged while handling a request carry its id where the code that
 * logs them adds it (the problem and health filters do): no AsyncLocalStorage binds a logger to
 * each request, since that costs CPU on every promise and can keep request data alive into V8's
 * old generation.
 */
export function logRequests(fastify: FastifyInstance, logger: Pino): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const level = reply.statusCode >= 400 ? 'warn' : 'info';
    if (logger.isLevelEnabled(level) && !QUIET_PATHS.test(request.url)) {
      const problem = problems.get(request);
      logger[level](
        {
          requestId: request.id,
          req: requestFields(request),
          res: responseFields(reply),
          responseTime: reply.elapsedTime,
          ...(problem === undefined ? {} : { problem }),
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
