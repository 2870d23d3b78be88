import { type FastifyInstance } from 'fastify';
import { answerException } from '../http/problem.filter.js';
import { CALLBACK_PATH } from '../http/problem.js';
import { type CommandMetrics } from '../metrics/command-metrics.js';
import { type GroupCommit } from './group-commit.js';
import { OverloadedError } from './report-batcher.js';

/**
 * Refuses status pushes with 503 and Retry-After as soon as their headers are read, before the body
 * is parsed or anything else runs, while the write path has no room (its queue is full or
 * stale). A refusal then costs far less than a report, so that under any arrival rate the
 * process spends its time storing what it admitted and still answers the rest at once. The answer,
 * and how it is counted and logged, are those the write path itself gives when its queue is full.
 */
export function refuseCallbacksWhileOverloaded(
  fastify: FastifyInstance,
  writes: GroupCommit,
  metrics: CommandMetrics,
): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'POST' && request.url.startsWith(CALLBACK_PATH) && writes.overloaded) {
      answerException(new OverloadedError('the write path is full'), request, reply, metrics);
      return;
    }
    done();
  });
}
