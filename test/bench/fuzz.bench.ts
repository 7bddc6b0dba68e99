/**
 * DICOM mutation fuzzing for a bounded time (CI runs 300 iterations in the
 * unit tests; this runs for FOVEA_FUZZ_SECONDS, default 60): every mutated
 * real file (and every generated file of the issue-17 classes) must
 * parse/decode or be refused with a FoveaException, each
 * within 2 s. Reports iterations and outcomes; exits non-zero on a finding.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exercise, generatedFuzzFiles, isExpectedRejection, mutate, random, sharedFuzzFiles } from '../helpers/dicom-fuzz';
import { report } from './bench-util';

export async function runFuzzBench(seconds = Number(process.env['FOVEA_FUZZ_SECONDS'] ?? 60), seed = Date.now() % 2 ** 31): Promise<void> {
  const rnd = random(seed);
  const dir = mkdtempSync(join(tmpdir(), 'fovea-fuzz-bench-'));
  const originals = [...sharedFuzzFiles(), ...(await generatedFuzzFiles(dir))];
  rmSync(dir, { recursive: true, force: true });
  // Codec loading and JIT warm-up are one-offs per process, not a property of a file: do them untimed.
  for (const o of originals) await exercise(o.bytes).catch(() => undefined);
  const end = performance.now() + seconds * 1000;
  let iterations = 0;
  let ok = 0;
  let rejected = 0;
  let slowest = 0;
  const findings: string[] = [];
  while (performance.now() < end) {
    const source = originals[iterations % originals.length];
    if (!source) break;
    const bytes = mutate(source.bytes, rnd);
    const t0 = performance.now();
    try {
      await exercise(bytes);
      ok++;
    } catch (e) {
      if (isExpectedRejection(e)) rejected++;
      else findings.push(`seed ${seed} iteration ${iterations} (${source.name}): ${(e as Error)?.stack ?? String(e)}`);
    }
    const took = performance.now() - t0;
    slowest = Math.max(slowest, took);
    if (took > 2000) findings.push(`seed ${seed} iteration ${iterations} (${source.name}) took ${took.toFixed(0)} ms`);
    iterations++;
  }
  report({ bench: 'fuzz', metric: `mutated DICOM files in ${seconds} s (seed ${seed})`, value: iterations, unit: 'files', note: `${ok} decoded, ${rejected} refused` });
  report({ bench: 'fuzz', metric: 'slowest file', value: slowest, unit: 'ms', goal: '< 2000 ms' });
  report({ bench: 'fuzz', metric: 'findings (crash, non-Fovea error or hang)', value: findings.length, unit: '', goal: '0' });
  for (const f of findings.slice(0, 10)) process.stdout.write(`fuzz       FINDING ${f}\n`);
  if (findings.length) process.exitCode = 1;
}
