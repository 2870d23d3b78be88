import { mapProblems, problem } from '../http/problem.js';
import { type MismatchedField } from './commands.repository.js';

/** The command exists with another deviceId, serviceId or method: 409, nothing applied. */
export class CommandMismatchError extends Error {
  constructor(
    readonly commandId: string,
    readonly field: MismatchedField,
  ) {
    super(`Command ${commandId} is known with another ${field}; nothing was applied`);
    this.name = 'CommandMismatchError';
  }
}

export class CommandNotFoundError extends Error {
  constructor(readonly commandId: string) {
    super(`No command ${commandId} is known`);
    this.name = 'CommandNotFoundError';
  }
}

mapProblems((exception, { id: requestId }) => {
  if (exception instanceof CommandMismatchError) {
    return { details: problem(409, exception.message, { requestId }), headers: {} };
  }
  if (exception instanceof CommandNotFoundError) {
    return { details: problem(404, exception.message, { requestId }), headers: {} };
  }
  return undefined;
});
