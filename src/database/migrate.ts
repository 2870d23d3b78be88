import { DataSource, MigrationExecutor } from 'typeorm';
import { dataSourceOptions } from './data-source.js';

// Any fixed number: every instance of the service takes the same lock before migrating.
const MIGRATION_LOCK_KEY = 7_464_617_201;

/**
 * Runs pending migrations while holding a session advisory lock, so that instances starting at
 * the same moment migrate one after another; those that come later find nothing left to do.
 * Lock and migrations share one connection, which also suits the single-connection embedded pool.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    await queryRunner.connect();
    // Waiting for another instance's migration can take longer than the statement timeout.
    await queryRunner.query(`SET statement_timeout = 0`);
    await queryRunner.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    try {
      const executor = new MigrationExecutor(dataSource, queryRunner);
      executor.transaction = 'each';
      const applied = await executor.executePendingMigrations();
      return applied.map((migration) => migration.name);
    } finally {
      await queryRunner.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
      await queryRunner.query(`RESET statement_timeout`);
    }
  } finally {
    await queryRunner.release();
  }
}

/** Migrates the database at `url` on a connection of its own (tests and the benchmark). */
export async function migrateDatabase(url: string): Promise<void> {
  const dataSource = new DataSource(dataSourceOptions({ url, poolSize: 1 }));
  await dataSource.initialize();
  try {
    await runMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
