/**
 * Round trips of the volumetric label formats: export a dataset's masks as NIfTI volumes or as
 * DICOM SEG, import them (`import-labels --format nifti|dicom-seg`) onto another dataset holding
 * the same DICOM files, and get back exactly the same masks on the same images; importing again
 * adds nothing. On Fovea's synthetic CT and on a real CT series from ../shared/testdata (the latter
 * through the `fovea` command itself).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCore } from '../../electron/core/composition-root';
import { exportDicomSeg } from '../../electron/core/export/dicom-seg-export';
import { exportNifti } from '../../electron/core/export/nifti-export';
import type { LabelFormat } from '../../electron/core/labels';
import { createMlEngine } from '../../native-models/engine';
import { REPO_ROOT } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';
import { addMask, dicomItems, rect, REAL_CT_SERIES, runExport, storedMasks, syntheticCtDataset, type ItemRow } from '../unit/core/export/volume-fixtures';

const HANDLERS = { nifti: exportNifti, 'dicom-seg': exportDicomSeg } as const;

test('synthetic CT: NIfTI and DICOM SEG exports import back as the same masks on the same slices; again adds nothing', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const { datasetId, manifest, ctDir } = await syntheticCtDataset(core, dir, 'A');
  const patient = manifest.ct.patients.find((p) => p.lesions.length > 0);
  assert.ok(patient);
  const items = dicomItems(core, datasetId).filter((it) => patient.series.slices.some((s) => s.sopInstanceUid === it.sop));
  addMask(core, datasetId, items.find((it) => it.instanceNumber === 1) as ItemRow, 'marker', rect(0, 4, 0, 8));
  addMask(core, datasetId, items.find((it) => it.instanceNumber === 3) as ItemRow, 'marker', rect(40, 64, 60, 64));
  const original = storedMasks(core, datasetId);
  assert.ok(original.size >= 6);

  for (const format of ['nifti', 'dicom-seg'] as const) {
    const out = join(dir, `out-${format}`);
    await runExport(core, datasetId, HANDLERS[format], out);
    const copy = core.datasets.create(`B ${format}`, '');
    await core.importFiles({ datasetId: copy.id, paths: [ctDir] });
    const r = await core.importLabels(copy.id, out, format, 'tester');
    assert.deepEqual(r.unmatchedImages, [], format);
    assert.deepEqual(r.ambiguousImages, [], format);
    assert.deepEqual(r.warnings, [], format);
    assert.equal(r.annotationsCreated, original.size, format);
    assert.deepEqual(new Map([...storedMasks(core, copy.id)].sort()), new Map([...original].sort()), format);
    assert.deepEqual([...r.classesCreated].sort(), ['lesion', 'marker'], format);
    const again = await core.importLabels(copy.id, out, format, 'tester');
    assert.equal(again.annotationsCreated, 0, format);
    assert.equal(again.annotationsSkipped, original.size, format);
  }

  // A SEG whose frames name no source image (allowed by the standard) is placed by each frame's
  // plane position and orientation instead: the same masks again.
  const ordinal = 1 + manifest.ct.patients.indexOf(patient);
  const dcmjs = createRequire(import.meta.url)('dcmjs') as {
    data: { DicomMessage: { readFile(b: ArrayBuffer): { dict: Record<string, { Value: Record<string, unknown>[] }>; write(): ArrayBuffer } } };
  };
  const segBytes = readFileSync(join(dir, 'out-dicom-seg', `series-${ordinal}.dcm`));
  const seg = dcmjs.data.DicomMessage.readFile(segBytes.buffer.slice(segBytes.byteOffset, segBytes.byteOffset + segBytes.byteLength));
  for (const frame of seg.dict['52009230']?.Value ?? []) delete frame['00089124'];
  const unreferenced = join(dir, 'unreferenced');
  mkdirSync(unreferenced);
  writeFileSync(join(unreferenced, 'seg.dcm'), Buffer.from(seg.write()));
  const byPlane = core.datasets.create('D', '');
  await core.importFiles({ datasetId: byPlane.id, paths: [ctDir] });
  const rp = await core.importLabels(byPlane.id, join(unreferenced, 'seg.dcm'), 'dicom-seg', 'tester');
  // Both synthetic patients share the geometry: without a source reference each frame fits
  // two series equally well, and that is reported rather than guessed.
  assert.equal(rp.annotationsCreated, 0);
  assert.ok(rp.ambiguousImages.length > 0);
  // With only the labelled patient's series in the dataset, each frame finds its slice.
  const single = core.datasets.create('E', '');
  await core.importFiles({ datasetId: single.id, paths: [join(ctDir, patient.series.dir)] });
  const rs = await core.importLabels(single.id, join(unreferenced, 'seg.dcm'), 'dicom-seg', 'tester');
  assert.deepEqual(rs.unmatchedImages, []);
  assert.deepEqual(rs.ambiguousImages, []);
  assert.deepEqual(new Map([...storedMasks(core, single.id)].sort()), new Map([...original].sort()));

  // A NIfTI file alone (no volumes.json beside it) is placed by geometry only. Both synthetic
  // patients were scanned with the same geometry, so it cannot tell them apart: reported, not guessed.
  const lone = join(dir, 'lone');
  mkdirSync(lone);
  copyFileSync(join(dir, 'out-nifti', `series-${ordinal}.nii.gz`), join(lone, 'labels.nii.gz'));
  const copy = core.datasets.create('C', '');
  await core.importFiles({ datasetId: copy.id, paths: [ctDir] });
  const r = await core.importLabels(copy.id, join(lone, 'labels.nii.gz'), 'nifti', 'tester', { classes: ['background', 'lesion', 'marker'] });
  assert.equal(r.annotationsCreated, 0);
  assert.equal(r.ambiguousImages.length, 1);
  assert.match(r.ambiguousImages[0] as string, /labels\.nii\.gz/);
});

function fovea(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a real CT series: `fovea import-labels --format nifti|dicom-seg` gives back the exported masks', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'library');
  let core = createCore({ libraryDir: lib, ml: createMlEngine() });
  let original: Map<string, number[]>;
  try {
    const ds = core.datasets.create('CT', '');
    await core.importFiles({ datasetId: ds.id, paths: [REAL_CT_SERIES] });
    const items = dicomItems(core, ds.id);
    items.forEach((it, i) => addMask(core, ds.id, it, 'organ', rect(i, 9 + i, 2, 14 - i)));
    addMask(core, ds.id, items[2] as ItemRow, 'vessel', rect(12, 16, 0, 3));
    original = storedMasks(core, ds.id);
    for (const format of ['nifti', 'dicom-seg'] as const) {
      await runExport(core, ds.id, HANDLERS[format], join(tmp.dir, format));
      const copy = core.datasets.create(`copy ${format}`, '');
      await core.importFiles({ datasetId: copy.id, paths: [REAL_CT_SERIES] });
    }
  } finally {
    core.close();
  }
  for (const format of ['nifti', 'dicom-seg'] as LabelFormat[]) {
    const r = fovea(['import-labels', join(tmp.dir, format), '--format', format, '--dataset', `copy ${format}`, '--library', lib, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { annotationsCreated: number; matchedImages: number };
    assert.equal(report.annotationsCreated, original.size, format);
  }
  core = createCore({ libraryDir: lib, ml: createMlEngine() });
  try {
    for (const format of ['nifti', 'dicom-seg']) {
      const copy = core.datasets.findByName(`copy ${format}`);
      assert.ok(copy);
      assert.deepEqual(new Map([...storedMasks(core, copy.id)].sort()), new Map([...original].sort()), format);
    }
  } finally {
    core.close();
  }
});
