// npm run simulate: the arguments are checked first, from the TypeScript source (Node.js strips
// its types), so that a mistyped option fails at once rather than after a build; then the build is
// brought up to date if a source is newer, and tools/simulate.ts runs with the same arguments.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const args = process.argv.slice(2);

const { USAGE, parseSimulateArgs } = await import('../tools/simulate-args.ts');
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
try {
  parseSimulateArgs(args);
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}

const run = (script, scriptArgs = []) =>
  spawnSync(process.execPath, [join(ROOT, script), ...scriptArgs], { cwd: ROOT, stdio: 'inherit' });

const build = run('bin/build-if-stale.mjs');
if (build.status !== 0) {
  process.exit(build.status ?? 1);
}
const simulation = run('dist/tools/simulate.js', args);
process.exit(simulation.status ?? 1);
