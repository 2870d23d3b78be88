import { type ChildProcess, execFile, fork } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { claimDataDir, prepareDataDir, releaseDataDir } from './embedded-data-dir.js';

// Only names the socket file; nothing listens on a TCP port.
const SOCKET_PORT = 5432;

// The embedded database's memory is that of the process it runs in: 16 MB of buffers (PostgreSQL's
// default is 128 MB) suit the one node and small loads it is for.
const EMBEDDED_SETTINGS = 'shared_buffers=16MB';

/**
 * The database's own process (compiled next to this module). Under a test runner that loads the
 * TypeScript sources there is no such file, and the database is served in the runner's process.
 */
const SERVER_MODULE = fileURLToPath(new URL('./embedded-server.js', import.meta.url));

// The database process's JavaScript heap holds little (PGlite's memory is WebAssembly's, outside
// it): a dump or a data directory passes through it as one buffer. Semi-spaces: see bin/start.
const SERVER_NODE_OPTIONS = [
  '--max-old-space-size=64',
  '--max-semi-space-size=16',
  // PGlite's WebAssembly in V8's baseline compiler only: no second, optimised copy of its code
  // (docs/decisions/embedded-database-process.md).
  '--liftoff-only',
];

/**
 * Creates a new data directory in a short-lived process: initdb's WebAssembly memory (about 750 MB
 * resident, against about 170 MB to reopen a directory) would otherwise stay with the process
 * serving the database for good. Without the database process's module (a test runner), PGlite
 * creates it where it opens it.
 */
async function initialiseApart(location: string): Promise<void> {
  if (!existsSync(SERVER_MODULE)) {
    return;
  }
  await promisify(execFile)(process.execPath, [
    ...SERVER_NODE_OPTIONS,
    SERVER_MODULE,
    '--initdb',
    location,
  ]);
}

/** Creates a new data directory and closes it: the database process's `--initdb` mode. */
export async function initialiseDataDir(location: string): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir: location, postgresqlconf: EMBEDDED_SETTINGS });
  await db.close();
}

/** A database being served on a socket, in this process. */
export interface Served {
  dump(): Promise<Blob>;
  stop(): Promise<void>;
}

/**
 * Opens PGlite on dataDir (a folder, created if missing, or `memory://`) and serves it on the Unix
 * socket at socketPath, one connection at a time. The database process runs this; so does a test
 * runner's process, which has no compiled database process to fork.
 */
export async function serveDatabase(options: {
  dataDir: string;
  socketPath: string;
  loadDataDir?: Blob;
}): Promise<Served> {
  const location = options.dataDir;
  const inMemory = location.startsWith('memory://');
  if (!inMemory) {
    await prepareDataDir(location);
    await claimDataDir(location);
  }
  const release = async () => {
    if (!inMemory) {
      await releaseDataDir(location);
    }
  };
  let db: PGlite;
  let server: PGLiteSocketServer;
  try {
    if (
      !inMemory &&
      options.loadDataDir === undefined &&
      !existsSync(join(location, 'PG_VERSION'))
    ) {
      await initialiseApart(location);
    }
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    db = await PGlite.create({
      dataDir: location,
      loadDataDir: options.loadDataDir,
      postgresqlconf: EMBEDDED_SETTINGS,
    });
    server = new PGLiteSocketServer({ db, path: options.socketPath, maxConnections: 1 });
    try {
      await server.start();
    } catch (error) {
      await db.close();
      throw error;
    }
  } catch (error) {
    await release();
    throw error;
  }
  return {
    dump: () => db.dumpDataDir('none'),
    stop: async () => {
      await server.stop();
      await db.close();
      await release();
    },
  };
}

/** What the service sends the database process over IPC. */
export type ServerRequest =
  | { type: 'start'; dataDir: string; socketPath: string; loadDataDir?: Uint8Array }
  | { type: 'dump'; id: number }
  | { type: 'stop' };

/** What the database process answers. */
export type ServerReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'dump'; id: number; data?: Uint8Array; error?: string };

