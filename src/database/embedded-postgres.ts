import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PostgreSQL compiled to WebAssembly, served in-process on a loopback port so that the ordinary
 * `pg` driver, TypeORM and every migration and statement run exactly as on a real server.
 * PGlite is one session: the pool must hold a single connection so transactions stay isolated.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    readonly url: string,
    readonly location: string,
  ) {}

  /** dataDir: a folder (created if missing), or `memory://` for a throwaway database. */
  static async start(
    dataDir: string,
    options: { loadDataDir?: Blob } = {},
  ): Promise<EmbeddedPostgres> {
    const location = dataDir.startsWith('memory://') ? dataDir : resolve(dataDir);
    if (!dataDir.startsWith('memory://')) {
      await mkdir(location, { recursive: true });
    }
    const db = await PGlite.create({ dataDir: location, loadDataDir: options.loadDataDir });
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    return new EmbeddedPostgres(db, server, url, location);
  }

  /** A copy of the whole database, to start others from (tests clone a migrated template). */
  async dump(): Promise<Blob> {
    return this.db.dumpDataDir('none');
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
  }
}
