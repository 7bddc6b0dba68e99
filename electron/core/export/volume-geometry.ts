/**
 * Where the frames of a DICOM series lie in the patient, for the volumetric label formats
 * (NIfTI and DICOM SEG export, and reading them back onto the library's images).
 *
 * The library's tables keep only what browsing needs (rows, columns, pixel spacing, a scalar
 * slice position), so the full plane geometry is read again from each stored DICOM file:
 * ImagePositionPatient (IPP), ImageOrientationPatient (IOP) and PixelSpacing, at the top level
 * or, for enhanced multi-frame objects, per frame in the functional groups (per-frame first,
 * then shared, then the top level).
 *
 * Conventions (DICOM PS3.3 C.7.6.2.1.1): IOP holds the direction of a row (the way the column
 * index grows) then the direction of a column (the way the row index grows), in the patient's
 * LPS frame (x to the patient's left, y to posterior, z to head). PixelSpacing is
 * [between rows, between columns]. The centre of pixel (column c, row r) lies at
 *   IPP + c * PixelSpacing[1] * IOP[0..2] + r * PixelSpacing[0] * IOP[3..5].
 * NIfTI's world frame is RAS: the same point with x and y negated.
 */
import { FoveaException } from '../../contract/result';
import { parseDicom, type DicomView } from '../dicom';
import type { BlobStore } from '../store/blob-store';
import type { Db } from '../store/library-db';
import { listSeriesDicomItems } from '../store/series-repo';

export type Vec3 = [number, number, number];
/** 4x4 row-major matrix. */
export type Mat4 = [[number, number, number, number], [number, number, number, number], [number, number, number, number], [number, number, number, number]];

/** One frame of a stored DICOM instance and where it lies. */
export interface FrameGeometry {
  itemId: number;
  /** 0-based frame within the instance (0 for single-frame instances). */
  frameIndex: number;
  /** Frames in the instance. */
  frames: number;
  rows: number;
  columns: number;
  sopInstanceUid: string | null;
  sopClassUid: string | null;
  frameOfReferenceUid: string | null;
  instanceNumber: number | null;
  /** IPP in mm (LPS), null when the file does not say. */
  position: Vec3 | null;
  /** IOP: row direction then column direction, unit vectors (LPS). */
  orientation: [number, number, number, number, number, number] | null;
  /** [between rows, between columns] in mm. */
  pixelSpacing: [number, number] | null;
  sliceThickness: number | null;
  /** The DS text of IPP / IOP / PixelSpacing as stored, so that writers can copy it exactly. */
  positionText: string[] | null;
  orientationText: string[] | null;
  pixelSpacingText: string[] | null;
}

const SHARED_GROUPS = '52009229';
const PER_FRAME_GROUPS = '52009230';

function finite(values: number[], n: number): number[] | null {
  if (values.length < n) return null;
  const out = values.slice(0, n);
  return out.every((v) => Number.isFinite(v)) ? out : null;
}

/** The item of `sequence` that holds `tag`: the frame's own functional group, else the shared one, else the top level. */
function groupValue(top: DicomView, perFrame: DicomView | undefined, shared: DicomView | undefined, sequence: string, tag: string): DicomView | undefined {
  for (const g of [perFrame, shared]) {
    const item = g?.items(sequence)[0];
    if (item?.has(tag) === true) return item;
  }
  return top.has(tag) ? top : undefined;
}

