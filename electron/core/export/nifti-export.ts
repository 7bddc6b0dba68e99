/**
 * `--format nifti`: one NIfTI-1 label volume per DICOM series with region labels
 * (series-<n>.nii.gz; series-<n>-<m>.nii.gz when a series holds several stacks, such as two
 * orientations or two time points), voxel value = class index (0 = background), uint8 up to
 * 255 classes, else uint16; plus classes.json ({"0": "background", "1": ...}, the class map
 * `import-labels --format masks|nifti` reads) and volumes.json (size, spacing, voxel counts).
 *
 * Orientation: voxel (i, j, k) is column i, row j of the k-th slice, slices ascending along
 * the slice normal (row direction x column direction). The sform (code 1, scanner) is the exact
 * voxel -> RAS mapping built from ImagePositionPatient, ImageOrientationPatient, PixelSpacing
 * and the real slice step (last minus first position over n - 1, so gantry tilt is kept as
 * shear); the qform (code 1) holds the same rotation as a quaternion (the nearest rotation when
 * sheared); pixdim = column spacing, row spacing, inter-slice distance. DICOM's LPS becomes
 * NIfTI's RAS by negating x and y.
 *
 * Names come from series numbers in the library, never from patient data or source paths.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { getSeriesHeader } from '../store/series-repo';
import type { ExportFormatHandler, ExportFormatResult } from './export-types';
import { buildStacks, cross, dot, LPS_TO_RAS, matMul, norm, readFrameGeometries, seriesDicomItems, type Mat4, type SliceStack } from './volume-geometry';
import { collectSeriesRegions, rasterizeRegion, throwIfCancelled, type RegionAnnotation } from './volume-labels';

/** NIfTI-1 datatype codes used here. */
const DT_UINT8 = 2;
const DT_UINT16 = 512;
/** NIFTI_INTENT_LABEL: voxel values are indices into a label list. */
const INTENT_LABEL = 1002;
/** Volumes larger than this (voxels) are refused for that series, not allocated blindly. */
const MAX_VOXELS = 1 << 28;

export interface NiftiVolume {
  /** [columns, rows, slices]. */
  dims: [number, number, number];
  /** x fastest: index = i + nx * (j + ny * k). */
  data: Uint8Array | Uint16Array;
  /** Voxel -> RAS mm. */
  voxelToRas: Mat4;
  /** [dx, dy, dz] in mm. */
  pixdim: [number, number, number];
  /** False: only voxel sizes are known (qform_code = sform_code = 0). */
  oriented: boolean;
  /** At most 79 characters; no patient data. */
  description?: string;
  /** Largest label value (cal_max). */
  maxValue?: number;
}

/**
 * Quaternion parameters of a rotation+reflection matrix whose columns are unit vectors, as
 * nifti1_io's nifti_mat44_to_quatern: a reflection (det < 0) goes into qfac = -1 with the
 * third column negated.
 */
export function quaternFromRotation(r: number[][]): { b: number; c: number; d: number; qfac: 1 | -1 } {
  const m = r.map((row) => [...row]);
  const det =
    m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
    m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
    m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);
  let qfac: 1 | -1 = 1;
  if (det < 0) {
    qfac = -1;
    for (const row of m) row[2] = -row[2]!;
  }
  const [r11, r12, r13] = m[0] as [number, number, number];
  const [r21, r22, r23] = m[1] as [number, number, number];
  const [r31, r32, r33] = m[2] as [number, number, number];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

/**
 * b, c, d as stored (float32). Readers recover a = sqrt(1 - b² - c² - d²); for a 180° rotation
 * (a = 0, common for sagittal and coronal images) float32 rounding leaves a sum just below 1 and
 * a spurious a of ~3e-4, which tilts the qform by a fraction of a degree. So when a is (nearly)
 * 0, the components are nudged up by whole float32 steps until the sum reaches 1 + ~1.5e-7:
 * nifti1_io (a < 1e-7 -> 0) and nibabel (1 - sum <= 0 within 3 float32 eps -> 0) then read a = 0.
 */
export function float32Quaternion(b: number, c: number, d: number): [number, number, number] {
  const f = [Math.fround(b), Math.fround(c), Math.fround(d)];
  if (1 - (b * b + c * c + d * d) > 1e-6) return f as [number, number, number];
  const bits = new Float32Array(1);
  const ints = new Int32Array(bits.buffer);
  // Every non-zero component by one step per round, so that equal magnitudes stay equal (and the
  // matrix entries that are differences of their squares stay exactly 0).
  const nonZero = [0, 1, 2].filter((i) => Math.abs(f[i] ?? 0) > 1e-3);
  for (let round = 0; round < 32 && (f[0] ?? 0) ** 2 + (f[1] ?? 0) ** 2 + (f[2] ?? 0) ** 2 < 1 + 1.5e-7; round++) {
    for (const i of nonZero) {
      bits[0] = f[i] ?? 0;
      ints[0] = (ints[0] ?? 0) + 1; // one float32 step away from zero, whatever the sign
      f[i] = bits[0] ?? 0;
    }
  }
  return f as [number, number, number];
}

