// Runs node's test runner over every *.test.ts under the given folders.
// (Node 20's --test does not expand globs nor pick up .ts files by itself.)
// Usage: node test/run.mjs [--serial] [--bundle-light] DIR...
// Files run two or more at a time (every core); --serial runs them one at a time, and a file marked
// `// test-run: serial` always runs alone, after the others.
// --bundle-light (unit and integration tests): the files test/durations.json lists under
// LIGHT_SECONDS run in one process per core instead of one process each: starting node, tsx and
// the core costs 1-2 s of CPU per file, more than most of those files' own tests (87 files: 33 s in
// one process, about 90 s one process each, 2 at a time). Files with top-level hooks, files that
// swap process.stdout.write, and files marked `// test-run: own-process` keep their own process
// (see OWN_PROCESS).
// Files start longest first, by test/durations.json (seconds per file, from an earlier run; files it
// does not list keep their alphabetical place after the listed ones). With FOVEA_TEST_DURATIONS=DIR
// the run writes its own per-file seconds to DIR/<folders>.json (test/reporters/durations.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const serial = args.includes('--serial');
const bundleLight = args.includes('--bundle-light') && !serial;
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
const cores = Math.max(2, availableParallelism());

// Light files, bundled: one generated file per core that imports them (static imports, so every
// test is registered before the first one runs; the reporters still name each test's own file).
const LIGHT_SECONDS = 3;
// Own process: top-level hooks would run for the whole bundle (before at its start, after at its end,
// beforeEach/afterEach around every bundled test), so a setup timed in a before hook would time
// something else; a file that swaps process.stdout.write (to read what the CLI prints) would also
// swallow the runner's reports of the other files' tests, which go through the same stdout.
const OWN_PROCESS = /^\/\/ test-run: own-process$|^(before|after|beforeEach|afterEach)\(|process\.std(out|err)\.write = /m;
const light = bundleLight ? together.filter((f) => seconds(f) >= 0 && seconds(f) < LIGHT_SECONDS && !OWN_PROCESS.test(readFileSync(f, 'utf8'))) : [];
const bundleDir = light.length ? mkdtempSync(join(tmpdir(), 'fovea-test-bundles-')) : null;
const bundles = [];
if (bundleDir) {
  const groups = Array.from({ length: Math.min(cores, light.length) }, () => ({ files: [], seconds: 0 }));
  for (const f of [...light].sort((a, b) => seconds(b) - seconds(a))) {
    const g = groups.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    g.files.push(f);
    g.seconds += seconds(f);
  }
  groups.forEach((g, i) => {
    const file = join(bundleDir, `light-${i + 1}.test.mjs`);
    writeFileSync(file, g.files.map((f) => `import ${JSON.stringify(pathToFileURL(resolve(f)).href)};\n`).join(''));
    bundles.push(file);
  });
}
const own = together.filter((f) => !light.includes(f));

let first;
try {
  // The bundles start last: the long files first, the many short ones fill in around them.
  first = own.length || bundles.length ? run([...own, ...bundles], cores, '') : 0;
} finally {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
}
const second = alone.length ? run(alone, 1, serial ? '' : '-serial') : 0;
process.exit(first || second);
