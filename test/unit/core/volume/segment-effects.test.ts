/**
 * The segment editor's effects against direct references (test/reference/segment_effects_check.py:
 * pydicom + numpy + scipy.ndimage) on a generated CT volume with anisotropic voxels
 * (0.8 x 0.8 x 2.5 mm): thresholds exact; islands = scipy's 6-connected components; margins,
 * hollow, opening and closing = Euclidean distances in mm (scipy's distance_transform_edt /
 * binary morphology with the ball); median = scipy's median_filter; logical operations; grow from
 * seeds = a per-segment Dijkstra; fill between slices = the morphological median written out
 * again; statistics of the generator's lesion spheres (voxel count exact, mL within voxelisation
 * error). Every effect is previewed (nothing saved), applied (saved rows are what is checked) and
 * undone (the rows return to the input exactly).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Core } from '../../../../electron/core/composition-root';
import type { SegmentStatistics, VolumeEditResult, VolumeEffect, VolumeInfo, VolumePreviewSummary } from '../../../../electron/contract/volume';
import { decodeRle, encodeMask } from '../../../../electron/core/labels/rle';
import { tempCore } from '../../../helpers/temp-library';
import { EFFECTS_CHECK, PYTHON, requirePython, syntheticSeries, type ImportedSeries } from './volume-fixtures';

let core: Core;
let dir: string;
let cleanup: () => void;
let s: ImportedSeries;
let info: VolumeInfo;
const cls: Record<string, number> = {};

async function ok<T>(p: Promise<{ ok: boolean }>): Promise<T> {
  const r = (await p) as { ok: true; value: T } | { ok: false; error: unknown };
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
}

before(async () => {
  const t = tempCore();
  core = t.core;
  dir = t.dir;
  cleanup = t.cleanup;
  s = await syntheticSeries(core, dir, 'ct', { slicesPerSeries: 16, size: 48, seed: 21 });
  const m = s.manifest;
  assert.ok(m?.patients[0]);
  const maskDir = join(dir, 'masks', m.patients[0].series.dir);
  mkdirSync(maskDir, { recursive: true });
  renameSync(join(dir, 'ct', m.patients[0].series.dir, 'masks'), join(maskDir, 'masks'));
  await core.importLabels(s.datasetId, join(dir, 'masks'), 'masks', 'tester', { classes: ['background', 'lesion'] });
  for (const name of ['lesion', 'bone', 'soft', 'seedA', 'seedB', 'interp']) cls[name] = core.annotations.ensureClass(s.datasetId, name);
  core.annotatorSettings.set({ annotatorName: 'Dr Effects' });
  info = await ok<VolumeInfo>(core.dispatch('volume.open', { seriesId: s.seriesId }));
});

after(() => cleanup?.());

/** A segment as stored in the library: a dense uint8 volume (slice, row, column), slices ascending along the normal. */
function stored(classId: number): Uint8Array {
  const [nx, ny, nz] = info.dims;
  const out = new Uint8Array(nx * ny * nz);
  const items = core.db.prepare('SELECT id FROM items WHERE series_id = ? ORDER BY slice_position').pluck().all(s.seriesId) as number[];
  const rows = core.db.prepare("SELECT item_id AS itemId, geometry FROM annotations WHERE class_id = ? AND status = 'active' AND kind = 'mask'").all(classId) as { itemId: number; geometry: string }[];
  for (const r of rows) {
    const k = items.indexOf(r.itemId);
    const m = decodeRle((JSON.parse(r.geometry) as { rle: { size: [number, number]; counts: number[] } }).rle);
    m.forEach((v, i) => {
      if (v) out[k * nx * ny + i] = 1;
    });
  }
  return out;
}

let fileNo = 0;
function save(a: Uint8Array): string {
  const path = join(dir, `vol-${fileNo++}.u8`);
  writeFileSync(path, a);
  return path;
}

interface Case {
  name: string;
  effect: VolumeEffect;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
}
const cases: Case[] = [];