/** Geometry of every frame of one parsed DICOM instance. */
export function frameGeometriesOf(parsed: DicomView, itemId: number): FrameGeometry[] {
  const rows = parsed.num('00280010') ?? 0;
  const columns = parsed.num('00280011') ?? 0;
  const nf = parsed.num('00280008');
  const frames = nf !== undefined && Number.isInteger(nf) && nf > 0 ? nf : 1;
  const shared = parsed.items(SHARED_GROUPS)[0];
  const perFrame = parsed.items(PER_FRAME_GROUPS);
  const common = {
    itemId,
    frames,
    rows,
    columns,
    sopInstanceUid: parsed.str('00080018') ?? null,
    sopClassUid: parsed.str('00080016') ?? null,
    frameOfReferenceUid: parsed.str('00200052') ?? null,
    instanceNumber: parsed.num('00200013') ?? null,
  };
  const out: FrameGeometry[] = [];
  for (let f = 0; f < frames; f++) {
    const pf = perFrame[f];
    const ippView = groupValue(parsed, pf, shared, '00209113', '00200032');
    const iopView = groupValue(parsed, pf, shared, '00209116', '00200037');
    const psView = groupValue(parsed, pf, shared, '00289110', '00280030') ?? (parsed.has('00181164') ? parsed : undefined);
    const thickView = groupValue(parsed, pf, shared, '00289110', '00180050');
    const ipp = ippView ? finite(ippView.nums('00200032'), 3) : null;
    const iopRaw = iopView ? finite(iopView.nums('00200037'), 6) : null;
    const psTag = psView?.has('00280030') === true ? '00280030' : '00181164';
    const ps = psView ? finite(psView.nums(psTag), 2) : null;
    let orientation: FrameGeometry['orientation'] = null;
    if (iopRaw) {
      // Normalise: writers round the cosines (0.99999 etc.).
      const u = normalize([iopRaw[0] ?? 0, iopRaw[1] ?? 0, iopRaw[2] ?? 0]);
      const v = normalize([iopRaw[3] ?? 0, iopRaw[4] ?? 0, iopRaw[5] ?? 0]);
      if (u && v && Math.abs(dot(u, v)) < 1e-2) orientation = [...u, ...v];
    }
    const thickness = thickView?.num('00180050');
    out.push({
      ...common,
      frameIndex: f,
      position: ipp ? [ipp[0] ?? 0, ipp[1] ?? 0, ipp[2] ?? 0] : null,
      orientation,
      pixelSpacing: ps && (ps[0] ?? 0) > 0 && (ps[1] ?? 0) > 0 ? [ps[0] ?? 0, ps[1] ?? 0] : null,
      sliceThickness: thickness !== undefined && thickness > 0 ? thickness : null,
      positionText: ipp && ippView ? ippView.strs('00200032').slice(0, 3) : null,
      orientationText: orientation && iopView ? iopView.strs('00200037').slice(0, 6) : null,
      pixelSpacingText: ps && psView ? psView.strs(psTag).slice(0, 2) : null,
    });
  }
  return out;
}

export interface StoredDicomItem {
  id: number;
  blobSha256: string;
}

/** Parse the stored file of each item and return the geometry of all its frames. BAD_INPUT names the item that cannot be read. */
export function readFrameGeometries(blobs: BlobStore, items: readonly StoredDicomItem[]): FrameGeometry[] {
  const out: FrameGeometry[] = [];
  for (const it of items) out.push(...frameGeometriesOf(parseStoredDicom(blobs, it), it.id));
  return out;
}

/** The stored DICOM file of an item, parsed. */
export function parseStoredDicom(blobs: Pick<BlobStore, 'read'>, item: StoredDicomItem): ReturnType<typeof parseDicom> {
  let bytes: Buffer;
  try {
    bytes = blobs.read(item.blobSha256);
  } catch (e) {
    throw new FoveaException('IO', `The stored file of item ${item.id} cannot be read (${(e as Error).message}); run \`fovea check\`.`);
  }
  return parseDicom(bytes);
}

/** The DICOM items of a series (not plain images), in instance order. */
export function seriesDicomItems(db: Db, seriesId: number): (StoredDicomItem & { rows: number; columns: number; frames: number })[] {
  return listSeriesDicomItems(db, seriesId);
}

// ---------------------------------------------------------------------------------
// Vectors

export function dot(a: readonly number[], b: readonly number[]): number {
  return (a[0] ?? 0) * (b[0] ?? 0) + (a[1] ?? 0) * (b[1] ?? 0) + (a[2] ?? 0) * (b[2] ?? 0);
}
export function cross(a: readonly number[], b: readonly number[]): Vec3 {
  const [a0 = 0, a1 = 0, a2 = 0] = a;
  const [b0 = 0, b1 = 0, b2 = 0] = b;
  return [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0];
}
export function norm(a: readonly number[]): number {
  return Math.hypot(a[0] ?? 0, a[1] ?? 0, a[2] ?? 0);
}
function normalize(a: readonly number[]): Vec3 | null {
  const n = norm(a);
  return n > 1e-6 ? [(a[0] ?? 0) / n, (a[1] ?? 0) / n, (a[2] ?? 0) / n] : null;
}
function sub(a: readonly number[], b: readonly number[]): Vec3 {
  return [(a[0] ?? 0) - (b[0] ?? 0), (a[1] ?? 0) - (b[1] ?? 0), (a[2] ?? 0) - (b[2] ?? 0)];
}

/** a * b for 4x4 matrices. */
export function matMul(a: Mat4, b: Mat4): Mat4 {
  const out = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => [0, 1, 2, 3].reduce((s, k) => s + a[i]![k]! * b[k]![j]!, 0)));
  return out as Mat4;
}

