import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PID_FILE } from '../../src/database/embedded-data-dir.js';
import {
  type ServiceProcess,
  databaseProcess,
  ensureBuilt,
  isAlive,
  spawnService,
  startService,
} from '../support/service-process.js';

// The embedded database runs in a child process of the service. Two PGlite instances on one data
// directory corrupt it, so the child closes as soon as the service is gone (even by SIGKILL), a
// restart waits for it, and a second service on a directory still open is refused. Without its
// database the service would fail every request: it exits instead, for its supervisor to restart.

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() > until) {
      return false;
    }
    await sleep(50);
  }
  return true;
}

describe('the embedded database process', () => {
  let dataDir: string;
  const services: ServiceProcess[] = [];
  /** The service that has the directory, from the first test on. */
  let running: ServiceProcess | undefined;
  const start = async () => {
    const service = await startService({ PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, 90_000);
    services.push(service);
    return service;
  };

  beforeAll(async () => {
    await ensureBuilt();
    dataDir = await mkdtemp(join(tmpdir(), 'ct-embedded-process-'));
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.kill()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('closes when the service is killed with SIGKILL, and a restart takes the directory after it', async () => {
    const first = await start();
    const database = await databaseProcess(first);
    expect(await readFile(join(dataDir, PID_FILE), 'utf8')).toMatch(new RegExp(`^${database}\n`));

    first.child.kill('SIGKILL');
    await first.exited;
    // At once, while the old database process may still be closing.
    const restarted = await start();
    expect(await gone(database, 15_000)).toBe(true);
    const next = await databaseProcess(restarted);
    expect(next).not.toBe(database);
    expect(await readFile(join(dataDir, PID_FILE), 'utf8')).toMatch(new RegExp(`^${next}\n`));
    expect((await fetch(`${restarted.url}/health/ready`)).status).toBe(200);
    running = restarted;
  }, 180_000);

  it('refuses a second service on the directory while the first has it open', async () => {
    if (running === undefined) {
      throw new Error('the first test did not start a service');
    }
    const database = await databaseProcess(running);
    const second = await spawnService({ PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    services.push(second);
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.output()).toContain(
      `The embedded database in ${dataDir} is still open in process ${database} (${PID_FILE})`,
    );
    // The first was not disturbed.
    expect(await isAlive(database)).toBe(true);
    expect((await fetch(`${running.url}/health/ready`)).status).toBe(200);
  }, 60_000);

  it('makes the service exit with an error when it dies', async () => {
    if (running === undefined) {
      throw new Error('the first test did not start a service');
    }
    const database = await databaseProcess(running);
    process.kill(database, 'SIGKILL');
    expect(await running.exited).toEqual({ code: 1, signal: null });
    expect(running.output()).toContain('The embedded database process was killed by SIGKILL');
  }, 30_000);
});
