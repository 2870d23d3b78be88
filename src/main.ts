import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { type AppConfig, loadConfig } from './config/config.js';
import { ConfigError } from './config/env-values.js';
import {
  AcceptDescriptors,
  EXTRA_ACCEPT_DESCRIPTORS,
  LISTEN_BACKLOG,
} from './http/accept-descriptors.js';
import { processLogger } from './logging/logger.js';

// The logger comes first, so that every line the process writes, a bad variable's included, has
// one shape: JSON (or pretty-printed for a person, outside production).
const { logger: pino, problem } = await processLogger(process.env, process.stdout.isTTY === true);

function configOrExit(): AppConfig {
  try {
    if (problem !== undefined) {
      throw problem;
    }
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      pino.fatal({ variable: error.variable }, error.message);
      process.exit(1);
    }
    throw error;
  }
}

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap');
  const config = configOrExit();
  pino.level = config.logLevel;
  // The application (Nest, TypeORM, Swagger) is loaded once the configuration is known to be good,
  // so that a bad variable is reported at once.
  const { createApp, openDatabase } = await import('./app.factory.js');
  const database = await openDatabase(config);
  const app = await createApp(config, database, { logger: pino });
  // After createApp: from there on Nest's Logger writes through pino.
  logger.log(`Database: ${database.description}`);
  // Without its database process every query fails: exiting lets the supervisor start both again.
  database.embedded?.onUnexpectedExit((reason) => {
    logger.error(`The embedded database process ${reason}: exiting`);
    process.exit(1);
  });
  const acceptDescriptors = new AcceptDescriptors(app.getHttpAdapter().getInstance());
  await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  logger.log(`Listening on http://${config.host}:${config.port} (API docs at /docs)`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    logger.log(`${signal}: draining requests and closing`);
    // close() waits for every open connection; one kept alive after its last answer would hold the
    // exit for the whole keep-alive timeout. Each is closed once it has no request in flight.
    const server = app.getHttpServer();
    const closeIdle = setInterval(() => server.closeIdleConnections(), 100);
    try {
      await app.close();
      await database.embedded?.stop();
      process.exit(0);
    } catch (error) {
      logger.error(
        `Could not close cleanly: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exit(1);
    } finally {
      clearInterval(closeIdle);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, (received) => void stop(received));
  }

  // After the signal handlers: a stop while the helper process runs still drains what is in flight.
  const accepting = await acceptDescriptors.open(app.getHttpServer(), EXTRA_ACCEPT_DESCRIPTORS);
  if (accepting.problem !== undefined) {
    logger.warn(
      `Accepting on ${accepting.opened + 1} descriptors of the listening socket instead of ` +
        `${EXTRA_ACCEPT_DESCRIPTORS + 1}: ${accepting.problem}. Under overload, new connections ` +
        'may wait seconds to be accepted.',
    );
  }
}

void bootstrap().catch(async (error: unknown) => {
  // Wrong credentials or a missing database are said as such: retrying will not help.
  const { databaseConfigurationProblem } = await import('./database/database-errors.js');
  const configuration = databaseConfigurationProblem(error);
  pino.fatal(
    { context: 'Bootstrap', err: error },
    `Failed to start: ${
      configuration !== undefined
        ? `database configuration error: ${configuration}`
        : error instanceof Error
          ? error.message
          : String(error)
    }`,
  );
  process.exit(1);
});
