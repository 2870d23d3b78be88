import { type DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { type PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { type AppConfig } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';

/**
 * The `pg.Pool` under TypeORM's data source, for SQL that goes to pg directly (named statements,
 * array rows, a connection held for a transaction). It is TypeORM's own pool, not a second one: the
 * embedded database allows one connection.
 */
export const DATABASE_POOL = Symbol('DATABASE_POOL');

/** The DatabaseProfile of the database the service runs on. */
export const DATABASE_PROFILE = Symbol('DATABASE_PROFILE');

/** What differs between the embedded database and a PostgreSQL server, decided once here. */
export interface DatabaseProfile {
  /**
   * The embedded database (PGlite): a single session that every connection of the pool shares, on
   * CPU it shares with the service.
   */
  readonly embedded: boolean;
  /** Most connections the pool opens (DB_POOL_SIZE; 1 on the embedded database). */
  readonly poolSize: number;
  /**
   * Whether hot statements go as named prepared statements. Not on the embedded database: a
   * statement prepared on a connection that was cut would still exist under its name in the one
   * session, and preparing it again would fail.
   */
  readonly preparedStatements: boolean;
}

export interface DatabaseTarget {
  url: string;
  poolSize: number;
}

/** The data source, its pool and the profile, injectable everywhere. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(config: AppConfig, database: DatabaseTarget): DynamicModule {
    // Unset DATABASE_URL means the embedded database, as in openDatabase (app.factory.ts).
    const embedded = config.databaseUrl === undefined;
    const profile: DatabaseProfile = {
      embedded,
      poolSize: database.poolSize,
      preparedStatements: !embedded,
    };
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions({ url: database.url, poolSize: database.poolSize }),
          // Start-up fails fast; docker compose waits for a healthy database instead.
          retryAttempts: 2,
          retryDelay: 1000,
        }),
      ],
      providers: [
        {
          provide: DATABASE_POOL,
          // The data source is initialised (connected) before this factory runs.
          useFactory: (dataSource: DataSource) =>
            (dataSource.driver as PostgresDriver).master as pg.Pool,
          inject: [DataSource],
        },
        { provide: DATABASE_PROFILE, useValue: profile },
      ],
      exports: [DATABASE_POOL, DATABASE_PROFILE],
    };
  }
}
