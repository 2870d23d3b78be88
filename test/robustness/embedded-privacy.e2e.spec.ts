import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { type ServiceProcess, databaseProcess, startService } from '../support/service-process.js';

// The embedded database checks no password and is a single session: another local process that
// reached it could read everything, or hold up every query of the service with
// `SELECT pg_sleep(12)`. It is served on a Unix socket in a directory only its user may enter.

const run = promisify(execFile);
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** psql's first line of output, connecting with `SELECT 1` to the socket directory given. */
async function psql(socketDir: string, uid?: number): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(
      'psql',
      ['-h', socketDir, '-U', 'postgres', '-d', 'postgres', '-w', '-tAc', 'SELECT 1'],
      { timeout: 10_000, ...(uid === undefined ? {} : { uid, gid: uid, cwd: '/' }) },
    );
    return { ok: true, output: stdout.trim() };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
  }
}

describe('the embedded database', () => {
  let embedded: EmbeddedPostgres;

  beforeAll(async () => {
    embedded = await EmbeddedPostgres.start('memory://');
  });

  afterAll(async () => {
    await embedded.stop();
  });

  it('is reached through a Unix socket in a directory of mode 0700, owned by this user', async () => {
    const socketDir = new URL(embedded.url).searchParams.get('host');
    expect(socketDir).toBe(embedded.socketDir);
    const info = await stat(embedded.socketDir);
    expect(info.isDirectory()).toBe(true);
    expect(info.mode & 0o777).toBe(0o700);
    expect(info.uid).toBe(process.getuid?.());
  });

  (isRoot ? it : it.skip)(
    'refuses a process of another local user, which the owner itself can reach',
    async () => {
      // The owner can: the check below would see an open door.
      expect(await psql(embedded.socketDir)).toEqual({ ok: true, output: '1' });
      const other = await psql(embedded.socketDir, NOBODY);
      expect(other.ok).toBe(false);
      expect(other.output).toMatch(/Permission denied/i);
    },
  );

  it('removes its socket directory when stopped', async () => {
    const other = await EmbeddedPostgres.start('memory://');
    await other.stop();
    await expect(stat(other.socketDir)).rejects.toThrow(/ENOENT/);
  });
});

describe('the service on the embedded database', () => {
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    // Migrating a fresh embedded database is slow on a busy machine.
    service = await startService({ PGLITE_DATA_DIR: 'memory://' }, 90_000);
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
  });

  it('listens on one TCP port, its HTTP port, and on no port for the database', async () => {
    if (service === undefined) {
      throw new Error('the service did not start');
    }
    const database = await databaseProcess(service);
    const { stdout } = await run('ss', ['-Hltnp']);
    const portsOf = (pid: number | undefined) =>
      stdout
        .split('\n')
        .filter((line) => line.includes(`pid=${pid},`))
        .map((line) => line.split(/\s+/)[3]?.split(':').at(-1));
    expect(portsOf(service.child.pid)).toEqual([new URL(service.url).port]);
    expect(portsOf(database)).toEqual([]);
  });
});
