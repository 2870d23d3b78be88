import { Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { type ProblemDetails, mapProblems, problem } from '../http/problem.js';
import {
  PlatformCommandNotFoundError,
  PlatformInvalidAnswerError,
  PlatformNotImplementedError,
  PlatformRefusedError,
  PlatformTimeoutError,
  PlatformUnreachableError,
  isUncertain,
} from './platform-client.js';

/** The injection token of the PlatformClient; null when PLATFORM is unset. */
export const PLATFORM_CLIENT = Symbol('PLATFORM_CLIENT');

const logger = new Logger('PlatformProblem');

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

/**
 * What a failed platform call answers: a refusal is 502 (409 for cancel: the platform cancels only
 * PENDING commands), a lost or late answer 504; a dispatch's says that reconciliation looks for it.
 */
export function platformProblem(
  error: unknown,
  action: 'dispatch' | 'cancel' | 'reconcile',
): PlatformProblem {
  if (error instanceof PlatformRefusedError) {
    return new PlatformProblem(
      action === 'cancel' ? 409 : 502,
      action === 'cancel'
        ? 'The platform refused to cancel the command (it cancels only PENDING commands)'
        : 'The platform refused the request',
      { code: error.code, message: error.platformMessage },
    );
  }
  if (error instanceof PlatformInvalidAnswerError || error instanceof PlatformUnreachableError) {
    const invalid = error instanceof PlatformInvalidAnswerError;
    return new PlatformProblem(
      502,
      invalid
        ? 'The platform answered something this service does not accept'
        : 'The platform could not be reached or answered something unexpected',
      { code: invalid ? 'INVALID_ANSWER' : 'UNREACHABLE', message: error.reason },
    );
  }
  if (isUncertain(error)) {
    const what =
      error instanceof PlatformTimeoutError
        ? `The platform did not answer within ${error.timeoutMs} ms`
        : `The platform's answer was lost (${error.reason})`;
    return new PlatformProblem(
      504,
      action === 'dispatch'
        ? `${what}; whether the command exists is unknown, and reconciliation finds it if it does`
        : what,
    );
  }
  if (error instanceof PlatformCommandNotFoundError) {
    return new PlatformProblem(404, error.message);
  }
  if (error instanceof PlatformNotImplementedError) {
    return new PlatformProblem(501, error.message);
  }
  logger.error(
    { err: error instanceof Error ? error.message : String(error) },
    'Unexpected platform error',
  );
  return new PlatformProblem(502, 'The platform answered something unexpected', {
    code: 'UNEXPECTED',
    message: 'unexpected error',
  });
}

mapProblems((exception, { id: requestId }) => {
  if (exception instanceof PlatformProblem) {
    return { details: exception.details(requestId), headers: {} };
  }
  // No platform, or none that can do this (IoTDA has no cancel): thrown before any call.
  if (exception instanceof PlatformNotImplementedError) {
    return { details: problem(501, exception.message, { requestId }), headers: {} };
  }
  return undefined;
});
