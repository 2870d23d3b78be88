import { type FastifyInstance } from 'fastify';
import { OverloadedError } from '../commands/report-batcher.js';
import { CALLBACK_PATH, sendProblem, toProblem } from './problem.filter.js';

/**
 * Refuses status pushes with 503 and Retry-After as soon as their headers are read, before the body
 * is parsed or anything else runs, while the write path has no room (`overloaded`: its queue is
 * full or stale). A refusal then costs far less than a report, so that under any arrival rate the
 * process spends its time storing what it admitted and still answers the rest at once. The answer
 * is the one the write path itself gives when its queue is full.
 */
export function refuseCallbacksWhileOverloaded(
  fastify: FastifyInstance,
  overloaded: () => boolean,
  refused: () => void,
): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'POST' && request.url.startsWith(CALLBACK_PATH) && overloaded()) {
      sendProblem(reply, toProblem(new OverloadedError('the write path is full'), request));
      refused();
      return;
    }
    done();
  });
}