function writeAscii(view: DataView, offset: number, length: number, text: string): void {
  const bytes = Buffer.from(text.replace(/[^\x20-\x7e]/g, '_'), 'latin1').subarray(0, length - 1);
  for (let i = 0; i < bytes.length; i++) view.setUint8(offset + i, bytes[i] ?? 0);
}

/** A single-file NIfTI-1 (.nii) image: 348-byte header, 4 bytes of no extension, data at 352. Little endian. */
export function encodeNifti1(volume: NiftiVolume): Uint8Array {
  const [nx, ny, nz] = volume.dims;
  const bytesPer = volume.data instanceof Uint16Array ? 2 : 1;
  if (volume.data.length !== nx * ny * nz) throw new RangeError(`NIfTI data holds ${volume.data.length} voxels, dims say ${nx * ny * nz}`);
  const voxOffset = 352;
  const out = new Uint8Array(voxOffset + volume.data.length * bytesPer);
  const h = new DataView(out.buffer);
  const le = true;
  h.setInt32(0, 348, le);
  h.setUint8(38, 'r'.charCodeAt(0));
  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  dim.forEach((v, i) => h.setInt16(40 + 2 * i, v, le));
  h.setInt16(68, INTENT_LABEL, le);
  h.setInt16(70, bytesPer === 2 ? DT_UINT16 : DT_UINT8, le);
  h.setInt16(72, bytesPer * 8, le);

  const A = volume.voxelToRas;
  // Columns of the affine are the voxel axes in mm; their unit vectors make the rotation.
  const cols = [0, 1, 2].map((j) => [A[0][j] ?? 0, A[1][j] ?? 0, A[2][j] ?? 0]);
  const lengths = cols.map((c) => norm(c));
  const unit = cols.map((c, j) => c.map((x) => x / (lengths[j] || 1)));
  // qform needs an orthonormal frame: keep the in-plane axes, make the third their normal
  // (on the side the slices go), which differs from the slice axis only for sheared stacks.
  const n = cross(unit[0] as number[], unit[1] as number[]);
  const side = dot(n, unit[2] as number[]) < 0 ? -1 : 1;
  const third = n.map((x) => x * side);
  const rot = [0, 1, 2].map((i) => [unit[0]![i]!, unit[1]![i]!, third[i]!]);
  const q = quaternFromRotation(rot);
  const [qb, qc, qd] = float32Quaternion(q.b, q.c, q.d);
  const pixdim = [q.qfac, ...volume.pixdim, 0, 0, 0, 0];
  pixdim.forEach((v, i) => h.setFloat32(76 + 4 * i, v, le));
  h.setFloat32(108, voxOffset, le);
  h.setFloat32(112, 0, le); // scl_slope 0: values are stored as they are
  h.setFloat32(116, 0, le);
  h.setUint8(123, 2); // xyzt_units: mm
  h.setFloat32(124, volume.maxValue ?? 0, le); // cal_max
  h.setFloat32(128, 0, le);
  writeAscii(h, 148, 80, volume.description ?? 'Fovea label volume');
  h.setInt16(252, volume.oriented ? 1 : 0, le); // qform_code: scanner
  h.setInt16(254, volume.oriented ? 1 : 0, le); // sform_code: scanner
  h.setFloat32(256, qb, le);
  h.setFloat32(260, qc, le);
  h.setFloat32(264, qd, le);
  h.setFloat32(268, A[0][3], le);
  h.setFloat32(272, A[1][3], le);
  h.setFloat32(276, A[2][3], le);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) h.setFloat32(280 + 16 * r + 4 * c, volume.oriented ? A[r]![c]! : 0, le);
  writeAscii(h, 328, 16, 'labels');
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  // Bytes 348..351: extension flag 0 (no extensions).
  if (bytesPer === 1) out.set(volume.data as Uint8Array, voxOffset);
  else {
    const d = volume.data as Uint16Array;
    for (let i = 0; i < d.length; i++) h.setUint16(voxOffset + 2 * i, d[i] ?? 0, le);
  }
  return out;
}

/** The non-reversible key of a series that volumes.json carries. */
export function seriesKey(seriesInstanceUid: string): string {
  return `sha256:${createHash('sha256').update(seriesInstanceUid, 'utf8').digest('hex')}`;
}

interface VolumeInfo {
  file: string;
  series: number;
  /** Which series, without saying its UID: 'sha256:' + SHA-256 of the SeriesInstanceUID (read back by import-labels). */
  seriesKey: string;
  dims: [number, number, number];
  spacingMm: [number, number, number];
  oriented: boolean;
  voxels: Record<string, number>;
}

