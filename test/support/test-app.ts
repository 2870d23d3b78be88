import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type DestinationStream } from 'pino';
import { type AppConfig, loadConfig } from '../../src/config/config.js';
import { createApp } from '../../src/app.factory.js';
import { type TestDatabase, createTestDatabase } from './test-database.js';

export interface TestApp {
  app: NestFastifyApplication;
  database: TestDatabase;
  config: AppConfig;
  /** Closes the app, then drops its database (unless it was given one). */
  close(): Promise<void>;
}

/**
 * The whole service on a fresh database (or the one given), ready for inject(). `logDestination`
 * captures its log lines.
 */
export async function startTestApp(
  overrides: Partial<AppConfig> = {},
  database?: TestDatabase,
  options: { logDestination?: DestinationStream } = {},
): Promise<TestApp> {
  const db = database ?? (await createTestDatabase());
  const config: AppConfig = {
    ...loadConfig({ LOG_LEVEL: 'error' }),
    // As in production: unset means the embedded database (one process, no LISTEN/NOTIFY).
    databaseUrl: db.embedded === undefined ? db.url : undefined,
    ...overrides,
  };
  const app = await createApp(
    config,
    { url: db.url, poolSize: db.poolSize, description: 'test' },
    options,
  );
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    database: db,
    config,
    close: async () => {
      await app.close();
      if (database === undefined) {
        await db.drop();
      }
    },
  };
}
