/**
 * DICOM SEG export, checked by the reference tools: dcmdump (dcmtk) reads every file without an
 * error or warning, and pydicom decodes each frame (its own 1-bit unpacking) to exactly the
 * library's mask for the image and class the frame names. Also reads a SEG made by another
 * tool (pydicom-data's liver.dcm, written by 3D Slicer / dcmqi) and compares with pydicom.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exportDicomSeg } from '../../../../electron/core/export/dicom-seg-export';
import { decodeRle, encodeMask } from '../../../../electron/core/labels/rle';
import { parseDicomSeg } from '../../../../electron/core/labels/parse-dicom-seg';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';
import {
  addMask,
  dcmdump,
  dicomItems,
  python,
  REAL_CT_SERIES,
  REAL_SCOUT_SERIES,
  rect,
  runExport,
  SEG_CHECK,
  storedMasks,
  syntheticCtDataset,
  type ItemRow,
  type SegDump,
} from './volume-fixtures';

/** Each SEG frame's pixels equal the stored mask of (its image, its segment's class); every stored mask has one frame. */
function assertFramesEqualMasks(seg: SegDump, stored: Map<string, number[]>, sops: Set<string>): void {
  const labelOf = new Map(seg.segments.map((s) => [s.number, s.label]));
  const seen = new Set<string>();
  for (const f of seg.perFrame) {
    assert.ok(f.sop, 'every frame names its source image');
    const key = `${f.sop}/${(f.refFrame ?? 1) - 1}/${labelOf.get(f.segment)}`;
    assert.ok(!seen.has(key), `two frames for ${key}`);
    seen.add(key);
    assert.deepEqual(f.pixels, stored.get(key), `frame for ${key}`);
  }
  const expected = [...stored.keys()].filter((k) => sops.has(k.split('/')[0] as string));
  assert.deepEqual([...seen].sort(), expected.sort());
}

