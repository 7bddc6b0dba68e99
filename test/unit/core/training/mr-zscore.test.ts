/**
 * MR z-score (TrainConfig.normalization 'zscore'): the pipeline's image of
 * real MR files has mean 0 and std 1 over the chosen region and equals a
 * numpy reference over pydicom's pixels (modality LUT applied); the
 * nonzero-mask branch on a real MR with a zeroed band; the model input
 * (letterbox at native size) carries the same values; a planned MR run
 * picks z-score and says why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeMask } from '../../../../electron/core/labels/rle';
import { decodeImage, decodeSample, loadSample, renderSample, sampleTransform, zscore, ZSCORE_ZERO_FRACTION } from '../../../../electron/core/training/sample-loader';
import type { Sample } from '../../../../electron/core/training/training-samples';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';
import { tempCore } from '../../../helpers/temp-library';

const MR_SMALL = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'MR_small.dcm');
const MR2 = join(SHARED_TESTDATA, 'dicom', 'pydicom-data', 'MR2_UNCR.dcm');

/** numpy's z-score of a file's modality values (optionally with rows zeroed first), row-major (float32 over stdout). */
function numpyZscore(file: string, zeroRows = 0): { z: Float32Array; zeros: number } {
  const script = `
import json, sys
import numpy as np, pydicom
d = pydicom.dcmread(sys.argv[1])
a = d.pixel_array.astype(np.float64) * float(getattr(d, 'RescaleSlope', 1) or 1) + float(getattr(d, 'RescaleIntercept', 0) or 0)
a[:int(sys.argv[2]), :] = 0
zeros = float((a == 0).mean())
m = a != 0 if zeros >= ${ZSCORE_ZERO_FRACTION} else np.ones(a.shape, bool)
z = np.zeros_like(a)
z[m] = (a[m] - a[m].mean()) / a[m].std()
sys.stderr.write(json.dumps(zeros))
sys.stdout.buffer.write(z.astype('<f4').tobytes())
`;
  const r = spawnSync(PYTHON, ['-c', script, file, String(zeroRows)], { maxBuffer: 256 * 2 ** 20 });
  assert.equal(r.status, 0, r.stderr.toString());
  const bytes = Uint8Array.from(r.stdout);
  return { z: new Float32Array(bytes.buffer, 0, bytes.length / 4), zeros: Number(r.stderr.toString()) };
}

function stats(values: ArrayLike<number>, keep: (i: number) => boolean = () => true): { mean: number; std: number; n: number } {
  let n = 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    if (!keep(i)) continue;
    n++;
    s += values[i] as number;
  }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < values.length; i++) if (keep(i)) ss += ((values[i] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(ss / n), n };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

async function importOne(file: string) {
  const { core, cleanup } = tempCore();
  const ds = core.datasets.create('mr', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [file] });
  assert.equal(imp.counts.imported, 1);
  const row = core.db.prepare('SELECT id, blob_sha256 AS sha, rows, columns FROM items WHERE dataset_id = ?').get(ds.id) as { id: number; sha: string; rows: number; columns: number };
  const source = { itemId: row.id, frameIndex: 0, kind: 'dicom' as const, blobSha256: row.sha, width: row.columns, height: row.rows, colour: false, patientKey: null };
  return { core, cleanup, datasetId: ds.id, source };
}

test('z-score of real MR files: mean 0 and std 1 over the whole image, equal to numpy over pydicom', async (t) => {
  requireTool('pydicom', 'numpy');
  for (const file of [MR_SMALL, MR2]) {
    const { core, cleanup, source } = await importOne(file);
    t.after(cleanup);
    const image = await decodeImage(core.blobs, source, { kind: 'zscore' }, 1);
    const ref = numpyZscore(file);
    assert.ok(ref.zeros < ZSCORE_ZERO_FRACTION, `${file}: ${ref.zeros} of the pixels are 0, the whole-image branch`);
    const s = stats(image.data);
    assert.ok(Math.abs(s.mean) < 1e-4 && Math.abs(s.std - 1) < 1e-4, `${file}: mean ${s.mean}, std ${s.std}`);
    const d = maxDiff(image.data, ref.z);
    assert.ok(d < 1e-4, `${file}: max difference to numpy ${d}`);
  }
});

