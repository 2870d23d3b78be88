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