/** Inverse of an affine 4x4 (last row 0 0 0 1); null when singular. */
export function invertAffine(m: Mat4): Mat4 | null {
  const [a, b, c] = [m[0], m[1], m[2]];
  const r = [
    [a[0], a[1], a[2]],
    [b[0], b[1], b[2]],
    [c[0], c[1], c[2]],
  ] as number[][];
  const det =
    r[0]![0]! * (r[1]![1]! * r[2]![2]! - r[1]![2]! * r[2]![1]!) -
    r[0]![1]! * (r[1]![0]! * r[2]![2]! - r[1]![2]! * r[2]![0]!) +
    r[0]![2]! * (r[1]![0]! * r[2]![1]! - r[1]![1]! * r[2]![0]!);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return null;
  const inv = (i: number, j: number): number => {
    // cofactor of (j, i) / det
    const rows = [0, 1, 2].filter((x) => x !== j);
    const cols = [0, 1, 2].filter((x) => x !== i);
    const [r0 = 0, r1 = 0] = rows;
    const [c0 = 0, c1 = 0] = cols;
    const minor = r[r0]![c0]! * r[r1]![c1]! - r[r0]![c1]! * r[r1]![c0]!;
    return ((i + j) % 2 === 0 ? 1 : -1) * (minor / det);
  };
  const ri = [0, 1, 2].map((i) => [0, 1, 2].map((j) => inv(i, j)));
  const t = [m[0][3], m[1][3], m[2][3]];
  const out: number[][] = ri.map((row) => [...row, -(row[0]! * t[0]! + row[1]! * t[1]! + row[2]! * t[2]!)]);
  out.push([0, 0, 0, 1]);
  return out as Mat4;
}

export function applyAffine(m: Mat4, p: readonly number[]): Vec3 {
  const [x = 0, y = 0, z = 0] = p;
  return [m[0][0] * x + m[0][1] * y + m[0][2] * z + m[0][3], m[1][0] * x + m[1][1] * y + m[1][2] * z + m[1][3], m[2][0] * x + m[2][1] * y + m[2][2] * z + m[2][3]];
}