test('z-score over the nonzero pixels when a quarter or more are 0 (MR_small with its top 20 rows zeroed), as numpy', async (t) => {
  requireTool('pydicom', 'numpy');
  const { core, cleanup, source } = await importOne(MR_SMALL);
  t.after(cleanup);
  // The modality values of the file (per-image min/max is affine in them), with a band zeroed: 20 of 64 rows = 31%.
  const raw = await decodeImage(core.blobs, source, { kind: 'per-image' }, 1);
  const ref = numpyZscore(MR_SMALL, 20);
  assert.ok(ref.zeros >= ZSCORE_ZERO_FRACTION);
  const values = Float32Array.from(raw.data, (v, i) => (i < 20 * 64 ? 0 : v * (2145 - 127) + 127));
  const z = zscore(values, 1);
  const s = stats(z, (i) => i >= 20 * 64);
  assert.ok(Math.abs(s.mean) < 1e-4 && Math.abs(s.std - 1) < 1e-4, `over the nonzero pixels: mean ${s.mean}, std ${s.std}`);
  assert.ok(z.subarray(0, 20 * 64).every((v) => v === 0), 'the zeros stay 0');
  assert.ok(maxDiff(z, ref.z) < 1e-4, `max difference to numpy ${maxDiff(z, ref.z)}`);
});

test('the model input keeps the z-scores (native-size letterbox), augmentation does not clamp them, and a planned MR run picks z-score', async (t) => {
  const { core, cleanup, source, datasetId } = await importOne(MR_SMALL);
  t.after(cleanup);
  const full = await decodeImage(core.blobs, source, { kind: 'zscore' }, 1);
  const sample: Sample = { ...source, target: { task: 'segmentation', shapes: [] }, annotations: [] };
  const loaded = await loadSample(core.blobs, sample, { task: 'segmentation', inputSize: 64, normalization: { kind: 'zscore' }, channels: 1 });
  assert.ok(maxDiff(loaded.x, full.data) < 1e-5, 'a 64 px image at a 64 px input is its own pixels');
  assert.ok(Math.max(...loaded.x) > 1.5 && Math.min(...loaded.x) < -0.5, 'values beyond [0, 1] survive');
  const decoded = await decodeSample(core.blobs, sample, { normalization: { kind: 'zscore' }, channels: 1 });
  assert.equal(decoded.unbounded, true);
  const bright = renderSample(decoded, sampleTransform(64, 64, 64, { flipHorizontal: false, flipVertical: false, angle: 0, scale: 1, contrast: 1.5, brightness: 0.2, shiftX: 0, shiftY: 0, saturation: 1 }));
  assert.ok(maxDiff(bright.x, Float32Array.from(full.data, (v) => v * 1.5 + 0.2)) < 1e-5, 'contrast and brightness in std units, unclamped');

  const organ = core.annotations.ensureClass(datasetId, 'organ');
  const m = new Uint8Array(64 * 64);
  for (let y = 20; y < 40; y++) for (let x = 20; x < 44; x++) m[y * 64 + x] = 1;
  core.annotations.create({ datasetId, itemId: source.itemId, classId: organ, kind: 'mask', geometry: { rle: encodeMask(m, 64, 64) }, source: 'human', author: 'test' });
  const { plan, config } = await core.training.plan(datasetId, 'segmentation');
  assert.equal(plan.data.modality, 'MR');
  assert.deepEqual(plan.normalization.value, { kind: 'zscore' });
  assert.match(plan.normalization.reason, /z-score per image/);
  assert.match(plan.normalization.reason, /whole image/);
  assert.deepEqual(config.normalization, { kind: 'zscore' });
});