/** The database served by a child process, through IPC. */
class ServerProcess implements Served {
  private stopping = false;
  private nextDumpId = 1;
  private readonly dumps = new Map<
    number,
    { resolve: (blob: Blob) => void; reject: (error: Error) => void }
  >();
  /** How the process ended, once it has. */
  private ended: string | undefined;
  private readonly exited: Promise<void>;
  private unexpectedExit: ((reason: string) => void) | undefined;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        this.ended = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
        for (const dump of this.dumps.values()) {
          dump.reject(new Error(`The embedded database process ${this.ended}`));
        }
        this.dumps.clear();
        if (!this.stopping) {
          this.unexpectedExit?.(this.ended);
        }
        done();
      });
    });
    child.on('message', (reply: ServerReply) => {
      if (reply.type === 'dump') {
        const dump = this.dumps.get(reply.id);
        this.dumps.delete(reply.id);
        if (reply.data !== undefined) {
          dump?.resolve(new Blob([reply.data]));
        } else {
          dump?.reject(new Error(`Could not dump the embedded database: ${reply.error}`));
        }
      }
    });
  }

  static async start(options: {
    dataDir: string;
    socketPath: string;
    loadDataDir?: Blob;
  }): Promise<ServerProcess> {
    const child = fork(SERVER_MODULE, [], {
      execArgv: SERVER_NODE_OPTIONS,
      // Buffers (a dump, a data directory to load) pass as they are.
      serialization: 'advanced',
      // stderr shows a crash; stdout stays quiet.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const server = new ServerProcess(child);
    const ready = new Promise<void>((done, fail) => {
      const onMessage = (reply: ServerReply) => {
        if (reply.type === 'ready') {
          done();
        } else if (reply.type === 'failed') {
          fail(new Error(`The embedded database did not start: ${reply.message}`));
        }
      };
      child.on('message', onMessage);
      child.once('error', (error) =>
        fail(new Error(`The embedded database process failed: ${error.message}`)),
      );
      void server.exited.then(() =>
        fail(new Error(`The embedded database process ${server.ended} while starting`)),
      );
    });
    child.on('error', () => {
      // Reported by start() or, once running, by the exit that follows.
    });
    try {
      const loadDataDir =
        options.loadDataDir === undefined
          ? undefined
          : new Uint8Array(await options.loadDataDir.arrayBuffer());
      server.send({
        type: 'start',
        dataDir: options.dataDir,
        socketPath: options.socketPath,
        loadDataDir,
      });
      await ready;
    } catch (error) {
      server.stopping = true;
      if (server.ended === undefined) {
        child.kill();
      }
      await server.exited;
      throw error;
    }
    return server;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Called once, if the process ends other than through stop(). */
  onUnexpectedExit(listener: (reason: string) => void): void {
    this.unexpectedExit = listener;
    if (this.ended !== undefined && !this.stopping) {
      listener(this.ended);
    }
  }

  dump(): Promise<Blob> {
    const id = this.nextDumpId++;
    return new Promise((resolve, reject) => {
      if (this.ended !== undefined) {
        reject(new Error(`The embedded database process ${this.ended}`));
        return;
      }
      this.dumps.set(id, { resolve, reject });
      this.send({ type: 'dump', id });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ended === undefined && this.child.connected) {
      this.send({ type: 'stop' });
    }
    await this.exited;
  }

  private send(request: ServerRequest): void {
    this.child.send(request, (error: Error | null) => {
      // The channel closed: the exit that follows says what happened.
      void error;
    });
  }
}

/**
 * PostgreSQL compiled to WebAssembly (PGlite), served so that the ordinary `pg` driver, TypeORM and
 * every migration and statement run exactly as on a real server. It runs in a child process of the
 * service: its queries and its memory (mostly WebAssembly's) are that process's, not the service's.
 * PGlite is one session: the pool must hold a single connection so transactions stay isolated, and
 * a slow query holds up every other one.
 *
 * It is private to this process: PGlite checks no password (anyone reaching it is superuser and
 * could stall it with `SELECT pg_sleep(12)`), so it listens on no TCP port, only on a Unix socket
 * in a directory that only this process's user may enter (mode 0700).
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly served: Served,
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
    // mkdtemp makes it 0700 already; chmod says so whatever the platform does.
    const socketDir = await mkdtemp(join(tmpdir(), 'ct-pglite-'));
    await chmod(socketDir, 0o700);
    const serveOptions = {
      dataDir: location,
      // The name libpq and pg look for in a socket directory: .s.PGSQL.<port>.
      socketPath: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`),
      loadDataDir: options.loadDataDir,
    };
    let served: Served;
    try {
      served = existsSync(SERVER_MODULE)
        ? await ServerProcess.start(serveOptions)
        : await serveDatabase(serveOptions);
    } catch (error) {
      await rm(socketDir, { recursive: true, force: true });
      throw error;
    }
    const url = `postgres://postgres@localhost:${SOCKET_PORT}/postgres?host=${encodeURIComponent(socketDir)}`;
    return new EmbeddedPostgres(served, url, location, socketDir);
  }

  /** The database process's pid; undefined when it is served in this process. */
  get pid(): number | undefined {
    return this.served instanceof ServerProcess ? this.served.pid : undefined;
  }

  /**
   * Called if the database process ends other than through stop(): every query would fail from
   * then on.
   */
  onUnexpectedExit(listener: (reason: string) => void): void {
    if (this.served instanceof ServerProcess) {
      this.served.onUnexpectedExit((reason) => {
        // The listener may end this process at once: stop() would not run.
        rmSync(this.socketDir, { recursive: true, force: true });
        listener(reason);
      });
    }
  }

  /** A copy of the whole database, to start others from (tests clone a migrated template). */
  async dump(): Promise<Blob> {
    return this.served.dump();
  }

  async stop(): Promise<void> {
    try {
      await this.served.stop();
    } finally {
      await rm(this.socketDir, { recursive: true, force: true });
    }
  }
}
