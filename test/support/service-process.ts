import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { QueryResultRow } from 'pg';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { type TestDatabase, adminQuery, createTestDatabase, serverUrl } from './test-database.js';

/**
 * The real built service (`node dist/src/main.js`) as a child process, for what only a process
 * can show: start-up refusals, SIGKILL, SIGTERM. The build is made first when it is missing or
 * older than the sources (CI builds before testing, so there it is already fresh).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/src/main.js');
const SOURCES = ['src', 'migrations'];

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
    }
  }
  return newest;
}

async function isFresh(): Promise<boolean> {
  try {
    const built = (await stat(MAIN)).mtimeMs;
    const sources = await Promise.all(SOURCES.map((dir) => newestSource(join(ROOT, dir))));
    return built >= Math.max(...sources);
  } catch {
    return false;
  }
}

/** Builds dist/ unless it is up to date; one test file at a time builds, the others wait. */
export async function ensureBuilt(): Promise<void> {
  const lock = join(ROOT, 'dist.build-lock');
  for (;;) {
    if (await isFresh()) {
      return;
    }
    try {
      await mkdir(lock);
    } catch {
      // A lock left by a run that was killed mid-build is not waited for.
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 120_000) {
        await rm(lock, { recursive: true, force: true });
      }
      await sleep(250);
      continue;
    }
    try {
      if (!(await isFresh())) {
        await promisify(execFile)(
          process.execPath,
          [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
          { cwd: ROOT },
        );
        // An incremental build rewrites only the files whose output changed, so main.js would stay
        // older than the sources and every test file would build again.
        const now = new Date();
        await utimes(MAIN, now, now);
      }
      return;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface ServiceProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal that ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, if still running; waits for its exit and for its child processes to end. */
  kill(): Promise<void>;
}

/**
 * The Node.js options `npm start` runs the service with (its heap settings): those of the `exec node`
 * line of bin/start.
 */
export async function npmStartNodeOptions(): Promise<string[]> {
  const script = await readFile(join(ROOT, 'bin/start'), 'utf8');
  const line = /^exec node (.*)$/m.exec(script)?.[1];
  if (line === undefined) {
    throw new Error('bin/start has no `exec node ...` line');
  }
  return line.split(/\s+/).filter((word) => word.startsWith('--'));
}

/**
 * Runs the service with this environment (on top of a minimal one), without waiting for it;
 * `nodeOptions` go to node before the script (e.g. npmStartNodeOptions()).
 */
export async function spawnService(
  env: Record<string, string>,
  nodeOptions: string[] = [],
): Promise<ServiceProcess> {
  await ensureBuilt();
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, [...nodeOptions, MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: port,
      LOG_LEVEL: 'info',
      SWEEP_INTERVAL_SECONDS: '3600',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    kill: async () => {
      // Read before the kill: once the service is gone its children belong to another parent.
      const children = await childPids(child.pid ?? 0);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
      await exited;
      // The embedded database's process closes its data directory once it sees the service gone;
      // until then it still writes there, and a test removing the directory would race it.
      const until = Date.now() + 15_000;
      for (const pid of children) {
        while ((await isAlive(pid)) && Date.now() < until) {
          await sleep(50);
        }
      }
    },
  };
}

/** Runs the service and waits until it answers /health/live. */
export async function startService(
  env: Record<string, string>,
  timeoutMs = 30_000,
  nodeOptions: string[] = [],
): Promise<ServiceProcess> {
  const service = await spawnService(env, nodeOptions);
  let exited = false;
  void service.exited.then(() => (exited = true));
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      throw new Error(`The service exited during start-up:\n${service.output()}`);
    }
    try {
      const response = await fetch(`${service.url}/health/live`);
      if (response.ok) {
        return service;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > until) {
      await service.kill();
      throw new Error(`The service did not start in ${timeoutMs} ms:\n${service.output()}`);
    }
    await sleep(100);
  }
}

// A fresh embedded database migrates at its first start: slow on a loaded machine.
const RESTART_STARTUP_MS = 120_000;

/**
 * Services that a test kills and starts again, one after another on one database that outlives
 * each of them: a fresh database on the PostgreSQL server when the tests have one, else an
 * embedded data directory.
 */
export class RestartedServices {
  private readonly started: ServiceProcess[] = [];

  private constructor(
    private readonly database: TestDatabase | undefined,
    private readonly dataDir: string | undefined,
  ) {}

  /** Builds dist/ if needed and makes the database; `name` names the embedded data directory. */
  static async create(name: string): Promise<RestartedServices> {
    await ensureBuilt();
    if (serverUrl() !== undefined) {
      return new RestartedServices(await createTestDatabase(), undefined);
    }
    return new RestartedServices(
      undefined,
      await mkdtemp(join(tmpdir(), `command-tracker-${name}-`)),
    );
  }

  /** Runs a service with this environment on the database and waits until it answers. */
  async start(env: Record<string, string>): Promise<ServiceProcess> {
    const database: Record<string, string> =
      this.database !== undefined
        ? { DATABASE_URL: this.database.url }
        : { PGLITE_DATA_DIR: this.dataDir! };
    const service = await startService({ ...env, ...database }, RESTART_STARTUP_MS);
    this.started.push(service);
    return service;
  }

  /** SQL on the database, while no service runs: the embedded one is a directory one process opens. */
  async query<T extends QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
    if (this.database !== undefined) {
      return adminQuery<T>(this.database.url, text, params);
    }
    const embedded = await EmbeddedPostgres.start(this.dataDir!);
    try {
      return await adminQuery<T>(embedded.url, text, params);
    } finally {
      await embedded.stop();
    }
  }

  /** Kills the services still running, then drops the database or removes the directory. */
  async close(): Promise<void> {
    for (const service of this.started) {
      await service.kill();
    }
    await this.database?.drop();
    if (this.dataDir !== undefined) {
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}

/** The pids of a process's children (Linux's /proc). */
export async function childPids(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const lists = await Promise.all(
    tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')),
  );
  return lists.flatMap((list) => list.split(/\s+/).filter(Boolean).map(Number));
}

/** The embedded database's process that the service forked (its child running embedded-server). */
export async function databaseProcess(service: ServiceProcess): Promise<number> {
  for (const pid of await childPids(service.child.pid ?? 0)) {
    const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (command.includes('embedded-server.js')) {
      return pid;
    }
  }
  throw new Error(`No embedded database process under the service:\n${service.output()}`);
}

/** Whether a process is still there (and not a zombie). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resident and peak resident memory of a process, in MB (Linux's /proc). */
export async function residentMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}
