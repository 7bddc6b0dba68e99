/**
 * `npm test` runs this first (the `pretest` script). The suite compares Fovea with reference tools
 * (dcmtk, pydicom + gdcm, scikit-learn, nibabel, onnx, OpenJPEG, poppler, strace) and drives Debian's
 * Chromium; this brings whatever is missing, or stops with the one command that does.
 *
 * - Everything there: prints nothing more than one line, exits 0.
 * - Something missing and apt-get usable (root, or sudo without a password): installs it.
 * - Otherwise: one message naming the command, exit 1.
 * FOVEA_TEST_DEPS=check only checks (never installs).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { installCommand, REFERENCE_TOOLS, toolProblem } from '../helpers/reference-tools';

function missingPackages(): { packages: string[]; lines: string[] } {
  const packages = new Set<string>();
  const lines: string[] = [];
  for (const tool of REFERENCE_TOOLS) {
    const problem = toolProblem(tool.id);
    if (problem === null) continue;
    for (const p of tool.apt) packages.add(p);
    lines.push(`  ${tool.id} (${tool.purpose}): ${problem}`);
  }
  return { packages: [...packages], lines };
}

function aptRunner(): string[] | null {
  if (process.platform !== 'linux') return null;
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error) return null;
  if (process.getuid?.() === 0) return [];
  if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return null;
}

function run(prefix: string[], args: string[]): boolean {
  const [cmd, ...rest] = [...prefix, ...args];
  const r = spawnSync(cmd as string, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

const first = missingPackages();
if (first.packages.length === 0) {
  console.log(`test dependencies: all ${REFERENCE_TOOLS.length} reference tools present`);
  process.exit(0);
}
console.log(`test dependencies missing:\n${first.lines.join('\n')}`);
const runner = process.env['FOVEA_TEST_DEPS'] === 'check' ? null : aptRunner();
if (runner === null) {
  console.error(`\nThe tests compare Fovea with these tools and cannot pass without them. Install them with:\n\n  ${installCommand(first.packages)}\n`);
  process.exit(1);
}
console.log(`installing: ${first.packages.join(' ')}`);
const installed = run(runner, ['apt-get', 'update', '-qq']) && run(runner, ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...first.packages]);
if (!installed) {
  console.error(`\napt-get could not install them. Install them with:\n\n  ${installCommand(first.packages)}\n`);
  process.exit(1);
}
// Check again in a fresh process (the answers above are cached), without installing.
const again = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, FOVEA_TEST_DEPS: 'check' } });
process.exit(again.status ?? 1);