/** Fills one stack's label volume from the series' regions; returns what it placed. */
function fillStack(
  stack: SliceStack,
  annotations: RegionAnnotation[],
  valueOf: Map<number, number>,
  big: boolean,
  warn: (m: string) => void,
  label: string,
): { data: Uint8Array | Uint16Array; placed: Set<number>; voxels: Map<number, number> } | null {
  const nx = stack.columns;
  const ny = stack.rows;
  const nz = stack.slices.length;
  const slicePlane = nx * ny;
  const sliceOf = new Map<string, number>();
  stack.slices.forEach((s, k) => sliceOf.set(`${s.itemId}/${s.frameIndex}`, k));
  const mine = annotations.filter((a) => sliceOf.has(`${a.itemId}/${a.frameIndex}`));
  if (mine.length === 0) return null;
  if (nx * ny * nz > MAX_VOXELS) {
    warn(`${label}: ${nx}x${ny}x${nz} voxels is more than a label volume may hold (${MAX_VOXELS}); not exported.`);
    return null;
  }
  const data = big ? new Uint16Array(nx * ny * nz) : new Uint8Array(nx * ny * nz);
  const placed = new Set<number>();
  let overlaps = 0;
  for (const a of mine) {
    const k = sliceOf.get(`${a.itemId}/${a.frameIndex}`) as number;
    const mask = rasterizeRegion(a, ny, nx);
    if (typeof mask === 'string') {
      warn(`${label}: annotation ${a.id} was left out: ${mask}.`);
      continue;
    }
    const value = valueOf.get(a.classId) as number;
    const base = k * slicePlane;
    for (let p = 0; p < slicePlane; p++) {
      if (!mask[p]) continue;
      const old = data[base + p] ?? 0;
      if (old !== 0 && old !== value) overlaps++;
      data[base + p] = value; // later annotations win where classes overlap
    }
    placed.add(a.id);
  }
  if (overlaps > 0) warn(`${label}: ${overlaps} voxel(s) are labelled with two classes; a label volume holds one, the later annotation's class was kept.`);
  const voxels = new Map<number, number>();
  for (const v of data) if (v !== 0) voxels.set(v, (voxels.get(v) ?? 0) + 1);
  return { data, placed, voxels };
}

export const exportNifti: ExportFormatHandler = async (job) => {
  const { db, blobs } = job.sources;
  const regions = collectSeriesRegions(job);
  const warnings = [...regions.warnings];
  const result: ExportFormatResult = { format: 'nifti', items: 0, annotations: 0, warnings, heldBack: [] };
  const valueOf = new Map(regions.classes.map((c) => [c.classId, c.value]));
  const big = regions.classes.length > 255;
  const volumes: VolumeInfo[] = [];
  let done = 0;
  for (const s of regions.series) {
    throwIfCancelled(job.signal);
    const items = seriesDicomItems(db, s.seriesId);
    const seriesUid = getSeriesHeader(db, s.seriesId)?.uid ?? '';
    const stacks = buildStacks(readFrameGeometries(blobs, items));
    const labelled = stacks.filter((st) => st.slices.some((f) => s.annotations.some((a) => a.itemId === f.itemId && a.frameIndex === f.frameIndex)));
    let m = 0;
    for (const stack of labelled) {
      m++;
      const name = labelled.length > 1 ? `series-${s.ordinal}-${m}.nii.gz` : `series-${s.ordinal}.nii.gz`;
      const warn = (msg: string): void => {
        warnings.push(msg);
      };
      for (const w of stack.warnings) warn(`${name}: ${w}.`);
      const filled = fillStack(stack, s.annotations, valueOf, big, warn, name);
      if (!filled) continue;
      const maxValue = Math.max(0, ...filled.voxels.keys());
      const nii = encodeNifti1({
        dims: [stack.columns, stack.rows, stack.slices.length],
        data: filled.data,
        voxelToRas: matMul(LPS_TO_RAS, stack.voxelToLps),
        pixdim: stack.spacing,
        oriented: stack.oriented,
        description: `Fovea labels, series ${s.ordinal}`,
        maxValue,
      });
      const written = await job.writer.write(name, gzipSync(nii, { level: 6 }));
      result.annotations += filled.placed.size;
      result.items += new Set(stack.slices.map((f) => f.itemId)).size;
      volumes.push({
        file: written.path,
        series: s.ordinal,
        seriesKey: seriesKey(seriesUid),
        dims: [stack.columns, stack.rows, stack.slices.length],
        spacingMm: stack.spacing,
        oriented: stack.oriented,
        voxels: Object.fromEntries(regions.classes.filter((c) => filled.voxels.has(c.value)).map((c) => [c.name, filled.voxels.get(c.value) ?? 0])),
      });
    }
    job.onProgress?.(++done, regions.series.length);
  }
  if (volumes.length === 0) warnings.push('No DICOM series in this selection has mask or polygon labels: no label volume was written.');
  const classMap: Record<string, string> = { '0': 'background' };
  for (const c of regions.classes) classMap[String(c.value)] = c.name;
  await job.writer.write('classes.json', `${JSON.stringify(classMap, null, 2)}\n`);
  await job.writer.write(
    'volumes.json',
    `${JSON.stringify({ format: 'nifti-1', voxelOrder: 'i = column, j = row, k = slice (ascending along the slice normal)', world: 'RAS (sform and qform, code 1)', classes: classMap, volumes }, null, 2)}\n`,
  );
  return result;
};
