import { QueryFailedError } from 'typeorm';

/** The database could not store or read in time; HTTP answers it 503, so that the platform pushes again. */
export class DatabaseUnavailableError extends Error {
  constructor(cause?: unknown) {
    super('The database is unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

// SQLSTATE classes that mean "could not do it now", not "this request is wrong":
// 08 connection exception, 28 invalid authorization and 3D invalid catalog name (a new connection
// refused: the credentials or the database are gone, say while it is being restored),
// 40 transaction rollback (serialization, deadlock), 53 insufficient resources,
// 57 operator intervention (statement timeout, shutdown), 58 system error.
const TRANSIENT_SQLSTATE = /^(08|28|3D|40|53|57|58)/;

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  'Query read timeout',
  'Connection terminated unexpectedly',
  'Client has encountered a connection error',
  'Client was closed',
  'Cannot use a pool after calling end',
  'connect ECONNREFUSED',
  // The embedded database's Unix socket is gone (it stopped).
  'connect ENOENT',
];

/** True when an error says the database is unreachable, too slow or temporarily refusing. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) {
    return true;
  }
  const cause = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  // Duck-typed, not instanceof Error: socket errors come from Node's own realm, which is not
  // always the one this module sees (Jest's VM modules, for one).
  if (typeof cause !== 'object' || cause === null) {
    return false;
  }
  const { code, message } = cause as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATE.test(code)) {
      return true;
    }
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code)) {
      return true;
    }
    // A Unix socket that is not there (the embedded database stopped): refused, as on TCP.
    if (code === 'ENOENT' && (cause as { syscall?: unknown }).syscall === 'connect') {
      return true;
    }
  }
  return (
    typeof message === 'string' && CONNECTION_MESSAGES.some((known) => message.includes(known))
  );
}

/** The SQLSTATE a database error carries, looking through TypeORM's and this service's wrappers. */
export function sqlState(error: unknown): string | undefined {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth++) {
    const { code } = cause as { code?: unknown };
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      return code;
    }
    cause =
      cause instanceof QueryFailedError
        ? (cause.driverError as unknown)
        : (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Why the database refuses this service for good, or undefined when the error is not such a
 * refusal: wrong credentials (SQLSTATE class 28) or a database that does not exist (3D). Waiting
 * does not cure these, so they are reported as configuration errors rather than as an outage.
 */
export function databaseConfigurationProblem(error: unknown): string | undefined {
  const state = sqlState(error);
  if (state?.startsWith('28')) {
    return `the database refused this service's credentials (SQLSTATE ${state}): check the credentials in DATABASE_URL`;
  }
  if (state?.startsWith('3D')) {
    return `the database named in DATABASE_URL does not exist (SQLSTATE ${state})`;
  }
  return undefined;
}

/** True for errors raised by the database layer at all (the driver or TypeORM). */
export function isDatabaseError(error: unknown): boolean {
  return error instanceof QueryFailedError || isDatabaseUnavailable(error);
}

/**
 * Settles with the operation, or fails with DatabaseUnavailableError after `ms`: a caller is
 * answered in bounded time even when the database hangs. The operation itself may still finish;
 * every write here is safe to repeat, which is what the platform does after a 503.
 */
export async function withDeadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError('deadline exceeded')), ms);
  });
  try {
    return await Promise.race([operation, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
