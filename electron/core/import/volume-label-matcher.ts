/**
 * Lays label volumes that know where they lie in the patient (NIfTI files, SEG frames without a
 * source reference) onto the dataset's DICOM frames.
 *
 * A DICOM frame takes its labels from a volume when the centre of each of its pixels falls on a
 * voxel centre: mapping the frame's pixel grid through the volume's inverse affine must step one
 * voxel along one volume axis per column and along another per row (any flip or transposition of
 * the axes is fine), and its first pixel must land on a whole voxel index, within a small
 * tolerance (DS rounding, float32 affines). Pixels outside the volume are background. Frames of
 * several series may coincide with a volume (series of different patients often share a geometry):
 * when the volume carries a series key (Fovea's volumes.json) only that series is considered;
 * otherwise the volume goes to the series with the most coinciding frames, and a tie is reported
 * as ambiguous.
 */
import { createHash } from 'node:crypto';
import type { ParsedImageLabels, ParsedLabelVolume } from '../labels';
import { rlesFromLabelMap } from '../labels/rle';
import { applyAffine, invertAffine, readFrameGeometries, type FrameGeometry, type Mat4 } from '../export/volume-geometry';
import type { BlobStore } from '../store/blob-store';
import type { Db } from '../store/library-db';
import { listSpacedDicomItems } from '../store/series-repo';

/** How far (in voxels) a pixel centre may miss a voxel centre and still be on it. */
const GRID_TOLERANCE = 0.05;

export interface VolumeMatchResult {
  images: ParsedImageLabels[];
  unmatched: string[];
  ambiguous: string[];
  warnings: string[];
}

interface FrameMapping {
  frame: FrameGeometry;
  seriesId: number;
  /** Voxel index of pixel (0, 0), and the voxel steps per column and per row (each a signed unit step along one axis). */
  origin: [number, number, number];
  colStep: [number, number, number];
  rowStep: [number, number, number];
}

function roundedUnit(v: readonly number[]): [number, number, number] | null {
  const r = v.map((x) => Math.round(x));
  if (r.reduce((s, x) => s + Math.abs(x), 0) !== 1) return null;
  return v.every((x, i) => Math.abs(x - (r[i] ?? 0)) < 1e-3) ? (r as [number, number, number]) : null;
}

/** How the frame's pixel grid maps onto the volume's voxel grid, or null when it does not coincide. */
function mapFrame(frame: FrameGeometry, inv: Mat4, dims: readonly number[]): Omit<FrameMapping, 'frame' | 'seriesId'> | null {
  if (!frame.position || !frame.orientation || !frame.pixelSpacing) return null;
  const [rs, cs] = frame.pixelSpacing;
  const o = frame.orientation;
  const p0 = applyAffine(inv, frame.position);
  const pc = applyAffine(inv, [frame.position[0] + o[0] * cs, frame.position[1] + o[1] * cs, frame.position[2] + o[2] * cs]);
  const pr = applyAffine(inv, [frame.position[0] + o[3] * rs, frame.position[1] + o[4] * rs, frame.position[2] + o[5] * rs]);
  const colStep = roundedUnit(pc.map((x, i) => x - (p0[i] ?? 0)));
  const rowStep = roundedUnit(pr.map((x, i) => x - (p0[i] ?? 0)));
  if (!colStep || !rowStep || colStep.some((x, i) => x !== 0 && rowStep[i] !== 0)) return null;
  const origin = p0.map((x) => Math.round(x)) as [number, number, number];
  if (p0.some((x, i) => Math.abs(x - (origin[i] ?? 0)) > GRID_TOLERANCE)) return null;
  // The far corner too: a small spacing mismatch adds up over hundreds of pixels.
  const far = applyAffine(inv, [
    frame.position[0] + o[0] * cs * (frame.columns - 1) + o[3] * rs * (frame.rows - 1),
    frame.position[1] + o[1] * cs * (frame.columns - 1) + o[4] * rs * (frame.rows - 1),
    frame.position[2] + o[2] * cs * (frame.columns - 1) + o[5] * rs * (frame.rows - 1),
  ]);
  const farWant = origin.map((x, i) => x + colStep[i]! * (frame.columns - 1) + rowStep[i]! * (frame.rows - 1));
  if (far.some((x, i) => Math.abs(x - (farWant[i] ?? 0)) > GRID_TOLERANCE * 4)) return null;
  // The slice axis (neither step) must be inside the volume; the in-plane extent must overlap it.
  for (let a = 0; a < 3; a++) {
    const lo = Math.min(origin[a]!, farWant[a]!);
    const hi = Math.max(origin[a]!, farWant[a]!);
    if (hi < 0 || lo >= (dims[a] ?? 0)) return null;
  }
  return { origin, colStep, rowStep };
}

/**
 * Turns label volumes into per-frame entries aimed at library items. Reads the geometry of the
 * dataset's DICOM items whose pixel spacing matches a voxel size of some volume.
 */
