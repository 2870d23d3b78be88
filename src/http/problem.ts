import { HttpException, HttpStatus } from '@nestjs/common';
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
