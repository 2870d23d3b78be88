import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { CommandEntity, CommandHistoryEntity } from '../commands/command.entity.js';
import { InitialSchema1764133200000 } from '../../migrations/1764133200000-InitialSchema.js';

// Every migration, in order. The TypeORM CLI (npm run migration:*) and the service share this list.
export const MIGRATIONS = [InitialSchema1764133200000];

export interface DatabaseConnectionOptions {
  url: string;
  poolSize: number;
  /** Shown in logs and errors instead of the URL, which may hold a password. */
  label?: string;
}

// Bounds that keep a slow or unreachable database from holding a request past API.md's 5 s.
export const CONNECT_TIMEOUT_MS = 2000;
export const STATEMENT_TIMEOUT_MS = 3000;

/**
 * pg leaves a query that timed out on the client side (query_timeout) active on its connection,
 * and the pool hands that connection out again: behind a hung server or a dead link it never
 * answers again, and every later query on it times out too. This client closes its connection
 * instead, so the pool opens a fresh one once the database is back.
 */
export class DatabaseClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    const dropOnTimeout = (error: unknown) => {
      if ((error as { message?: unknown } | null)?.message === 'Query read timeout') {
        this.connection.stream.destroy();
      }
    };
    Object.assign(this, {
      query: (...args: unknown[]) => {
        const last = args.at(-1);
        if (typeof last === 'function') {
          args[args.length - 1] = (error: unknown, ...rest: unknown[]) => {
            dropOnTimeout(error);
            (last as (...callbackArgs: unknown[]) => unknown)(error, ...rest);
          };
        }
        const result = query(...args);
        if (result instanceof Promise) {
          result.catch(dropOnTimeout);
        }
        return result;
      },
    });
  }
}

export function dataSourceOptions(options: DatabaseConnectionOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: options.url,
    // For migration:generate only; the service's SQL is hand-written (commands.repository.ts).
    entities: [CommandEntity, CommandHistoryEntity],
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      Client: DatabaseClient,
      max: options.poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // Client-side bound on each query: a hung server is noticed even when it cannot answer.
      query_timeout: STATEMENT_TIMEOUT_MS + 500,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      idleTimeoutMillis: 30000,
      keepAlive: true,
      application_name: 'command-tracker',
    },
  };
}

// The TypeORM CLI's data source: `npm run migration:run` etc. against DATABASE_URL.
export default new DataSource(
  dataSourceOptions({
    url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    poolSize: 1,
  }),
);
