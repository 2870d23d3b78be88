import { type LoggerService } from '@nestjs/common';
import { Logger, PinoLogger } from 'nestjs-pino';
import { type Logger as Pino } from 'pino';

/**
 * nestjs-pino's PinoLogger on one given pino logger. nestjs-pino's own keeps a single root logger
 * for the whole process, made from the first parameters it sees; each application here has its
 * own (tests run several in one process, each writing to its own destination).
 */
class ApplicationPinoLogger extends PinoLogger {
  constructor(private readonly pino: Pino) {
    super({ pinoHttp: { logger: pino } });
  }

  override get logger(): Pino {
    return this.pino;
  }
}

/**
 * Nest's logger, from the first line Nest writes: nestjs-pino's Logger on `pino`, so that
 * framework lines (module initialisation, a failing start-up) have the same shape as the service's
 * own: the Logger's context as `context`, an object's fields merged into the line, an Error as
 * `err`.
 */
export function nestLogger(pino: Pino): LoggerService {
  return new Logger(new ApplicationPinoLogger(pino), {});
}
