import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { redactUrl } from '../src/http/redact.js';
import { ensureBuilt } from './support/service-process.js';
import { type TestDatabase, createTestDatabase } from './support/test-database.js';

// `npm run migration:*` is TypeORM's CLI on dist/src/cli-data-source.js, run here as the
// scripts run it (without their build step: ensureBuilt makes the build).
const ROOT = resolve(import.meta.dirname, '..');

function migrationCli(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'node_modules/typeorm/cli.js'),
      '-d',
      'dist/src/cli-data-source.js',
      'migration:show',
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}

describe('the migration CLI (npm run migration:*)', () => {
  beforeAll(ensureBuilt, 120_000);

  it('refuses without DATABASE_URL, saying the service would use its embedded database', async () => {
    const result = await migrationCli({});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL is not set');
    expect(result.stderr).toContain('embedded database');
    expect(result.stdout).toBe('');
  }, 30_000);

  it('refuses a DATABASE_URL the service would refuse, naming it', async () => {
    const result = await migrationCli({ DATABASE_URL: 'mysql://db/tracker' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Invalid configuration: DATABASE_URL');
  }, 30_000);

  describe('on the database the service uses', () => {
    let database: TestDatabase;
    let dir: string;

    beforeAll(async () => {
      database = await createTestDatabase();
      dir = await mkdtemp(join(tmpdir(), 'migration-cli-'));
    });

    afterAll(async () => {
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('reads DATABASE_URL_FILE as the service does, and says which database it works on', async () => {
      const file = join(dir, 'database-url');
      await writeFile(file, `${database.url}\n`);
      const result = await migrationCli({ DATABASE_URL_FILE: file });
      expect(result.stderr).toContain(`Migrations on PostgreSQL at ${redactUrl(database.url)}`);
      expect(result.code).toBe(0);
      // The test database is migrated: the latest migration shows as applied.
      expect(result.stdout).toContain('[X] ');
      expect(result.stdout).toMatch(/\[X\] .*ReadFilterIndexes1796820000000/);
      expect(result.stdout).not.toContain('[ ] ');
    }, 60_000);
  });
});
