import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PID_FILE, prepareDataDir } from '../../src/database/embedded-data-dir.js';
import { callbackBody } from '../support/factories.js';
import {
  type ServiceProcess,
  ensureBuilt,
  spawnService,
  startService,
} from '../support/service-process.js';

// The embedded database's folder is its owner's alone (docs/security.md): folders 0700, files 0600,
// an existing folder with looser modes is tightened at start, one of another user refused. One
// instance at a time has it open: the claim on it is atomic, also against a stale claim.

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const DATA_DIR_MODULE = resolve(
  import.meta.dirname,
  '../../dist/src/database/embedded-data-dir.js',
);

/** Every folder and file under `dir` (itself included) whose mode lets group or others in. */
async function notPrivate(dir: string): Promise<string[]> {
  const loose: string[] = [];
  const top = await stat(dir);
  if ((top.mode & 0o077) !== 0) {
    loose.push(`${dir} ${(top.mode & 0o777).toString(8)}`);
  }
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await lstat(path);
    if ((info.isFile() || info.isDirectory()) && (info.mode & 0o077) !== 0) {
      loose.push(`${path} ${(info.mode & 0o777).toString(8)}`);
    }
  }
  return loose;
}

/** Gives group and others every right on everything under `dir`, as an older release left it. */
async function loosen(dir: string): Promise<void> {
  await chmod(dir, 0o777);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isDirectory()) {
      await chmod(path, 0o777);
    } else if (entry.isFile()) {
      await chmod(path, 0o666);
    }
  }
}

describe('the embedded data folder', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ct-data-dir-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates a missing folder, and the folders above it, as 0700', async () => {
    const dir = join(root, 'new', 'pglite');
    await prepareDataDir(dir);
    expect((await stat(join(root, 'new'))).mode & 0o777).toBe(0o700);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('tightens an existing folder that group or others may use: folders 0700, files 0600', async () => {
    const dir = join(root, 'loose');
    await mkdir(join(dir, 'base', '1'), { recursive: true });
    await writeFile(join(dir, 'PG_VERSION'), '17\n');
    await writeFile(join(dir, 'base', '1', '1259'), 'relation');
    await loosen(dir);
    await prepareDataDir(dir);
    expect(await notPrivate(dir)).toEqual([]);
    expect((await stat(join(dir, 'base', '1', '1259'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'base'))).mode & 0o777).toBe(0o700);
  });

  it('neither follows nor changes a symbolic link in the folder', async () => {
    const dir = join(root, 'linked');
    await mkdir(dir);
    const outside = join(root, 'outside.txt');
    await writeFile(outside, 'not the database');
    await chmod(outside, 0o644);
    await symlink(outside, join(dir, 'link'));
    await prepareDataDir(dir);
    expect((await stat(outside)).mode & 0o777).toBe(0o644);
  });

  (isRoot ? it : it.skip)(
    'refuses a folder, or a file in it, of another user, naming it, and changes nothing',
    async () => {
      const dir = join(root, 'theirs');
      await mkdir(dir, { mode: 0o755 });
      await chown(dir, NOBODY, NOBODY);
      await expect(prepareDataDir(dir)).rejects.toThrow(
        `The embedded database's folder ${dir} belongs to user ${NOBODY}`,
      );
      expect((await stat(dir)).mode & 0o777).toBe(0o755);

      const mine = join(root, 'mixed');
      await mkdir(mine, { mode: 0o700 });
      await writeFile(join(mine, 'postgresql.conf'), '', { mode: 0o666 });
      await chown(join(mine, 'postgresql.conf'), NOBODY, NOBODY);
      await expect(prepareDataDir(mine)).rejects.toThrow(
        `The embedded database's file ${join(mine, 'postgresql.conf')} belongs to user ${NOBODY}`,
      );
    },
  );
});

describe('the service on an embedded data folder', () => {
  let root: string;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ct-data-private-'));
  });

  afterAll(async () => {
    await service?.kill();
    await rm(root, { recursive: true, force: true });
  });

  const report = async () => {
    const response = await fetch(`${service?.url}/callbacks/command-status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(callbackBody()),
    });
    expect(response.status).toBe(200);
  };

  it('keeps every folder 0700 and every file 0600 it creates, and tightens looser ones at start', async () => {
    const dir = join(root, 'data', 'pglite');
    // Migrating a fresh embedded database is slow on a busy machine.
    service = await startService({ PGLITE_DATA_DIR: dir, LOG_LEVEL: 'warn' }, 120_000);
    for (let i = 0; i < 20; i++) {
      await report();
    }
    expect(await notPrivate(join(root, 'data'))).toEqual([]);
    await service.kill();

    // A folder an older release left readable and writable by all.
    await loosen(dir);
    service = await startService({ PGLITE_DATA_DIR: dir, LOG_LEVEL: 'warn' }, 120_000);
    await report();
    expect(await notPrivate(dir)).toEqual([]);
    await service.kill();
    service = undefined;
  }, 300_000);

  (isRoot ? it : it.skip)(
    'refuses to start on a folder of another user, saying why',
    async () => {
      const dir = join(root, 'theirs');
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, NOBODY, NOBODY);
      const refused = await spawnService({ PGLITE_DATA_DIR: dir, LOG_LEVEL: 'warn' });
      expect(await refused.exited).toEqual({ code: 1, signal: null });
      expect(refused.output()).toContain(
        `The embedded database's folder ${dir} belongs to user ${NOBODY}`,
      );
    },
    60_000,
  );
});

