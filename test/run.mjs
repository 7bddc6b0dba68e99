// Runs node's test runner over every *.test.ts under the given folders.
// (Node 20's --test does not expand globs nor pick up .ts files by itself.)
// Usage: node test/run.mjs [--serial] DIR...
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const serial = args.includes('--serial');
const dirs = args.filter((a) => !a.startsWith('--'));
const files = [];
function walk(p) {
  if (statSync(p).isDirectory()) {
    for (const e of readdirSync(p).sort()) if (e !== 'node_modules') walk(join(p, e));
  } else if (p.endsWith('.test.ts')) files.push(p);
}
for (const d of dirs) walk(d);
if (files.length === 0) {
  console.error(`no *.test.ts files under ${dirs.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  // Node 20 runs availableParallelism() - 1 files at once: one at a time on 2 cores, while most
  // files wait on a child process, a browser or the disk. Every core, unless --serial.
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${serial ? 1 : Math.max(2, availableParallelism())}`, ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