export function matchLabelVolumes(db: Db, blobs: BlobStore, datasetId: number, volumes: readonly ParsedLabelVolume[]): VolumeMatchResult {
  const result: VolumeMatchResult = { images: [], unmatched: [], ambiguous: [], warnings: [] };
  const candidates = listSpacedDicomItems(db, datasetId);
  const keyOf = new Map<string, string>();
  const seriesKeyOf = (uid: string): string => {
    let k = keyOf.get(uid);
    if (!k) keyOf.set(uid, (k = `sha256:${createHash('sha256').update(uid, 'utf8').digest('hex')}`));
    return k;
  };
  const geometryCache = new Map<number, FrameGeometry[]>();
  const geometryOf = (c: (typeof candidates)[number]): FrameGeometry[] => {
    let g = geometryCache.get(c.id);
    if (!g) {
      try {
        g = readFrameGeometries(blobs, [c]);
      } catch (e) {
        result.warnings.push(`Item ${c.id}: its stored file cannot be read (${(e as Error).message}); not considered.`);
        g = [];
      }
      geometryCache.set(c.id, g);
    }
    return g;
  };

  for (const vol of volumes) {
    const A = vol.voxelToLps as Mat4;
    const inv = invertAffine(A);
    if (!inv) {
      result.warnings.push(`${vol.fileName}: its affine is singular; skipped.`);
      result.unmatched.push(vol.fileName);
      continue;
    }
    const sizes = [0, 1, 2].map((j) => Math.hypot(A[0]?.[j] ?? 0, A[1]?.[j] ?? 0, A[2]?.[j] ?? 0));
    const near = (s: number): boolean => sizes.some((v) => Math.abs(v - s) <= 1e-3 * Math.max(1, s));
    const mappings: FrameMapping[] = [];
    for (const c of candidates) {
      if (c.seriesId === null || !near(c.rs) || !near(c.cs)) continue;
      if (vol.seriesKey && (!c.seriesUid || seriesKeyOf(c.seriesUid) !== vol.seriesKey)) continue;
      for (const frame of geometryOf(c)) {
        const m = mapFrame(frame, inv, vol.dims);
        if (m) mappings.push({ frame, seriesId: c.seriesId, ...m });
      }
    }
    if (mappings.length === 0) {
      result.unmatched.push(`${vol.fileName} (no DICOM slice of the dataset lies on its voxel grid)`);
      continue;
    }
    const perSeries = new Map<number, FrameMapping[]>();
    for (const m of mappings) perSeries.set(m.seriesId, [...(perSeries.get(m.seriesId) ?? []), m]);
    const ranked = [...perSeries.entries()].sort((a, b) => b[1].length - a[1].length);
    const [best, second] = ranked;
    if (second && second[1].length === best![1].length) {
      result.ambiguous.push(`${vol.fileName} (${ranked.length} series of the dataset lie on its voxel grid equally well)`);
      continue;
    }
    if (ranked.length > 1) result.warnings.push(`${vol.fileName}: slices of ${ranked.length} series lie on its grid; the labels went to the series with the most (${best![1].length} frames).`);
    const [nx, ny] = vol.dims;
    const covered = new Uint8Array(vol.values.length);
    const skip = (v: number): boolean => v === 0 || !vol.classes.has(v);
    for (const m of best![1]) {
      const { rows, columns } = m.frame;
      const map = vol.values instanceof Uint16Array ? new Uint16Array(rows * columns) : new Uint8Array(rows * columns);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < columns; c++) {
          const i = m.origin[0] + c * m.colStep[0] + r * m.rowStep[0];
          const j = m.origin[1] + c * m.colStep[1] + r * m.rowStep[1];
          const k = m.origin[2] + c * m.colStep[2] + r * m.rowStep[2];
          if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= vol.dims[2]) continue;
          const idx = i + nx * (j + ny * k);
          map[r * columns + c] = vol.values[idx] ?? 0;
          covered[idx] = 1;
        }
      }
      const labels = [...rlesFromLabelMap(map, rows, columns, skip)].map(([v, { rle }]) => ({ className: vol.classes.get(v) as string, geometry: { kind: 'mask' as const, rle } }));
      result.images.push({
        fileName: `${vol.fileName} (item ${m.frame.itemId}${m.frame.frames > 1 ? ` frame ${m.frame.frameIndex + 1}` : ''})`,
        match: 'path',
        width: columns,
        height: rows,
        labels,
        target: { kind: 'item', itemId: m.frame.itemId, ...(m.frame.frames > 1 ? { frameIndex: m.frame.frameIndex } : {}) },
      });
    }
    let lost = 0;
    for (let idx = 0; idx < vol.values.length; idx++) if (!covered[idx] && !skip(vol.values[idx] ?? 0)) lost++;
    if (lost > 0) result.warnings.push(`${vol.fileName}: ${lost} labelled voxel(s) lie on no slice of the dataset and were not imported.`);
  }
  return result;
}
