import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { MIGRATIONS } from '../../src/database/data-source.js';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { migrateDatabase } from '../../src/database/migrate.js';

/**
 * Each test file gets its own fresh, migrated database:
 * - on PostgreSQL (TEST_DATABASE_URL or DATABASE_URL), a database cloned with
 *   CREATE DATABASE ... TEMPLATE from a migrated template;
 * - otherwise an embedded PGlite loaded from a dump of a migrated one.
 * The template is made once per set of migrations (named by their hash) by whichever test file
 * needs it first, under a lock, and reused by the others and by later runs.
 */
export interface TestDatabase {
  url: string;
  /** 1 for the embedded database, which is a single session. */
  poolSize: number;
  embedded?: EmbeddedPostgres;
  drop(): Promise<void>;
}

export function serverUrl(): string | undefined {
  const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  return url === undefined || url === '' ? undefined : url;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const migration of MIGRATIONS) {
    hash.update(migration.name).update(migration.prototype.up.toString());
  }
  return hash.digest('hex').slice(0, 12);
}

async function postgresTemplate(server: string): Promise<string> {
  const template = `ct_template_${migrationsHash()}`;
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(7464617202)`);
    const found = await client.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [template]);
    if (found.rowCount === 0) {
      const building = `${template}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building}`);
      await client.query(`CREATE DATABASE ${building}`);
      await migrateDatabase(withDatabase(server, building));
      await client.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    }
    await client.query(`SELECT pg_advisory_unlock(7464617202)`);
  } finally {
    await client.end();
  }
  return template;
}

async function embeddedTemplate(): Promise<Blob> {
  const path = join(tmpdir(), `command-tracker-template-${migrationsHash()}.tar`);
  const lock = `${path}.lock`;
  for (;;) {
    try {
      return new Blob([await readFile(path)]);
    } catch {
      // Not made yet: whoever takes the lock makes it, the others wait.
    }
    try {
      await mkdir(lock);
    } catch {
      await sleep(200);
      continue;
    }
    try {
      const embedded = await EmbeddedPostgres.start('memory://');
      try {
        await migrateDatabase(embedded.url);
        const dump = await embedded.dump();
        const partial = `${path}.${process.pid}.partial`;
        await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
        await rename(partial, path);
      } finally {
        await embedded.stop();
      }
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = serverUrl();
  if (server !== undefined) {
    const template = await postgresTemplate(server);
    const name = `ct_test_${randomBytes(6).toString('hex')}`;
    await adminQuery(server, `CREATE DATABASE ${name} TEMPLATE ${template}`);
    return {
      url: withDatabase(server, name),
      poolSize: 10,
      drop: async () => {
        await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  }
  const embedded = await EmbeddedPostgres.start('memory://', {
    loadDataDir: await embeddedTemplate(),
  });
  return { url: embedded.url, poolSize: 1, embedded, drop: () => embedded.stop() };
}
