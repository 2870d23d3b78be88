import { STATUS_CODES } from 'node:http';
import { type ProblemDetails, mapProblems } from '../http/problem.js';

/** The injection token of the PlatformClient; null when PLATFORM is unset. */
export const PLATFORM_CLIENT = Symbol('PLATFORM_CLIENT');

/** An answer of the platform endpoints as problem details, with the platform's own error when it gave one. */
export class PlatformProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly platformError?: { code: string; message: string },
  ) {
    super(detail);
    this.name = 'PlatformProblem';
  }

  details(
    requestId: string,
  ): ProblemDetails & { platformError?: { code: string; message: string } } {
    return {
      type: 'about:blank',
      title: STATUS_CODES[this.status] ?? 'Error',
      status: this.status,
      detail: this.detail,
      ...(this.platformError === undefined ? {} : { platformError: this.platformError }),
      requestId,
    };
  }
}

mapProblems((exception, { id: requestId }) =>
  exception instanceof PlatformProblem
    ? { details: exception.details(requestId), headers: {} }
    : undefined,
);
