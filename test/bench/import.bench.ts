/**
 * Import throughput on a 1,000-file DICOM set made from the shared files
 * (test/helpers/dicom-set.ts: uncompressed, RLE, JPEG-LS, JPEG 2000,
 * deflated, big endian, multi-frame), against pydicom (+ gdcm for the
 * compressed syntaxes) reading and decoding the same files, in the same run:
 * interleaved, repeated FOVEA_BENCH_ROUNDS times (default 3), in a rotating
 * order; medians and ranges are reported.
 *
 * What each side does: pydicom `dcmread` + `pixel_array` (every frame) of
 * each file, timed inside the script (interpreter start and imports not
 * counted). Fovea: the shipped CLI (`npm run build`'s esbuild bundles, made
 * fresh here, so the workers are the bundled fovea-import-worker.mjs as in
 * the app, not sources compiled by tsx) running `fovea import --json` into a
 * fresh library; its own summary's `seconds` is the time (from the start of
 * the import: worker start-up counted, process start not). Fovea also hashes
 * each file, decodes every frame, makes and encodes a thumbnail, writes and
 * fsyncs two blobs per file and commits the rows. It runs with all cores'
 * workers and with one worker.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle } from '../helpers/build-bundle';
import { makeDicomSet } from '../helpers/dicom-set';
import { REFERENCE_PYTHON } from '../helpers/reference-tools';
import { tempDir } from '../helpers/temp-library';
import { report, summarize } from './bench-util';

interface Sample {
  pydicom: number;
  all: number;
  one: number;
}

const median = (values: number[]): number => summarize(values).p50;

function spread(values: number[]): string {
  return `median of ${values.length}, range ${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
}

export async function runImportBench(files = Number(process.env['FOVEA_BENCH_FILES'] ?? 1000), rounds = Number(process.env['FOVEA_BENCH_ROUNDS'] ?? 3)): Promise<void> {
  const tmp = tempDir('fovea-bench-');
  // The bundle is built in its own temporary folder; removed with the rest.
  const bundle = buildBundle({ renderer: false });
  const cleanupBundle = bundle.cleanup;
  try {
    const set = makeDicomSet(join(tmp.dir, 'set'), files);
    const list = join(tmp.dir, 'files.txt');
    writeFileSync(list, set.paths.join('\n'));
    const cores = availableParallelism();
    let libraries = 0;

    const fovea = (workers: number): number => {
      const library = join(tmp.dir, `lib-${libraries++}`);
      const cli = join(bundle.cli, 'fovea.mjs');
      const r = spawnSync(process.execPath, [cli, 'import', join(tmp.dir, 'set'), '--dataset', 'bench', '--library', library, '--workers', String(workers), '--json'], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (r.status !== 0) throw new Error(`fovea import failed (${r.status}): ${r.stderr}`);
      const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { imported: number; seconds: number };
      if (summary.imported !== files) throw new Error(`expected ${files} imported, got ${r.stdout.trim().split('\n').pop() ?? ''}`);
      return files / summary.seconds;
    };
    const pydicom = (): number => {
      const out = execFileSync(REFERENCE_PYTHON, [join(import.meta.dirname, 'pydicom_read.py'), list], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const r = JSON.parse(out) as { files: number; seconds: number };
      return r.files / r.seconds;
    };

    const samples: Sample[] = [];
    const load: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const sample: Partial<Sample> = {};
      // A rotating order, so that neither side always runs first (a warm page cache, another job's load).
      const steps: [keyof Sample, () => number][] = [
        ['pydicom', pydicom],
        ['all', () => fovea(cores)],
        ['one', () => fovea(1)],
      ];
      for (let k = 0; k < steps.length; k++) {
        const [name, run] = steps[(k + round) % steps.length] as [keyof Sample, () => number];
        load.push(loadavg()[0] ?? 0);
        sample[name] = run();
      }
      samples.push(sample as Sample);
      process.stdout.write(
        `import     round ${round + 1}/${rounds}: pydicom ${sample.pydicom?.toFixed(0)} files/s, Fovea ${cores} workers ${sample.all?.toFixed(0)}, 1 worker ${sample.one?.toFixed(0)}\n`,
      );
    }
    const ratioAll = samples.map((s) => s.all / s.pydicom);
    const ratioOne = samples.map((s) => s.one / s.pydicom);
    const scaling = samples.map((s) => s.all / s.one);
    const note = `${files} files, ${(set.bytes / 1e6).toFixed(0)} MB; load average during the runs ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)} on ${cores} cores`;
    report({ bench: 'import', metric: 'pydicom dcmread + pixel_array', value: median(samples.map((s) => s.pydicom)), unit: 'files/s', note: spread(samples.map((s) => s.pydicom)) });
    report({ bench: 'import', metric: `Fovea import, ${cores} workers`, value: median(samples.map((s) => s.all)), unit: 'files/s', note: spread(samples.map((s) => s.all)) });
    report({ bench: 'import', metric: 'Fovea import, 1 worker', value: median(samples.map((s) => s.one)), unit: 'files/s', note: spread(samples.map((s) => s.one)) });
    report({ bench: 'import', metric: `ratio Fovea (${cores} workers) / pydicom`, value: median(ratioAll), unit: 'x', goal: '>= 1.5', note: `${spread(ratioAll)}; ${note}` });
    report({ bench: 'import', metric: 'ratio Fovea (1 worker) / pydicom', value: median(ratioOne), unit: 'x', note: spread(ratioOne) });
    report({ bench: 'import', metric: `ratio ${cores} workers / 1 worker`, value: median(scaling), unit: 'x', note: spread(scaling) });
  } finally {
    cleanupBundle();
    tmp.cleanup();
  }
}
