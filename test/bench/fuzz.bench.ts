/**
 * DICOM mutation fuzzing for a bounded time (CI runs 200 iterations in the
 * unit tests; this runs for FOVEA_FUZZ_SECONDS, default 60): every mutated
 * real file must parse/decode or be refused with a FoveaException, each
 * within 2 s. Reports iterations and outcomes; exits non-zero on a finding.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exercise, FUZZ_FILES, isExpectedRejection, mutate, random } from '../helpers/dicom-fuzz';
import { SHARED_TESTDATA } from '../helpers/paths';
import { report } from './bench-util';

export async function runFuzzBench(seconds = Number(process.env['FOVEA_FUZZ_SECONDS'] ?? 60), seed = Date.now() % 2 ** 31): Promise<void> {
  const rnd = random(seed);
  const originals = FUZZ_FILES.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(SHARED_TESTDATA, 'dicom', f))) }));
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
