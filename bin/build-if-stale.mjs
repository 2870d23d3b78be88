// npm start's prestart: builds only when there is no build or a source is newer than it, so that
// starting a built service does not wait for the compiler.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
// Written after each build made here, dated from its start: a source saved during the build is newer.
const STAMP = join(ROOT, 'dist/.build-stamp');
const SOURCES = [
  'src',
  'migrations',
  'bench',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
];

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce(
      (latest, entry) => Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs),
      0,
    );
}

const builtAt =
  existsSync(STAMP) && existsSync(join(ROOT, 'dist/src/main.js')) ? statSync(STAMP).mtimeMs : 0;
const stale = SOURCES.map((source) => join(ROOT, source)).some(
  (path) => existsSync(path) && newest(path) > builtAt,
);
if (stale) {
  const startedAt = new Date();
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(STAMP, '');
  utimesSync(STAMP, startedAt, startedAt);
}
