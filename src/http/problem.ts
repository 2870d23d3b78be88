import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { type FieldProblem } from './json-checks.js';

/** RFC 9457 problem details, as every 4xx/5xx answer carries them. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
  requestId?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

// The platform re-pushes after 503 only: a callback we could not store must never end as 500.
export const CALLBACK_PATH = '/callbacks/';

/** A request's answer as problem details, with the headers it carries. */
export interface Problem {
  details: ProblemDetails;
  headers: Record<string, string>;
  /** Set when a status push was answered 503 unstored: why. */
  callbackFailure?: 'database' | 'unexpected' | 'overloaded';
}

/** Problem details of a status, `about:blank` with the status's name as title. */
export function problem(
  status: number,
  detail?: string,
  extra: Partial<ProblemDetails> = {},
): ProblemDetails {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail === undefined ? {} : { detail }),
    ...extra,
  };
}

/** A feature's answer to an error it defines, or undefined for an error that is not its own. */
export type ProblemMapping = (
  exception: unknown,
  request: { id: string; url: string },
) => Problem | undefined;

const mappings: ProblemMapping[] = [];

/**
 * Each feature maps its own errors to answers, where it defines them (so an error that can be
 * thrown has its mapping loaded); the shared layer renders them and imports no feature.
 */
export function mapProblems(mapping: ProblemMapping): void {
  mappings.push(mapping);
}

/** The answer a feature gives for `exception`, if any feature claims it. */
export function mappedProblem(
  exception: unknown,
  request: { id: string; url: string },
): Problem | undefined {
  for (const mapping of mappings) {
    const answer = mapping(exception, request);
    if (answer !== undefined) {
      return answer;
    }
  }
  return undefined;
}

/** A refused request whose fields failed validation: 400 with errors[]. */
export class ValidationProblem extends HttpException {
  constructor(readonly errors: FieldProblem[]) {
    super(errors.map((error) => error.message).join('; '), HttpStatus.BAD_REQUEST);
  }

  static of(field: string, message: string): ValidationProblem {
    return new ValidationProblem([{ field, message: `${field} ${message}` }]);
  }
}

/** The service is at a capacity limit: 503 with Retry-After, so that the client tries again later. */
export class ServiceBusyProblem extends HttpException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, HttpStatus.SERVICE_UNAVAILABLE);
  }
}
