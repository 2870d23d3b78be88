import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

// Only names the socket file; nothing listens on a TCP port.
const SOCKET_PORT = 5432;

// The embedded database runs inside this process, so its memory is the service's: 16 MB of buffers
// (PostgreSQL's default is 128 MB) suit the one node and small loads it is for.
const EMBEDDED_SETTINGS = 'shared_buffers=16MB';

/**
 * Creates a new data directory in a short-lived process: initdb's WebAssembly memory (about 400 MB)
 * would otherwise stay in this process's resident memory for good. Where the module cannot be
 * located (a test runner's module sandbox), it is created here instead.
 */
async function initialiseApart(location: string): Promise<void> {
  let pglite: string;
  try {
    pglite = import.meta.resolve('@electric-sql/pglite');
  } catch {
    return;
  }
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)});
const db = await PGlite.create({ dataDir: process.argv[1], postgresqlconf: ${JSON.stringify(EMBEDDED_SETTINGS)} });
await db.close();`;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, location]);
}

/**
 * PostgreSQL compiled to WebAssembly, served in-process so that the ordinary `pg` driver, TypeORM
 * and every migration and statement run exactly as on a real server. PGlite is one session: the
 * pool must hold a single connection so transactions stay isolated.
 *
 * It is private to this process: PGlite checks no password and runs every query on the service's
 * own event loop (a slow query from anyone stalls the service), so it listens on no TCP port, only
 * on a Unix socket in a directory that only this process's user may enter (mode 0700).
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    readonly url: string,
    readonly location: string,
    /** The private directory holding the socket, removed on stop(). */
    readonly socketDir: string,
  ) {}

  /** dataDir: a folder (created if missing), or `memory://` for a throwaway database. */
  static async start(
    dataDir: string,
    options: { loadDataDir?: Blob } = {},
  ): Promise<EmbeddedPostgres> {
    const location = dataDir.startsWith('memory://') ? dataDir : resolve(dataDir);
    if (!dataDir.startsWith('memory://')) {
      await mkdir(location, { recursive: true });
      if (options.loadDataDir === undefined && !existsSync(join(location, 'PG_VERSION'))) {
        await initialiseApart(location);
      }
    }
    const db = await PGlite.create({
      dataDir: location,
      loadDataDir: options.loadDataDir,
      postgresqlconf: EMBEDDED_SETTINGS,
    });
    // mkdtemp makes it 0700 already; chmod says so whatever the platform does.
    const socketDir = await mkdtemp(join(tmpdir(), 'ct-pglite-'));
    await chmod(socketDir, 0o700);
    // The name libpq and pg look for in a socket directory: .s.PGSQL.<port>.
    const server = new PGLiteSocketServer({
      db,
      path: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`),
      maxConnections: 1,
    });
    try {
      await server.start();
    } catch (error) {
      await db.close();
      await rm(socketDir, { recursive: true, force: true });
      throw error;
    }
    const url = `postgres://postgres@localhost:${SOCKET_PORT}/postgres?host=${encodeURIComponent(socketDir)}`;
    return new EmbeddedPostgres(db, server, url, location, socketDir);
  }

  /** A copy of the whole database, to start others from (tests clone a migrated template). */
  async dump(): Promise<Blob> {
    return this.db.dumpDataDir('none');
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    await rm(this.socketDir, { recursive: true, force: true });
  }
}
