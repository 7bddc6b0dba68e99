// Runs node's test runner over every *.test.ts under the given folders.
// (Node 20's --test does not expand globs nor pick up .ts files by itself.)
// Usage: node test/run.mjs [--serial] DIR...
// Files run two or more at a time (every core); --serial runs them one at a time, and a file marked
// `// test-run: serial` always runs alone, after the others.
// Files start longest first, by test/durations.json (seconds per file, from an earlier run; files it
// does not list keep their alphabetical place after the listed ones). With FOVEA_TEST_DURATIONS=DIR
// the run writes its own per-file seconds to DIR/<folders>.json (test/reporters/durations.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
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

const table = join(here, 'durations.json');
const known = existsSync(table) ? JSON.parse(readFileSync(table, 'utf8')) : {};
const seconds = (f) => known[relative(root, resolve(f))] ?? -1;
// A stable sort: the listed files by their seconds, longest first; the rest after them, alphabetical.
files.sort((a, b) => seconds(b) - seconds(a));

// A file whose source holds the line `// test-run: serial` (timings it asserts, e.g. a progress bar
// that must move within seconds) runs after the others, alone.
const SERIAL_MARK = /^\/\/ test-run: serial$/m;
const alone = serial ? files : files.filter((f) => SERIAL_MARK.test(readFileSync(f, 'utf8')));
const together = serial ? [] : files.filter((f) => !alone.includes(f));

function run(list, concurrency, suffix) {
  const out = process.env.FOVEA_TEST_DURATIONS ? join(process.env.FOVEA_TEST_DURATIONS, `${dirs.map((d) => basename(d)).join('+')}${suffix}.json`) : null;
  const reporters = out
    ? ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${join(here, 'reporters', 'durations.mjs')}`, `--test-reporter-destination=${out}`]
    : ['--test-reporter=spec'];
  return spawnSync(process.execPath, ['--import', 'tsx', '--test', ...reporters, `--test-concurrency=${concurrency}`, ...list], { stdio: 'inherit' }).status ?? 1;
}

// Node 20 runs availableParallelism() - 1 files at once: one at a time on 2 cores, while most
// files wait on a child process, a browser or the disk. Every core, unless --serial.
const first = together.length ? run(together, Math.max(2, availableParallelism()), '') : 0;
const second = alone.length ? run(alone, 1, serial ? '' : '-serial') : 0;
process.exit(first || second);