/** LPS <-> RAS: x and y change sign (the same matrix both ways). */
export const LPS_TO_RAS: Mat4 = [
  [-1, 0, 0, 0],
  [0, -1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

// ---------------------------------------------------------------------------------
// Stacks: frames of one series that form one regular volume.

export interface SliceStack {
  rows: number;
  columns: number;
  /** Frames in volume order (k = 0, 1, ...): ascending along the slice normal when oriented. */
  slices: FrameGeometry[];
  /** False when the frames carry no patient position/orientation: the affine is then only voxel sizes. */
  oriented: boolean;
  /** Voxel (i = column, j = row, k = slice) -> patient LPS mm. */
  voxelToLps: Mat4;
  /** [column spacing, row spacing, slice spacing] in mm: the length of each voxel axis. */
  spacing: Vec3;
  /** Things a person should know about this stack (irregular spacing, gantry tilt, missing geometry). */
  warnings: string[];
}

const ORIENTATION_TOLERANCE = 1e-4;
/** Two frames closer than this along the normal are at the same position. */
const SAME_POSITION_MM = 1e-3;

function groupKey(f: FrameGeometry): string {
  if (!f.position || !f.orientation || !f.pixelSpacing) return `none|${f.rows}x${f.columns}`;
  const o = f.orientation.map((v) => Math.round(v / ORIENTATION_TOLERANCE)).join(',');
  const s = f.pixelSpacing.map((v) => Math.round(v * 1e5)).join(',');
  return `${f.rows}x${f.columns}|${o}|${s}|${f.frameOfReferenceUid ?? ''}`;
}

/**
 * Splits a series' frames into regular stacks: same size, orientation, pixel spacing and frame
 * of reference; frames at a position already taken (a second time point or acquisition) start
 * another stack, so that no slice is dropped. Stacks are returned in the order of their first frame.
 */
export function buildStacks(frames: readonly FrameGeometry[]): SliceStack[] {
  const groups = new Map<string, FrameGeometry[]>();
  for (const f of frames) {
    const k = groupKey(f);
    const g = groups.get(k);
    if (g) g.push(f);
    else groups.set(k, [f]);
  }
  const stacks: SliceStack[] = [];
  for (const [key, group] of groups) {
    if (key.startsWith('none|')) {
      stacks.push(unorientedStack(group));
      continue;
    }
    const first = group[0] as FrameGeometry;
    const o = first.orientation as NonNullable<FrameGeometry['orientation']>;
    const n = cross(o.slice(0, 3), o.slice(3, 6));
    const along = (f: FrameGeometry): number => dot(f.position as Vec3, n);
    // Stable: equal positions keep their instance order, so the first acquisition stays first.
    const sorted = [...group].sort((a, b) => along(a) - along(b));
    const runs: FrameGeometry[][] = [];
    for (const f of sorted) {
      const p = along(f);
      const run = runs.find((r) => Math.abs(along(r[r.length - 1] as FrameGeometry) - p) > SAME_POSITION_MM);
      if (run) run.push(f);
      else runs.push([f]);
    }
    for (const run of runs) stacks.push(orientedStack(run));
  }
  const firstIndex = (s: SliceStack): number => frames.indexOf(s.slices[0] as FrameGeometry);
  return stacks.sort((a, b) => firstIndex(a) - firstIndex(b));
}

function orientedStack(slices: FrameGeometry[]): SliceStack {
  const first = slices[0] as FrameGeometry;
  const last = slices[slices.length - 1] as FrameGeometry;
  const o = first.orientation as NonNullable<FrameGeometry['orientation']>;
  const [rowSpacing, colSpacing] = first.pixelSpacing as [number, number];
  const u = o.slice(0, 3);
  const v = o.slice(3, 6);
  const n = cross(u, v);
  const warnings: string[] = [];
  let step: Vec3;
  if (slices.length > 1) {
    const span = sub(last.position as Vec3, first.position as Vec3);
    step = [span[0] / (slices.length - 1), span[1] / (slices.length - 1), span[2] / (slices.length - 1)];
    const mean = norm(step);
    let worst = 0;
    for (let k = 1; k < slices.length; k++) {
      const d = norm(sub((slices[k] as FrameGeometry).position as Vec3, (slices[k - 1] as FrameGeometry).position as Vec3));
      worst = Math.max(worst, Math.abs(d - mean));
    }
    if (worst > Math.max(0.01, 0.01 * mean)) {
      warnings.push(
        `the slices are not evenly spaced (gaps differ from the mean ${mean.toFixed(3)} mm by up to ${worst.toFixed(3)} mm); ` +
          'a NIfTI volume can only hold even spacing, so slices between the first and the last are placed up to that far from their true position',
      );
    }
    // Slices whose offset is not along the normal: a tilted gantry. The sform keeps the shear exactly.
    const off = norm(cross(normalizeOr(step, n), n));
    if (off > 1e-3) {
      warnings.push(`the slices are sheared (gantry tilt of ${((Math.asin(Math.min(1, off)) * 180) / Math.PI).toFixed(2)}°): the sform holds the exact geometry, the qform the nearest rotation`);
    }
  } else {
    const t = first.sliceThickness ?? 1;
    step = [n[0] * t, n[1] * t, n[2] * t];
  }
  const p = first.position as Vec3;
  const voxelToLps: Mat4 = [
    [(u[0] ?? 0) * colSpacing, (v[0] ?? 0) * rowSpacing, step[0], p[0]],
    [(u[1] ?? 0) * colSpacing, (v[1] ?? 0) * rowSpacing, step[1], p[1]],
    [(u[2] ?? 0) * colSpacing, (v[2] ?? 0) * rowSpacing, step[2], p[2]],
    [0, 0, 0, 1],
  ];
  return { rows: first.rows, columns: first.columns, slices, oriented: true, voxelToLps, spacing: [colSpacing, rowSpacing, norm(step)], warnings };
}

function normalizeOr(a: Vec3, fallback: Vec3): Vec3 {
  return normalize(a) ?? fallback;
}

function unorientedStack(group: FrameGeometry[]): SliceStack {
  const first = group[0] as FrameGeometry;
  const slices = [...group];
  const [rowSpacing, colSpacing] = first.pixelSpacing ?? [1, 1];
  const t = first.sliceThickness ?? 1;
  return {
    rows: first.rows,
    columns: first.columns,
    slices,
    oriented: false,
    // Voxel sizes only, no position: NIfTI's "unknown" method 1 (qform_code = sform_code = 0).
    voxelToLps: [
      [colSpacing, 0, 0, 0],
      [0, rowSpacing, 0, 0],
      [0, 0, t, 0],
      [0, 0, 0, 1],
    ],
    spacing: [colSpacing, rowSpacing, t],
    warnings: ['the images carry no patient position or orientation (ImagePositionPatient / ImageOrientationPatient): the volume has voxel sizes but no orientation, slices in instance order'],
  };
}
