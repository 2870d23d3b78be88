import { DataSource } from 'typeorm';
import { CommandEntity, CommandHistoryEntity } from './commands/command.entity.js';
import { loadConfig } from './config/config.js';
import { ConfigError } from './config/env-values.js';
import { dataSourceOptions } from './database/data-source.js';
import { redactUrl } from './http/redact.js';
import {
  CommandReconciliationEntity,
  DispatchIntentEntity,
  PlatformCallBudgetEntity,
} from './platform/platform.entity.js';

// The TypeORM CLI's data source (npm run migration:* and npm run typeorm): the database the
// service would use with this environment, read by the service's own configuration (DATABASE_URL
// or DATABASE_URL_FILE), or a refusal saying why: never a default the service does not use.

function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

let databaseUrl: string | undefined;
try {
  databaseUrl = loadConfig().databaseUrl;
} catch (error) {
  if (error instanceof ConfigError) {
    refuse(error.message);
  }
  throw error;
}
if (databaseUrl === undefined) {
  refuse(
    'DATABASE_URL is not set: with this environment the service uses its embedded database ' +
      '(PGlite, in PGLITE_DATA_DIR), which it migrates itself at start-up (npm start applies ' +
      'every pending migration). The migration commands work on PostgreSQL only: run them with ' +
      'DATABASE_URL (or DATABASE_URL_FILE) set as for the service, e.g. ' +
      'DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run migration:run',
  );
}
// Said before anything runs, so that a run against the wrong database is seen at once.
process.stderr.write(`Migrations on PostgreSQL at ${redactUrl(databaseUrl)}\n`);

export default new DataSource({
  ...dataSourceOptions({ url: databaseUrl, poolSize: 1 }),
  // For migration:generate only; the service's SQL is hand-written and needs no entities.
  entities: [
    CommandEntity,
    CommandHistoryEntity,
    DispatchIntentEntity,
    PlatformCallBudgetEntity,
    CommandReconciliationEntity,
  ],
});