interface Claimant {
  child: ChildProcess;
  /** Once the process has loaded the module and waits for go(). */
  ready: Promise<void>;
  go(): void;
  /** 'claimed', or 'refused: <why>'. */
  outcome: Promise<string>;
}

/** A process that claims `dir` when told to, says how it went, and holds the claim until killed. */
function claimant(dir: string): Claimant {
  const script = `
    const { claimDataDir } = await import(${JSON.stringify(DATA_DIR_MODULE)});
    process.stdin.once('data', async () => {
      try {
        await claimDataDir(${JSON.stringify(dir)});
        console.log('claimed');
      } catch (error) {
        console.log('refused: ' + error.message);
      }
    });
    console.log('ready');
    setTimeout(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  let rest = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
    waiting.splice(0).forEach((wake) => wake());
  });
  child.once('exit', () => {
    lines.push('exited', 'exited');
    waiting.splice(0).forEach((wake) => wake());
  });
  const line = async (index: number): Promise<string> => {
    while (lines.length <= index) {
      await new Promise<void>((wake) => waiting.push(wake));
    }
    return lines[index];
  };
  return {
    child,
    ready: line(0).then((first) => {
      if (first !== 'ready') {
        throw new Error(`the claimant did not start: ${first}`);
      }
    }),
    go: () => child.stdin?.write('go\n'),
    outcome: line(1),
  };
}

/** The pid of a process that has ended, and its start time: what a stale pid file holds. */
async function deadProcessClaim(): Promise<string> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid ?? 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  await new Promise((done) => child.once('exit', done));
  return `${pid}\n${ticks}\n`;
}

describe('claiming the embedded data folder', () => {
  let root: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    root = await mkdtemp(join(tmpdir(), 'ct-data-claim-'));
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
    }
    await sleep(100);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['no pid file', undefined],
    ['a stale pid file of a process that has ended', 'dead'],
    ['a pid file left half written', ''],
  ])(
    'lets exactly one of six starters racing on %s have the folder',
    async (_name, left) => {
      const dir = await mkdtemp(join(root, 'race-'));
      if (left !== undefined) {
        await writeFile(join(dir, PID_FILE), left === 'dead' ? await deadProcessClaim() : left);
      }
      const starters = Array.from({ length: 6 }, () => claimant(dir));
      children.push(...starters.map((starter) => starter.child));
      await Promise.all(starters.map((starter) => starter.ready));
      // All at once, as far as the processes allow.
      for (const starter of starters) {
        starter.go();
      }
      // The winner claims at once; the others wait for it (up to 15 s) rather than answer now.
      await sleep(2000);
      const settled = await Promise.all(
        starters.map((starter) => Promise.race([starter.outcome, sleep(10).then(() => 'waiting')])),
      );
      const winners = starters.filter((_, index) => settled[index] === 'claimed');
      expect(settled.filter((outcome) => outcome !== 'waiting' && outcome !== 'claimed')).toEqual(
        [],
      );
      expect(settled.filter((outcome) => outcome === 'claimed')).toEqual(['claimed']);
      const holder = (await readFile(join(dir, PID_FILE), 'utf8')).split('\n')[0];
      expect(holder).toBe(String(winners[0].child.pid));
      // No takeover is left holding its lock.
      expect(await readdir(dir)).not.toContain(`${PID_FILE}.takeover`);
    },
    30_000,
  );

  it('waits for a running holder to exit, then takes its stale pid file over', async () => {
    const dir = await mkdtemp(join(root, 'wait-'));
    const first = claimant(dir);
    const second = claimant(dir);
    children.push(first.child, second.child);
    await Promise.all([first.ready, second.ready]);
    first.go();
    expect(await first.outcome).toBe('claimed');
    second.go();
    expect(await Promise.race([second.outcome, sleep(1500).then(() => 'waiting')])).toBe('waiting');
    // Gone without releasing its claim, as after SIGKILL.
    first.child.kill('SIGKILL');
    expect(await second.outcome).toBe('claimed');
    const holder = (await readFile(join(dir, PID_FILE), 'utf8')).split('\n')[0];
    expect(holder).toBe(String(second.child.pid));
  }, 30_000);
});
