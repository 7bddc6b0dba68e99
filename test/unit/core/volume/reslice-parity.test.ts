/**
 * MPR planes against pydicom + numpy (test/reference/reslice_check.py): generated CT that is
 * regular, unevenly spaced and gantry-tilted, and a real CT series. Identical stored values where
 * a plane lies on the acquired voxels, the documented trilinear interpolation elsewhere, and the
 * geometry in the JSON (first pixel position, orientation, spacing) is what the check trusts to
 * place each pixel in the patient. One plane goes through the real `fovea reslice` process.
 * Series that are not one volume are refused with their reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Core } from '../../../../electron/core/composition-root';
import type { VolumeInfo, VolumePlane, VolumePlaneImage } from '../../../../electron/contract/volume';
import { seriesDicomItems } from '../../../../electron/core/export/volume-geometry';
import { SegmentationStore } from '../../../../electron/core/store/segmentation-store';
import { VolumeService } from '../../../../electron/core/volume/volume-service';
import { REPO_ROOT } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';
import { filesOf, importSeries, PYTHON, REAL_CT_SERIES, REAL_GAPPED_SERIES, REAL_RADIAL_SERIES, requirePython, RESLICE_CHECK, syntheticSeries, type ImportedSeries } from './volume-fixtures';

let core: Core;
let dir: string;
let cleanup: () => void;
const series: Record<string, ImportedSeries> = {};

before(async () => {
  const t = tempCore();
  core = t.core;
  dir = t.dir;
  cleanup = t.cleanup;
  const base = { slicesPerSeries: 14, size: 40, seed: 11, noiseHu: 10 };
  series['regular'] = await syntheticSeries(core, dir, 'regular', base);
  // A missing slice (5 mm gap) and a 1.25 mm step: uneven.
  series['uneven'] = await syntheticSeries(core, dir, 'uneven', { ...base, slicesPerSeries: 8, slicePositionsMm: [10, 7.5, 5, 0, -2.5, -3.75, -6.25, -8.75] });
  series['tilted'] = await syntheticSeries(core, dir, 'tilted', { ...base, gantryTiltDeg: 12 });
  series['real'] = await importSeries(core, 'real CT', filesOf(REAL_CT_SERIES));
});

after(() => cleanup?.());

async function open(seriesId: number): Promise<VolumeInfo> {
  const r = await core.dispatch('volume.open', { seriesId });
  assert.ok(r.ok, JSON.stringify(r));
  return r.value as VolumeInfo;
}

function writePlane(p: VolumePlaneImage, info: VolumeInfo, path: string): Record<string, unknown> {
  const bytes = Buffer.alloc(p.data.length * p.data.BYTES_PER_ELEMENT);
  p.data.forEach((v, i) => (p.data instanceof Int16Array ? bytes.writeInt16LE(v, i * 2) : bytes.writeFloatLE(v, i * 4)));
  writeFileSync(path, bytes);
  return { plane: p.plane, index: p.index, dtype: p.dtype, rows: p.height, columns: p.width, pixelSpacing: p.pixelSpacing, imageOrientationPatient: p.imageOrientationPatient, imagePositionPatient: p.imagePositionPatient, exact: p.exact, values: info.values, rescaleSlope: p.slope, rescaleIntercept: p.intercept };
}

test('planes of regular, uneven, tilted and real series match pydicom + numpy', async () => {
  requirePython('pydicom, numpy');
  const input: { series: { name: string; files: string[]; planes: { json: unknown; bin: string }[] }[] } = { series: [] };
  const flags: Record<string, { exact: number; interpolated: number; resampled: boolean }> = {};
  for (const [name, s] of Object.entries(series)) {
    const info = await open(s.seriesId);
    const planes: { json: unknown; bin: string }[] = [];
    flags[name] = { exact: 0, interpolated: 0, resampled: info.resampled !== null };
    for (const plane of ['axial', 'coronal', 'sagittal'] as VolumePlane[]) {
      const count = info.views[plane].count;
      for (const index of [...new Set([0, 1, count >> 1, count - 1])]) {
        const r = await core.dispatch('volume.plane', { seriesId: s.seriesId, plane, index });
        assert.ok(r.ok, JSON.stringify(r));
        const p = r.value as VolumePlaneImage;
        assert.equal(p.data.length, p.width * p.height);
        const bin = join(dir, `${name}-${plane}-${index}.bin`);
        planes.push({ json: writePlane(p, info, bin), bin });
        if (p.exact) flags[name].exact++;
        else flags[name].interpolated++;
      }
    }
    input.series.push({ name, files: s.files, planes });
  }
  // One plane through the real CLI process: its file and JSON go to the same check.
  const cliBin = join(dir, 'cli-tilted-coronal.bin');
  const firstItem = core.db.prepare('SELECT min(id) FROM items WHERE series_id = ?').pluck().get(series['tilted']?.seriesId) as number;
  core.volumes.close(series['tilted']?.seriesId ?? 0);
  const cli = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'reslice', '--item', String(firstItem), '--plane', 'coronal', '--index', '17', '--out', cliBin, '--json', '--library', join(dir, 'library')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(cli.status, 0, cli.stderr);
  const cliJson = JSON.parse(cli.stdout) as { dtype: string; exact: boolean; resampled: { reason: string } | null; values: string };
  assert.equal(cliJson.dtype, 'float32');
  assert.equal(cliJson.exact, false);
  assert.match(cliJson.resampled?.reason ?? '', /gantry tilt of 12\.00°/);
  input.series.find((s) => s.name === 'tilted')?.planes.push({ json: cliJson, bin: cliBin });

  const inputPath = join(dir, 'reslice-input.json');
  writeFileSync(inputPath, JSON.stringify(input));
  const r = spawnSync(PYTHON, [RESLICE_CHECK, inputPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { failures: string[]; planes: number; exactPlanes: number; maxAbsDiff: number };
  assert.deepEqual(result.failures, []);
  assert.equal(result.planes, Object.values(input.series).reduce((n, s) => n + s.planes.length, 0));
  // Regular and real series: every plane is the acquired voxels; uneven axial planes on acquired slices too.
  assert.deepEqual(flags['regular'], { exact: flags['regular']?.exact, interpolated: 0, resampled: false });
  assert.equal(flags['real']?.interpolated, 0);
  assert.equal(flags['uneven']?.resampled, true);
  assert.ok((flags['uneven']?.exact ?? 0) > 0 && (flags['uneven']?.interpolated ?? 0) > 0, JSON.stringify(flags['uneven']));
  assert.equal(flags['tilted']?.resampled, true);
  assert.ok((flags['tilted']?.interpolated ?? 0) > 0);
  process.stdout.write(`# reslice parity: ${result.planes} planes (${result.exactPlanes} exact), max |diff| ${result.maxAbsDiff}\n`);
});

test('views are labelled from the direction cosines and show square pixels in mm', async () => {
  const info = await open(series['regular']?.seriesId ?? 0);
  assert.deepEqual(info.views.axial.labels, { left: 'R', right: 'L', top: 'A', bottom: 'P' });
  assert.deepEqual(info.views.coronal.labels, { left: 'R', right: 'L', top: 'S', bottom: 'I' });
  assert.deepEqual(info.views.sagittal.labels, { left: 'A', right: 'P', top: 'S', bottom: 'I' });
  // Coronal: rows are slices (2.5 mm), columns 0.8 mm; the picture's aspect follows the spacing.
  assert.deepEqual(info.views.coronal.pixelSpacing, [2.5, 0.8]);
  assert.equal(info.views.coronal.height, 14);
  const tilted = await open(series['tilted']?.seriesId ?? 0);
  assert.match(tilted.warnings.join(' '), /gantry tilt of 12\.00°.*resampled/);
  // The resampled grid is orthogonal: its slice step is the perpendicular gap, 2.5 * cos(12°).
  assert.ok(Math.abs(tilted.spacing[2] - 2.5 * Math.cos((12 * Math.PI) / 180)) < 1e-3, String(tilted.spacing[2]));
});

test('series that are not one volume are refused with the reason', async () => {
  const gapped = await importSeries(core, 'gapped', filesOf(REAL_GAPPED_SERIES));
  const r1 = await core.dispatch('volume.open', { seriesId: gapped.seriesId });
  assert.equal(r1.ok, false);
  assert.ok(!r1.ok && r1.error.code === 'UNSUPPORTED' && /gap of 202\.50 mm/.test(r1.error.message), JSON.stringify(r1));
  const radial = await importSeries(core, 'radial', filesOf(REAL_RADIAL_SERIES));
  const r2 = await core.dispatch('volume.open', { seriesId: radial.seriesId });
  assert.ok(!r2.ok && r2.error.code === 'UNSUPPORTED' && /do not share one plane/.test(r2.error.message), JSON.stringify(r2));
  const r3 = await core.dispatch('volume.plane', { seriesId: series['real']?.seriesId ?? 0, plane: 'axial', index: 99 });
  assert.ok(!r3.ok && r3.error.code === 'NOT_FOUND', JSON.stringify(r3));
});

test('the CLI JSON and the .bin agree with volume.plane for an exact plane', async () => {
  const s = series['real'] as ImportedSeries;
  const item = core.db.prepare('SELECT min(id) FROM items WHERE series_id = ?').pluck().get(s.seriesId) as number;
  const out = join(dir, 'real-sag.bin');
  const cli = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'reslice', '--item', String(item), '--plane', 'sagittal', '--index', '7', '--out', out, '--json', '--library', join(dir, 'library')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(cli.status, 0, cli.stderr);
  const json = JSON.parse(cli.stdout) as { dtype: string; rows: number; columns: number; exact: boolean; orientationLabels: unknown };
  assert.equal(json.dtype, 'int16');
  assert.equal(json.exact, true);
  assert.deepEqual(json.orientationLabels, { left: 'A', right: 'P', top: 'S', bottom: 'I' });
  const r = await core.dispatch('volume.plane', { seriesId: s.seriesId, plane: 'sagittal', index: 7 });
  assert.ok(r.ok);
  const p = r.value as VolumePlaneImage;
  const bytes = readFileSync(out);
  assert.equal(bytes.length, p.width * p.height * 2);
  for (let i = 0; i < p.data.length; i++) assert.equal(bytes.readInt16LE(i * 2), p.data[i]);
});

test('volumes stay within their memory budget: the least recently used one is released, a series larger than the budget is refused', async () => {
  const regular = series['regular'] as ImportedSeries;
  const uneven = series['uneven'] as ImportedSeries;
  const one = 40 * 40 * 14 * 2; // the regular series' int16 voxels
  const volumes = new VolumeService({
    blobs: core.blobs,
    store: new SegmentationStore(core.db, core.annotations, core.audit),
    seriesItems: (id) => seriesDicomItems(core.db, id),
    annotator: () => 'tester',
    onLabelsChanged: () => undefined,
    onProgress: () => undefined,
    maxBytes: one + 1000,
  });
  try {
    const a = await volumes.open(regular.seriesId);
    assert.equal(a.bytes, one);
    assert.ok(volumes.bytes() <= one + 1000);
    await volumes.open(uneven.seriesId); // 40 * 40 * 8 * 2 bytes: the regular one has to go
    assert.ok(volumes.bytes() <= one + 1000, String(volumes.bytes()));
    assert.equal(volumes.bytes(), 40 * 40 * 8 * 2);
    const small = new VolumeService({
      blobs: core.blobs,
      store: new SegmentationStore(core.db, core.annotations, core.audit),
      seriesItems: (id) => seriesDicomItems(core.db, id),
      annotator: () => 'tester',
      onLabelsChanged: () => undefined,
      onProgress: () => undefined,
      maxBytes: 10_000,
    });
    await assert.rejects(small.open(regular.seriesId), { code: 'TOO_LARGE', message: /needs 0\.04 MiB as a volume \(40x40x14 voxels\), more than the 0\.01 MiB/ });
  } finally {
    volumes.dispose();
  }
});
