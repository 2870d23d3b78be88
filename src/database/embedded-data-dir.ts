import fs from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  readFile,
  readdir,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// The embedded database's data folder: only its owner may read or write it (folder and every
// folder in it 0700, every file 0600), and only one instance at a time may have it open.

/** In the data directory, while an instance has it open: two instances on one directory corrupt it. */
export const PID_FILE = 'ct-embedded.pid';
// Held, created exclusively, by the one starter that removes a pid file whose process is gone.
const TAKEOVER_LOCK = `${PID_FILE}.takeover`;
// A takeover lock older than this was left by a starter that died while holding it: the takeover
// itself is a few file operations.
const STALE_TAKEOVER_MS = 10_000;

// After a SIGKILL of the service its database process notices and closes, which takes a moment;
// a restarted service waits that long for the directory.
const OWNER_EXIT_WAIT_MS = 15_000;
const RETRY_MS = 200;

const PRIVATE_FOLDER = 0o700;
const PRIVATE_FILE = 0o600;
const GROUP_AND_OTHERS = 0o077;

/**
 * Makes every file and folder the database creates in this process its owner's alone. PGlite
 * (Emscripten's NODEFS) creates each file and then sets its mode with chmod, 0666 for most, where
 * the umask has no say: chmod drops the bits of group and others here. Only for the database's
 * own process, which does nothing else (docs/decisions/embedded-file-modes.md).
 */
export function keepFilesPrivate(): void {
  process.umask(GROUP_AND_OTHERS);
  const { chmodSync, fchmodSync } = fs;
  fs.chmodSync = (path, mode) => chmodSync(path, ownerOnly(mode));
  fs.fchmodSync = (fd, mode) => fchmodSync(fd, ownerOnly(mode));
  // ES module imports of node:fs (PGlite's among them) see the replaced functions too.
  syncBuiltinESMExports();
}

function ownerOnly(mode: fs.Mode): number {
  const numeric = typeof mode === 'string' ? parseInt(mode, 8) : mode;
  return numeric & ~GROUP_AND_OTHERS;
}

/**
 * Creates the data folder, or checks one that exists: it must belong to this process's user,
 * and anything in it that group or others may read, write or enter is made the owner's alone (a
 * folder written before files were kept private holds 0666 files). Refuses, naming the path, a
 * folder or entry of another user. Symbolic links are neither followed nor changed.
 */
export async function prepareDataDir(location: string): Promise<void> {
  await mkdir(location, { recursive: true, mode: PRIVATE_FOLDER });
  const uid = process.getuid?.();
  const check = async (path: string, info: fs.Stats, kind: 'folder' | 'file') => {
    if (uid !== undefined && info.uid !== uid) {
      throw new Error(
        `The embedded database's ${kind} ${path} belongs to user ${info.uid}, not to this ` +
          `process's user ${uid}: run the service as its owner, or give it to this user (chown -R)`,
      );
    }
    if ((info.mode & GROUP_AND_OTHERS) !== 0) {
      await chmod(path, kind === 'folder' ? PRIVATE_FOLDER : PRIVATE_FILE);
    }
  };
  // The folder itself may be reached through a link (a volume mounted elsewhere): stat follows it.
  await check(location, await stat(location), 'folder');
  for (const entry of await readdir(location, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory() || entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      // An instance still open on the folder (its starter waits for it) may remove files meanwhile.
      const info = await lstat(path).catch((error: unknown) => {
        if (isCode(error, 'ENOENT')) {
          return undefined;
        }
        throw error;
      });
      if (info !== undefined) {
        await check(path, info, entry.isDirectory() ? 'folder' : 'file');
      }
    }
  }
}

/** When the process started, in clock ticks since boot (Linux): tells a reused pid apart. */
async function startTicks(pid: number | 'self'): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: state is the
    // third field and starttime the 22nd.
    return stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .at(22 - 3);
  } catch {
    return undefined;
  }
}

/** Whether the process a pid file names is still running (and is the one that wrote it). */
async function isRunning(pid: number, ticks: string | undefined): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const now = ticks === undefined ? undefined : await startTicks(pid);
  return now === undefined || now === ticks;
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * Takes the data directory for this process: waits for an instance still holding it to exit, and
 * refuses when it does not. The claim is a hard link of a file already written, so it appears
 * whole and only if no claim exists; a claim whose process is gone is removed only by the one
 * starter holding the takeover lock, and only while it still holds what that starter read.
 */
export async function claimDataDir(location: string): Promise<void> {
  const pidFile = join(location, PID_FILE);
  const claim = `${process.pid}\n${(await startTicks('self')) ?? ''}\n`;
  const draft = join(location, `${PID_FILE}.${process.pid}`);
  await writeFile(draft, claim, { mode: PRIVATE_FILE });
  try {
    const until = Date.now() + OWNER_EXIT_WAIT_MS;
    for (;;) {
      try {
        await link(draft, pidFile);
        return;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) {
          throw error;
        }
      }
      const seen = await readFile(pidFile, 'utf8').catch(() => undefined);
      if (seen === undefined) {
        // Removed meanwhile: try again at once.
        continue;
      }
      const [pidText, ticks] = seen.split('\n');
      const pid = Number(pidText);
      const owned =
        Number.isInteger(pid) &&
        pid > 0 &&
        pid !== process.pid &&
        (await isRunning(pid, ticks || undefined));
      if (!owned) {
        await removeStaleClaim(location, pidFile, seen);
        continue;
      }
      if (Date.now() > until) {
        throw new Error(
          `The embedded database in ${location} is still open in process ${pid} ` +
            `(${PID_FILE}) after ${OWNER_EXIT_WAIT_MS / 1000} s: stop that process first`,
        );
      }
      await sleep(RETRY_MS);
    }
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/** Removes the pid file if it still holds `seen`, under the takeover lock; else changes nothing. */
async function removeStaleClaim(location: string, pidFile: string, seen: string): Promise<void> {
  const lock = join(location, TAKEOVER_LOCK);
  try {
    await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: PRIVATE_FILE });
  } catch (error) {
    if (!isCode(error, 'EEXIST')) {
      throw error;
    }
    // Another starter is taking over: its claim shows next time round.
    const since = await stat(lock).then(
      (info) => info.mtimeMs,
      () => Date.now(),
    );
    if (Date.now() - since > STALE_TAKEOVER_MS) {
      await unlink(lock).catch(() => undefined);
    }
    await sleep(RETRY_MS / 4);
    return;
  }
  try {
    // Only a holder of the lock removes a claim, and a new claim is made only where none is: what
    // is read here cannot change before the unlink.
    if ((await readFile(pidFile, 'utf8').catch(() => undefined)) === seen) {
      await unlink(pidFile);
    }
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

/** Gives the data directory up (the database is closed): removes the pid file if it is ours. */
export async function releaseDataDir(location: string): Promise<void> {
  const pidFile = join(location, PID_FILE);
  const held = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (held?.split('\n')[0] === String(process.pid)) {
    await unlink(pidFile).catch(() => undefined);
  }
}
