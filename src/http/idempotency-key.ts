import { ApiHeader } from '@nestjs/swagger';
import { ValidationProblem, mapProblems, problem } from './problem.js';

// Printable ASCII, as IETF's Idempotency-Key header draft suggests for keys that are logged and
// stored; 128 characters hold a UUID with room for a client's prefix.
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,128}$/;

/**
 * The Idempotency-Key header of POST /commands/dispatch, /dispatches and /campaigns, checked in
 * the handler, so after the body's pipe (a bad body is named first); undefined when absent.
 */
export function idempotencyKeyOf(value: string | undefined): string | undefined {
  if (value !== undefined && !IDEMPOTENCY_KEY.test(value)) {
    throw ValidationProblem.of('Idempotency-Key', 'must be 1 to 128 printable characters');
  }
  return value;
}

/** Documents the header; `kept` says how long a key holds its answer, where it matters. */
export function ApiIdempotencyKey(kept?: string): MethodDecorator {
  return ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: `1 to 128 printable characters${kept === undefined ? '' : `; ${kept}`}`,
  });
}

/** The Idempotency-Key holds a request with another body: 422, and nothing is done. */
export class IdempotencyKeyReusedError extends Error {
  /** `keptHours`: how long a key holds its request, where the answer says so. */
  constructor(keptHours?: number) {
    super(
      `This Idempotency-Key was used with another request body${keptHours === undefined ? '' : ` within ${keptHours} hours`}`,
    );
    this.name = 'IdempotencyKeyReusedError';
  }
}

mapProblems((exception, { id: requestId }) =>
  exception instanceof IdempotencyKeyReusedError
    ? { details: problem(422, exception.message, { requestId }), headers: {} }
    : undefined,
);
