import { type DestinationStream, type Logger as Pino, pino } from 'pino';
import { type LogLevel } from '../config/config.js';
import { ConfigError, type Env, boolean } from '../config/env-values.js';

// Light on purpose: main.ts loads this before the configuration is read, so that even a bad
// variable is reported as a log line, and before Nest is loaded.

/** JSON lines at `level`, to stdout or to `destination` (which tests give). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Pino {
  return destination === undefined ? pino({ level }) : pino({ level }, destination);
}

/**
 * Whether lines are pretty-printed for a person: never in production, else LOG_PRETTY, else
 * when stdout is a terminal.
 */
export function wantsPrettyLogs(env: Env, stdoutIsTerminal: boolean): boolean {
  if (env.NODE_ENV === 'production') {
    return false;
  }
  return boolean(env, 'LOG_PRETTY', stdoutIsTerminal);
}

/**
 * The process's logger, made before its configuration is read (at info until LOG_LEVEL is
 * known). `problem` is set when LOG_PRETTY itself is wrong: the lines are JSON then, and the caller
 * reports it as it does any other bad variable.
 */
export async function processLogger(
  env: Env,
  stdoutIsTerminal: boolean,
): Promise<{ logger: Pino; problem?: ConfigError }> {
  let pretty: boolean;
  try {
    pretty = wantsPrettyLogs(env, stdoutIsTerminal);
  } catch (error) {
    if (error instanceof ConfigError) {
      return { logger: createLogger('info'), problem: error };
    }
    throw error;
  }
  if (!pretty) {
    return { logger: createLogger('info') };
  }
  // A development dependency: where it is not installed (a production image run by hand), JSON.
  const prettyModule = await import('pino-pretty').catch(() => undefined);
  if (prettyModule === undefined) {
    return { logger: createLogger('info') };
  }
  // Synchronous, like pino's own destination, so that a line written just before process.exit()
  // is not lost.
  const stream = prettyModule.default({
    sync: true,
    colorize: stdoutIsTerminal,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return { logger: createLogger('info', stream) };
}