/** Preview (nothing saved), apply, record input and output, undo (rows back exactly). */
async function runCase(name: string, effect: VolumeEffect, involved: string[]): Promise<void> {
  const inputs = Object.fromEntries(involved.map((n) => [n, stored(cls[n] as number)]));
  const preview = await ok<VolumePreviewSummary>(core.dispatch('volume.preview', { seriesId: s.seriesId, effect }));
  for (const n of involved) assert.deepEqual(stored(cls[n] as number), inputs[n], `${name}: the preview saved nothing`);
  const applied = await ok<VolumeEditResult>(core.dispatch('volume.apply', { seriesId: s.seriesId }));
  assert.deepEqual(applied.changes, preview.changes, `${name}: apply saves what the preview showed`);
  const changedClasses = effect.effect === 'grow' ? involved : [involved[0] as string];
  const outputs = Object.fromEntries(changedClasses.map((n) => [n, save(stored(cls[n] as number))]));
  cases.push({ name, effect, inputs: Object.fromEntries(Object.entries(inputs).map(([n, a]) => [n, save(a)])), outputs });
  if (applied.slicesWritten > 0) {
    await ok(core.dispatch('volume.undo', { seriesId: s.seriesId }));
    for (const n of involved) assert.deepEqual(stored(cls[n] as number), inputs[n], `${name}: undo restores the rows`);
  }
}

async function commit(effect: VolumeEffect): Promise<void> {
  await ok(core.dispatch('volume.preview', { seriesId: s.seriesId, effect }));
  await ok(core.dispatch('volume.apply', { seriesId: s.seriesId }));
}

function disc(cx: number, cy: number, r: number): { size: [number, number]; counts: number[] } {
  const [nx, ny] = info.dims;
  const m = new Uint8Array(nx * ny);
  for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * nx + x] = 1;
  return encodeMask(m, ny, nx);
}

test('every effect matches its reference', async () => {
  requirePython('pydicom, numpy, scipy.ndimage');
  // Inputs: bone and soft tissue by threshold (themselves checked as cases).
  await runCase('threshold bone', { effect: 'threshold', classId: cls['bone'] as number, range: { min: 226, max: 3071 } }, ['bone']);
  await commit({ effect: 'threshold', classId: cls['bone'] as number, range: { min: 226, max: 3071 } });
  await runCase('threshold soft', { effect: 'threshold', classId: cls['soft'] as number, range: { min: -100, max: 200 } }, ['soft']);
  await commit({ effect: 'threshold', classId: cls['soft'] as number, range: { min: -100, max: 200 } });

  await runCase('islands keep-largest', { effect: 'islands', classId: cls['bone'] as number, mode: 'keep-largest' }, ['bone']);
  await runCase('islands remove-small', { effect: 'islands', classId: cls['bone'] as number, mode: 'remove-small', minVoxels: 12 }, ['bone']);
  // Keep the island under a voxel of the bone segment: the first one in slice, row, column order.
  const bone = stored(cls['bone'] as number);
  const first = bone.indexOf(1);
  const [nx, ny] = info.dims;
  const voxel: [number, number, number] = [first % nx, Math.floor(first / nx) % ny, Math.floor(first / (nx * ny))];
  await runCase('islands keep-selected', { effect: 'islands', classId: cls['bone'] as number, mode: 'keep-selected', voxel }, ['bone']);

  await runCase('margin grow', { effect: 'margin', classId: cls['lesion'] as number, mm: 2.3 }, ['lesion']);
  await runCase('margin shrink', { effect: 'margin', classId: cls['soft'] as number, mm: -1.9 }, ['soft']);
  await runCase('hollow', { effect: 'hollow', classId: cls['soft'] as number, thicknessMm: 2.1 }, ['soft']);
  await runCase('median', { effect: 'smooth', classId: cls['soft'] as number, method: 'median', kernelMm: 5 }, ['soft']);
  await runCase('opening', { effect: 'smooth', classId: cls['bone'] as number, method: 'open', kernelMm: 3.3 }, ['bone']);
  await runCase('closing', { effect: 'smooth', classId: cls['bone'] as number, method: 'close', kernelMm: 3.3 }, ['bone']);
  for (const operation of ['copy', 'union', 'intersect', 'subtract', 'invert', 'clear'] as const) {
    await runCase(`logical ${operation}`, { effect: 'logical', classId: cls['bone'] as number, operation, modifierClassId: cls['soft'] as number }, ['bone', 'soft']);
  }

  // Seeds: a disc inside the first lesion on two slices (seedA), a ring of discs around it (seedB).
  const lesion = s.manifest?.patients[0]?.lesions[0];
  assert.ok(lesion);
  const [lx, ly, lz] = lesion.centerVoxel;
  const kz = info.views.axial.count - 1 - Math.round(lz); // axial index ascends feet to head
  for (const k of [kz, Math.max(0, kz - 1)]) {
    await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: cls['seedA'] as number, plane: 'axial', index: k, mask: disc(lx, ly, 1.5) }));
    for (const [dx, dy] of [[-1, 0], [1, 0], [0, -1], [0, 1]] as const) {
      const r = lesion.radiusVoxels[0] + 4;
      await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: cls['seedB'] as number, plane: 'axial', index: k, mask: disc(lx + dx * r, ly + dy * r, 1.5) }));
    }
  }
  await runCase('grow from seeds', { effect: 'grow', classIds: [cls['seedA'] as number, cls['seedB'] as number] }, ['seedA', 'seedB']);

  // Fill between slices: concentric discs of radius 5 and 11 pixels, five empty slices apart.
  await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: cls['interp'] as number, plane: 'axial', index: 3, mask: disc(24, 24, 5) }));
  await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: cls['interp'] as number, plane: 'axial', index: 9, mask: disc(24, 24, 11) }));
  await runCase('fill between', { effect: 'fill-between', classId: cls['interp'] as number }, ['interp']);

  const stats = await ok<SegmentStatistics[]>(core.dispatch('volume.stats', { seriesId: s.seriesId }));
  const input = join(dir, 'effects.json');
  writeFileSync(
    input,
    JSON.stringify({
      files: s.files,
      dims: info.dims,
      spacing: info.spacing,
      cases,
      stats: stats.map((x) => ({ ...x, mask: save(stored(x.classId)) })),
      lesions: s.manifest?.patients[0]?.lesions ?? [],
      lesionClass: cls['lesion'],
    }),
  );
  const r = spawnSync(PYTHON, [EFFECTS_CHECK, input], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { failures: string[]; checked: string[]; notes: string[] };
  assert.deepEqual(result.failures, []);
  assert.equal(result.checked.length, cases.length + 1);
  for (const n of result.notes) process.stdout.write(`# ${n}\n`);
});

