/**
 * Shared pieces of the NIfTI / DICOM SEG export tests: a library holding Fovea's synthetic CT
 * series (imported as a user would, lesion masks through `import-labels --format masks`), a
 * real CT series from ../shared/testdata read in place, masks added as an annotator would, the
 * library's masks per (instance, frame, class), and the reference tools (pydicom, nibabel,
 * dcmdump) run as child processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Core } from '../../../../electron/core/composition-root';
import type { ExportFormatHandler, ExportFormatResult } from '../../../../electron/core/export/export-types';
import { ExportWriter } from '../../../../electron/core/export/safe-output';
import { decodeRle, encodeMask } from '../../../../electron/core/labels/rle';
import { writeSampleData, type SampleDataManifest } from '../../../../electron/core/samples';
import { REPO_ROOT, SHARED_TESTDATA } from '../../../helpers/paths';

export const PYTHON = '/usr/bin/python3';
export const SEG_CHECK = join(REPO_ROOT, 'test', 'reference', 'seg_check.py');
export const NIFTI_CHECK = join(REPO_ROOT, 'test', 'reference', 'nifti_check.py');
/** A real axial CT series: 5 slices of 16x16, instance numbers 6..10 going down 2.5 mm each. */
export const REAL_CT_SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/98892001/CT5N');
/** Two real CT scout images in one series, one sagittal and one coronal. */
export const REAL_SCOUT_SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/98892001/CT2N');
/** A real CT series whose 4 slices are not evenly spaced (one far from the other three). */
export const REAL_GAPPED_SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/77654033/CT2');

/** Writes the tiny synthetic CT set under dir and imports it (images, then masks) into a new dataset. */
export async function syntheticCtDataset(core: Core, dir: string, name = 'CT'): Promise<{ datasetId: number; manifest: SampleDataManifest; ctDir: string }> {
  const manifest = await writeSampleData(join(dir, 'samples'), { size: 'tiny' });
  const ctDir = join(dir, 'samples', 'ct');
  // Masks out of the image folder (as the sample library does), keeping their layout.
  for (const p of manifest.ct.patients) {
    const to = join(dir, 'masks', p.series.dir);
    mkdirSync(to, { recursive: true });
    renameSync(join(ctDir, p.series.dir, 'masks'), join(to, 'masks'));
  }
  const ds = core.datasets.create(name, '');
  await core.importFiles({ datasetId: ds.id, paths: [ctDir] });
  await core.importLabels(ds.id, join(dir, 'masks'), 'masks', 'tester', { classes: ['background', 'lesion'] });
  return { datasetId: ds.id, manifest, ctDir };
}

export interface ItemRow {
  id: number;
  sop: string;
  rows: number;
  columns: number;
  instanceNumber: number | null;
  sourceName: string;
  seriesId: number;
}

export function dicomItems(core: Core, datasetId: number): ItemRow[] {
  return core.db
    .prepare(
      `SELECT id, sop_instance_uid AS sop, rows, columns, instance_number AS instanceNumber, source_name AS sourceName, series_id AS seriesId
       FROM items WHERE dataset_id = ? AND kind = 'dicom' ORDER BY series_id, instance_number, id`,
    )
    .all(datasetId) as ItemRow[];
}

/** Adds a mask annotation covering the given [row, col] pixels. */
export function addMask(core: Core, datasetId: number, item: ItemRow, className: string, pixels: [number, number][], source: 'human' | 'model' = 'human'): number {
  const m = new Uint8Array(item.rows * item.columns);
  for (const [r, c] of pixels) m[r * item.columns + c] = 1;
  const classId = core.annotations.ensureClass(datasetId, className);
  return core.annotations.create({ datasetId, itemId: item.id, classId, kind: 'mask', geometry: { rle: encodeMask(m, item.rows, item.columns) }, source, author: 'tester' });
}

/** Pixels of a rectangle: rows r0..r1-1, columns c0..c1-1. */
export function rect(r0: number, r1: number, c0: number, c1: number): [number, number][] {
  const out: [number, number][] = [];
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out.push([r, c]);
  return out;
}

/** The dataset's active masks, unioned per (SOP Instance UID, frame, class): key -> sorted row-major pixel indices. */
export function storedMasks(core: Core, datasetId: number): Map<string, number[]> {
  const rows = core.db
    .prepare(
      `SELECT i.sop_instance_uid AS sop, coalesce(a.frame_index, 0) AS frame, c.name, a.geometry
       FROM annotations a JOIN items i ON i.id = a.item_id JOIN label_classes c ON c.id = a.class_id
       WHERE a.dataset_id = ? AND a.kind = 'mask' AND a.status = 'active'`,
    )
    .all(datasetId) as { sop: string; frame: number; name: string; geometry: string }[];
  const sets = new Map<string, Set<number>>();
  for (const r of rows) {
    const key = `${r.sop}/${r.frame}/${r.name}`;
    const set = sets.get(key) ?? new Set<number>();
    const mask = decodeRle((JSON.parse(r.geometry) as { rle: { size: [number, number]; counts: number[] } }).rle);
    mask.forEach((v, i) => {
      if (v) set.add(i);
    });
    sets.set(key, set);
  }
  return new Map([...sets].filter(([, s]) => s.size > 0).map(([k, s]) => [k, [...s].sort((a, b) => a - b)]));
}

export async function runExport(core: Core, datasetId: number, handler: ExportFormatHandler, outDir: string, split?: 'train' | 'val' | 'test'): Promise<{ result: ExportFormatResult; writer: ExportWriter }> {
  const writer = await ExportWriter.open(outDir);
  const result = await handler({
    sources: { db: core.db, blobs: core.blobs, annotations: core.annotations, datasets: core.datasets },
    datasetId,
    writer,
    options: {},
    ...(split ? { split } : {}),
  });
  await writer.finish({ format: result.format });
  return { result, writer };
}

export function python<T>(script: string, args: string[], input?: unknown): T {
  const out = execFileSync(PYTHON, [script, ...args], { encoding: 'utf8', input: input === undefined ? undefined : JSON.stringify(input), maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(out) as T;
}

/** dcmdump's verdict on a file: exit status and any error or warning lines. */
export function dcmdump(file: string): { status: number | null; problems: string[]; text: string } {
  const r = spawnSync('dcmdump', ['-q', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^(E|W|F):/.test(l.trim()));
  return { status: r.status, problems, text: r.stdout };
}

export interface SegDump {
  sopClassUid: string;
  sopInstanceUid: string;
  mediaStorageSopInstanceUid: string;
  mediaStorageSopClassUid: string;
  transferSyntaxUid: string;
  modality: string;
  segmentationType: string;
  patientName: string | null;
  patientId: string | null;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string | null;
  rows: number;
  columns: number;
  frames: number;
  pixelShape: number[];
  referencedSeries: { seriesInstanceUid: string; instances: string[] }[];
  segments: { number: number; label: string; algorithmType: string; algorithmName: string | null }[];
  sharedOrientation: number[] | null;
  perFrame: { segment: number; sop: string | null; sopClass: string | null; refFrame: number | null; position: number[] | null; orientation: number[] | null; dimensionIndex: number[] | null; pixels: number[] }[];
}

export interface NiftiDump {
  shape: number[];
  dtype: string;
  qformCode: number;
  sformCode: number;
  affine: number[][];
  qform: number[][];
  sform: number[][];
  zooms: number[];
  axcodes: string[];
  intentCode: number;
  counts: Record<string, number>;
  answers: { ras: number[]; voxel: number[]; distanceMm: number; value: number | null }[];
}
