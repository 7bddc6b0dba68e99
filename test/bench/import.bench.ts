/**
 * Import throughput on a 1,000-file DICOM set made from the shared files,
 * against pydicom reading the same files in the same run (headers only, and
 * headers plus decoded pixels, which is the fair comparison: Fovea decodes
 * every frame at import, hashes, thumbnails and commits durably).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCore } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';
import { makeDicomSet } from '../helpers/dicom-set';
import { tempDir } from '../helpers/temp-library';
import { report } from './bench-util';

export async function runImportBench(files = Number(process.env['FOVEA_BENCH_FILES'] ?? 1000)): Promise<void> {
  const tmp = tempDir('fovea-bench-');
  try {
    const set = makeDicomSet(join(tmp.dir, 'set'), files);
    const list = join(tmp.dir, 'files.txt');
    writeFileSync(list, set.paths.join('\n'));

    const core = createCore({ libraryDir: join(tmp.dir, 'lib'), ml: createMlEngine() });
    const ds = core.datasets.create('bench', '');
    const t0 = performance.now();
    const r = await core.importFiles({ datasetId: ds.id, paths: [join(tmp.dir, 'set')] });
    const secs = (performance.now() - t0) / 1000;
    core.close();
    if (r.counts.imported !== files) throw new Error(`expected ${files} imported, got ${JSON.stringify(r.counts)}`);
    const fps = files / secs;
    report({ bench: 'import', metric: `Fovea import, ${files} DICOM files (${(set.bytes / 1e6).toFixed(0)} MB)`, value: fps, unit: 'files/s' });
    report({ bench: 'import', metric: 'Fovea import throughput', value: set.bytes / 1e6 / secs, unit: 'MB/s' });

    let py: { headersSeconds: number; pixelsSeconds: number };
    try {
      py = JSON.parse(execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'pydicom_read.py'), list], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as typeof py;
    } catch (e) {
      process.stdout.write(`import     pydicom reference unavailable: ${(e as Error).message.split('\n')[0]}\n`);
      return;
    }
    const pyPixels = files / (py.headersSeconds + py.pixelsSeconds);
    const pyHeaders = files / py.headersSeconds;
    report({ bench: 'import', metric: 'pydicom dcmread + pixel_array (same files)', value: pyPixels, unit: 'files/s' });
    report({ bench: 'import', metric: 'pydicom dcmread headers only (same files)', value: pyHeaders, unit: 'files/s' });
    report({ bench: 'import', metric: 'ratio Fovea import / pydicom read+decode', value: fps / pyPixels, unit: 'x', goal: '> 1 (faster)' });
    report({ bench: 'import', metric: 'ratio Fovea import / pydicom headers only', value: fps / pyHeaders, unit: 'x' });
  } finally {
    tmp.cleanup();
  }
}