test('effects refuse what they cannot do, with the reason', async () => {
  const empty = core.annotations.ensureClass(s.datasetId, 'empty');
  const r1 = await core.dispatch('volume.preview', { seriesId: s.seriesId, effect: { effect: 'margin', classId: empty, mm: 2 } });
  assert.ok(!r1.ok && r1.error.code === 'VALIDATION' && /has no voxels yet/.test(r1.error.message), JSON.stringify(r1));
  const r2 = await core.dispatch('volume.preview', { seriesId: s.seriesId, effect: { effect: 'grow', classIds: [cls['bone'] as number] } });
  assert.ok(!r2.ok && r2.error.code === 'VALIDATION', JSON.stringify(r2));
  const r3 = await core.dispatch('volume.apply', { seriesId: s.seriesId });
  assert.ok(!r3.ok && r3.error.code === 'CONFLICT' && /no preview/.test(r3.error.message), JSON.stringify(r3));
  const r4 = await core.dispatch('volume.preview', { seriesId: s.seriesId, effect: { effect: 'logical', classId: cls['bone'] as number, operation: 'union' } });
  assert.ok(!r4.ok && r4.error.code === 'VALIDATION' && /second segment/.test(r4.error.message), JSON.stringify(r4));
  // A cancelled preview is gone.
  await ok(core.dispatch('volume.preview', { seriesId: s.seriesId, effect: { effect: 'threshold', classId: empty, range: { min: 0, max: 100 } } }));
  assert.deepEqual(await ok(core.dispatch('volume.cancel', { seriesId: s.seriesId })), { cancelled: true });
  const r5 = await core.dispatch('volume.apply', { seriesId: s.seriesId });
  assert.ok(!r5.ok && r5.error.code === 'CONFLICT');
});
