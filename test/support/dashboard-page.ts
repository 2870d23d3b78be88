import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

/**
 * The operations page as `npm run build:dashboard` builds it into dist/, where the service reads
 * it. Rebuilt when a source is newer (CI has just built it); one test file builds at a time.
 */

const ROOT = resolve(import.meta.dirname, '../..');
export const PAGE_SOURCES = join(ROOT, 'src/dashboard/page');
export const PAGE_BUILT = join(ROOT, 'dist/src/dashboard/page');
const COPIED = ['index.html', 'style.css'];

async function mtime(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
}

async function isFresh(): Promise<boolean> {
  for (const name of await readdir(PAGE_SOURCES)) {
    const built = name.endsWith('.ts') ? name.replace(/\.ts$/, '.js') : name;
    if (name === 'tsconfig.json') {
      continue;
    }
    if ((await mtime(join(PAGE_BUILT, built))) < (await mtime(join(PAGE_SOURCES, name)))) {
      return false;
    }
  }
  return true;
}

export async function ensureDashboardBuilt(): Promise<void> {
  const lock = join(ROOT, 'dist.dashboard-lock');
  for (;;) {
    if (await isFresh()) {
      return;
    }
    try {
      await mkdir(lock, { recursive: false });
    } catch {
      const age = Date.now() - (await mtime(lock));
      if (age > 60_000) {
        await rm(lock, { recursive: true, force: true });
      }
      await sleep(250);
      continue;
    }
    try {
      await promisify(execFile)(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(PAGE_SOURCES, 'tsconfig.json')],
        { cwd: ROOT },
      );
      for (const name of COPIED) {
        await copyFile(join(PAGE_SOURCES, name), join(PAGE_BUILT, name));
      }
      return;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}