describe('DICOM SEG export', () => {
  it('writes one BINARY SEG per labelled series that dcmdump reads and whose frames pydicom decodes to the stored masks', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const { datasetId, manifest } = await syntheticCtDataset(core, dir);
    const patient = manifest.ct.patients.find((p) => p.lesions.length > 0);
    assert.ok(patient);
    const sops = new Set(patient.series.slices.map((s) => s.sopInstanceUid));
    const items = dicomItems(core, datasetId).filter((it) => sops.has(it.sop));
    const byInstance = (n: number): ItemRow => items.find((it) => it.instanceNumber === n) as ItemRow;
    addMask(core, datasetId, byInstance(1), 'marker', rect(0, 4, 0, 8));
    addMask(core, datasetId, byInstance(4), 'marker', rect(60, 64, 50, 64));
    addMask(core, datasetId, byInstance(2), 'model region', rect(10, 20, 30, 33), 'model');

    const out = join(dir, 'out');
    const { result, writer } = await runExport(core, datasetId, exportDicomSeg, out);
    const ordinal = 1 + manifest.ct.patients.indexOf(patient);
    const segFiles = writer.files.map((f) => f.path).filter((p) => p.endsWith('.dcm'));
    assert.deepEqual(segFiles, [`series-${ordinal}.dcm`]);
    assert.deepEqual(result.heldBack, []);

    const file = join(out, segFiles[0] as string);
    const dump = dcmdump(file);
    assert.equal(dump.status, 0);
    assert.deepEqual(dump.problems, []);
    assert.match(dump.text, /\(0062,0001\) CS \[BINARY\]/);

    const seg = python<SegDump>(SEG_CHECK, [file]);
    assert.equal(seg.sopClassUid, '1.2.840.10008.5.1.4.1.1.66.4');
    assert.equal(seg.mediaStorageSopClassUid, seg.sopClassUid);
    assert.equal(seg.mediaStorageSopInstanceUid, seg.sopInstanceUid);
    assert.equal(seg.modality, 'SEG');
    assert.equal(seg.segmentationType, 'BINARY');
    // The identified export: patient and study from the source, a new series and instance.
    assert.equal(seg.patientName, patient.patientName);
    assert.equal(seg.patientId, patient.patientId);
    assert.equal(seg.studyInstanceUid, patient.studyInstanceUid);
    assert.equal(seg.frameOfReferenceUid, patient.series.frameOfReferenceUid);
    assert.notEqual(seg.seriesInstanceUid, patient.series.seriesInstanceUid);
    assert.ok(!sops.has(seg.sopInstanceUid));
    assert.equal(seg.referencedSeries.length, 1);
    assert.equal(seg.referencedSeries[0]?.seriesInstanceUid, patient.series.seriesInstanceUid);
    assert.deepEqual(new Set(seg.referencedSeries[0]?.instances), new Set(seg.perFrame.map((f) => f.sop)));
    assert.deepEqual(
      seg.segments.map((s) => [s.number, s.label, s.algorithmType, s.algorithmName]),
      [
        [1, 'lesion', 'MANUAL', null],
        [2, 'marker', 'MANUAL', null],
        [3, 'model region', 'SEMIAUTOMATIC', 'Fovea'],
      ],
    );
    assert.deepEqual(seg.pixelShape, [seg.frames, 64, 64]);
    assert.deepEqual(seg.sharedOrientation, [1, 0, 0, 0, 1, 0]);
    // Frames in segment order, each at its source slice's position, with [segment, position index].
    const slices = new Map(patient.series.slices.map((s) => [s.sopInstanceUid, s]));
    let lastSegment = 0;
    for (const f of seg.perFrame) {
      assert.ok(f.segment >= lastSegment);
      lastSegment = f.segment;
      assert.deepEqual(f.position, slices.get(f.sop as string)?.imagePositionPatient);
      assert.equal(f.sopClass, '1.2.840.10008.5.1.4.1.1.2');
      assert.equal(f.refFrame, null);
      assert.equal(f.dimensionIndex?.[0], f.segment);
    }
    assertFramesEqualMasks(seg, storedMasks(core, datasetId), sops);
  });

  it('exports real CT series: per-frame orientation for a series of scouts in two planes', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const ds = core.datasets.create('real', '');
    await core.importFiles({ datasetId: ds.id, paths: [REAL_CT_SERIES, REAL_SCOUT_SERIES] });
    const items = dicomItems(core, ds.id);
    items.forEach((it, i) => addMask(core, ds.id, it, i % 2 ? 'organ' : 'vessel', rect(i % 5, 8 + (i % 5), 3, 12)));
    const out = join(dir, 'out');
    const { writer } = await runExport(core, ds.id, exportDicomSeg, out);
    const files = writer.files.map((f) => f.path).filter((p) => p.endsWith('.dcm'));
    assert.equal(files.length, 2);
    const stored = storedMasks(core, ds.id);
    let perFrameOrientation = 0;
    for (const f of files) {
      const dump = dcmdump(join(out, f));
      assert.equal(dump.status, 0, f);
      assert.deepEqual(dump.problems, [], f);
      const seg = python<SegDump>(SEG_CHECK, [join(out, f)]);
      const sops = new Set(seg.referencedSeries.flatMap((s) => s.instances));
      assertFramesEqualMasks(seg, stored, sops);
      if (seg.sharedOrientation === null) {
        perFrameOrientation++;
        assert.deepEqual(new Set(seg.perFrame.map((p) => p.orientation?.join(','))), new Set(['0,-1,0,0,0,-1', '1,0,0,0,0,-1']));
      }
    }
    assert.equal(perFrameOrientation, 1);
  });

  it('references frames of a multi-frame source by ReferencedFrameNumber, and reads them back onto those frames', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const source = join(SHARED_TESTDATA, 'dicom/pydicom-data/emri_small.dcm');
    const ds = core.datasets.create('mf', '');
    await core.importFiles({ datasetId: ds.id, paths: [source] });
    const [item] = dicomItems(core, ds.id);
    assert.ok(item);
    const classId = core.annotations.ensureClass(ds.id, 'spot');
    for (const [frameIndex, r0] of [[1, 0], [6, 30]] as const) {
      const m = new Uint8Array(64 * 64);
      for (const [r, c] of rect(r0, r0 + 5, 10, 20)) m[r * 64 + c] = 1;
      core.annotations.create({ datasetId: ds.id, itemId: item.id, frameIndex, classId, kind: 'mask', geometry: { rle: encodeMask(m, 64, 64) }, source: 'human', author: 't' });
    }
    const out = join(dir, 'out');
    await runExport(core, ds.id, exportDicomSeg, out);
    const file = join(out, 'series-1.dcm');
    assert.deepEqual(dcmdump(file).problems, []);
    const seg = python<SegDump>(SEG_CHECK, [file]);
    assert.deepEqual(seg.perFrame.map((f) => f.refFrame), [2, 7]);
    assert.ok(seg.perFrame.every((f) => f.position === null), 'the source has no patient geometry, so neither has the SEG');
    const stored = storedMasks(core, ds.id);
    assertFramesEqualMasks(seg, stored, new Set([item.sop]));
    const copy = core.datasets.create('copy', '');
    await core.importFiles({ datasetId: copy.id, paths: [source] });
    const r = await core.importLabels(copy.id, out, 'dicom-seg', 't');
    assert.deepEqual(r.unmatchedImages, []);
    assert.deepEqual(new Map([...storedMasks(core, copy.id)].sort()), new Map([...stored].sort()));
  });

  it('reads a SEG written by another tool (3D Slicer): frames aimed at their source images, pixels as pydicom decodes them', async () => {
    const file = join(SHARED_TESTDATA, 'dicom/pydicom-data/liver.dcm');
    const parsed = await parseDicomSeg(file);
    const ref = python<SegDump>(SEG_CHECK, [file]);
    assert.deepEqual(parsed.classes, ['Liver']);
    assert.equal(parsed.images.length, 3);
    for (const f of ref.perFrame) {
      const entry = parsed.images.find((im) => im.target?.kind === 'sop' && im.target.sopInstanceUid === f.sop);
      assert.ok(entry, `an entry for ${f.sop}`);
      assert.equal(entry.labels.length, 1);
      const g = entry.labels[0]?.geometry;
      assert.ok(g?.kind === 'mask');
      const mask = decodeRle(g.rle);
      const on: number[] = [];
      mask.forEach((v, i) => {
        if (v) on.push(i);
      });
      assert.deepEqual(on, f.pixels);
    }
  });
});
