/**
 * The voxel grid of an MPR volume, from a stack of acquired slices (export/volume-geometry.ts'
 * buildStacks: one orientation, one pixel spacing, sorted along the slice normal).
 *
 * Two grids:
 * - the ACQUISITION grid: column c, row r of acquired slice s (s = 0.. ascending along the normal
 *   n = row direction x column direction). Its voxels are the stored pixels; labels live here,
 *   because labels are stored per acquired image (the annotation rows).
 * - the DISPLAY grid: a regular, orthogonal grid along the same row/column directions and the
 *   normal. For a regular stack it IS the acquisition grid (same voxels, no interpolation). When
 *   the slices are unevenly spaced or sheared (gantry tilt), the display grid is resampled:
 *     spacing along the normal: the median gap between acquired slices along the normal;
 *     origin: the first acquired slice's ImagePositionPatient; in-plane footprint: the first slice's.
 *   A display voxel's centre p maps onto acquired slice s at column x_s = dot(p - IPP_s, u) / sx,
 *   row y_s = dot(p - IPP_s, v) / sy (u, v: the row and column directions), and its normal
 *   coordinate dot(p, n) falls between two acquired slices s and s + 1 (by their true positions).
 *   Values: bilinear within each of the two slices, then linear between them by the normal
 *   distance (trilinear on the sheared, uneven grid). A display plane that coincides with an
 *   acquired slice (and has no in-plane shift) reproduces its stored values exactly. Display
 *   voxels whose footprint falls outside the acquired slices take the volume's minimum value.
 *   Labels map to the NEAREST acquired voxel (nearest slice along the normal, ties to the lower
 *   one; nearest column and row).
 * Refused (a reason, never a distorted picture): fewer than 3 slices, slices at the same position,
 * and gaps more than 3x the median gap (the views would be mostly made up).
 *
 * Views (axial, coronal, sagittal) cut the display grid along its own axes (no further
 * interpolation): each view's normal is the grid axis closest to the patient's S-I, A-P or L-R
 * axis, and its picture is flipped/transposed so that it is shown the radiological way:
 *   axial: patient left on the screen's right, posterior down; coronal: left on the right, feet
 *   down; sagittal: posterior on the right, feet down.
 * On an oblique acquisition the views stay along the grid axes (nearest patient plane); the
 * orientation letters then carry the obliquity (e.g. "LP").
 */
import { FoveaException } from '../../contract/result';
import type { VolumePlane, VolumeViewSpec } from '../../contract/volume';
import { cross, dot, norm, type FrameGeometry, type SliceStack, type Vec3 } from '../export/volume-geometry';

/** Gaps larger than this many times the median gap are refused. */
export const MAX_GAP_RATIO = 3;
/** Gaps differing from the median by more than this fraction (or 0.01 mm) are uneven. */
const UNEVEN_TOLERANCE = 0.01;
/** In-plane shift per slice (mm) above which the stack counts as sheared (gantry tilt). */
const SHEAR_TOLERANCE_MM = 1e-3;

export interface VolumeGrid {
  columns: number;
  rows: number;
  /** Acquired slices (the acquisition grid's third size). */
  acquiredSlices: number;
  /** Display grid sizes [columns, rows, slices]. */
  dims: [number, number, number];
  /** Display grid voxel size [column spacing, row spacing, slice spacing] in mm. */
  spacing: Vec3;
  /** Patient position (LPS mm) of display voxel (0, 0, 0). */
  origin: Vec3;
  /** Unit vectors (LPS) of the display axes: row direction, column direction, normal. */
  axes: [Vec3, Vec3, Vec3];
  /** Acquired slices in volume order, with their geometry. */
  slices: FrameGeometry[];
  /** Normal coordinate (mm) of each acquired slice, ascending. */
  normalPositions: Float64Array;
  /** Thickness (mm along the normal) each acquired slice stands for: half the gap to each neighbour. */
  sliceThickness: Float64Array;
  /** In-plane shift of display column/row i onto acquired slice s: x_s = i + shiftColumns[s]. */
  shiftColumns: Float64Array;
  shiftRows: Float64Array;
  /** Null when the display grid is the acquisition grid; else why and how it was resampled. */
  resampling: { reason: string; interpolation: string } | null;
  warnings: string[];
}

export const INTERPOLATION_NOTE =
  'trilinear on the acquired grid: bilinear within the two acquired slices around the point, linear between them by the true distance along the normal; labels nearest-voxel';

/** The median of a non-empty list. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The display grid of an oriented stack, or UNSUPPORTED with the reason MPR cannot be shown. */
export function volumeGridOf(stack: SliceStack): VolumeGrid {
  if (!stack.oriented) {
    throw new FoveaException('UNSUPPORTED', 'The images carry no patient position or orientation (ImagePositionPatient / ImageOrientationPatient): the slice order and spacing are unknown, so other planes cannot be reconstructed.');
  }
  const n = stack.slices.length;
  if (n < 3) throw new FoveaException('UNSUPPORTED', `Multi-planar views need at least 3 parallel slices; this series has ${n} in its largest stack.`);
  const first = stack.slices[0] as FrameGeometry;
  const o = first.orientation as NonNullable<FrameGeometry['orientation']>;
  const [rowSpacing, colSpacing] = first.pixelSpacing as [number, number];
  const u: Vec3 = [o[0], o[1], o[2]];
  const v: Vec3 = [o[3], o[4], o[5]];
  const nrm = cross(u, v);
  const nn = norm(nrm);
  const normal: Vec3 = [nrm[0] / nn, nrm[1] / nn, nrm[2] / nn];
  const positions = stack.slices.map((s) => s.position as Vec3);
  const d = Float64Array.from(positions, (p) => dot(p, normal));
  const gaps: number[] = [];
  for (let k = 1; k < n; k++) gaps.push((d[k] as number) - (d[k - 1] as number));
  const minGap = Math.min(...gaps);
  if (!(minGap > 1e-3)) throw new FoveaException('UNSUPPORTED', 'Two slices of this series lie at the same position along the slice normal: it is not one volume.');
  const step = median(gaps);
  const worst = Math.max(...gaps);
  if (worst > MAX_GAP_RATIO * step) {
    const at = gaps.indexOf(worst);
    throw new FoveaException(
      'UNSUPPORTED',
      `The slices have a gap of ${worst.toFixed(2)} mm between slices ${at + 1} and ${at + 2} while most are ${step.toFixed(2)} mm apart: ` +
        `more than ${MAX_GAP_RATIO}x, so the other planes would be mostly invented. Open the parts as separate series, or view the slices one by one.`,
    );
  }
  const uneven = gaps.some((g) => Math.abs(g - step) > Math.max(0.01, UNEVEN_TOLERANCE * step));
  // In-plane shift of each slice relative to the first (mm along u and v): gantry tilt shears.
  const p0 = positions[0] as Vec3;
  const shiftU = positions.map((p) => dot([p0[0] - p[0], p0[1] - p[1], p0[2] - p[2]], u));
  const shiftV = positions.map((p) => dot([p0[0] - p[0], p0[1] - p[1], p0[2] - p[2]], v));
  const sheared = shiftU.some((x) => Math.abs(x) > SHEAR_TOLERANCE_MM) || shiftV.some((x) => Math.abs(x) > SHEAR_TOLERANCE_MM);

  const thickness = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const before = k > 0 ? (d[k] as number) - (d[k - 1] as number) : null;
    const after = k < n - 1 ? (d[k + 1] as number) - (d[k] as number) : null;
    thickness[k] = ((before ?? after ?? 0) + (after ?? before ?? 0)) / 2;
  }
  const warnings: string[] = [];
  let resampling: VolumeGrid['resampling'] = null;
  let slicesOut = n;
  if (uneven || sheared) {
    const reasons: string[] = [];
    if (uneven) reasons.push(`the slices are unevenly spaced (gaps ${minGap.toFixed(2)} to ${worst.toFixed(2)} mm along the normal)`);
    if (sheared) {
      const lastShift = Math.hypot(shiftU[n - 1] as number, shiftV[n - 1] as number);
      const tilt = (Math.atan2(lastShift, (d[n - 1] as number) - (d[0] as number)) * 180) / Math.PI;
      reasons.push(`the slices are sheared (gantry tilt of ${tilt.toFixed(2)}°)`);
    }
    // Every display plane lies within the acquired span.
    slicesOut = Math.floor(((d[n - 1] as number) - (d[0] as number)) / step + 1e-6) + 1;
    resampling = { reason: `${reasons.join(' and ')}: resampled to an even ${step.toFixed(3)} mm grid along the normal`, interpolation: INTERPOLATION_NOTE };
    warnings.push(`${reasons.join(' and ')}; the views are resampled (${INTERPOLATION_NOTE}).`);
  }
  return {
    columns: stack.columns,
    rows: stack.rows,
    acquiredSlices: n,
    dims: [stack.columns, stack.rows, slicesOut],
    spacing: [colSpacing, rowSpacing, resampling ? step : ((d[n - 1] as number) - (d[0] as number)) / (n - 1)],
    origin: [...p0],
    axes: [u, v, normal],
    slices: stack.slices,
    normalPositions: d,
    sliceThickness: thickness,
    shiftColumns: Float64Array.from(shiftU, (x) => (resampling ? x / colSpacing : 0)),
    shiftRows: Float64Array.from(shiftV, (x) => (resampling ? x / rowSpacing : 0)),
    resampling,
    warnings,
  };
}

/**
 * Where display slice k lies among the acquired slices: the acquired slice below (s), the one
 * above (s + 1, or s itself at the end) and the weight t of the upper one. Exact on the
 * acquisition grid (t = 0).
 */
export function acquiredBracket(grid: VolumeGrid, k: number): { s: number; s1: number; t: number } {
  if (!grid.resampling) return { s: k, s1: k, t: 0 };
  const d = grid.normalPositions;
  const z = (d[0] as number) + k * grid.spacing[2];
  let lo = 0;
  let hi = d.length - 1;
  if (z <= (d[0] as number)) return { s: 0, s1: 0, t: 0 };
  if (z >= (d[hi] as number)) return { s: hi, s1: hi, t: 0 };
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((d[mid] as number) <= z) lo = mid;
    else hi = mid;
  }
  const t = (z - (d[lo] as number)) / ((d[hi] as number) - (d[lo] as number));
  // Within a micrometre of an acquired slice: that slice, exactly.
  if (t * ((d[hi] as number) - (d[lo] as number)) < 1e-3) return { s: lo, s1: lo, t: 0 };
  if ((1 - t) * ((d[hi] as number) - (d[lo] as number)) < 1e-3) return { s: hi, s1: hi, t: 0 };
  return { s: lo, s1: hi, t };
}

/** The acquired slice nearest to display slice k (ties to the lower one). */
export function nearestAcquired(grid: VolumeGrid, k: number): number {
  const b = acquiredBracket(grid, k);
  return b.t > 0.5 ? b.s1 : b.s;
}

// ---------------------------------------------------------------------------------
// Views

/** Screen right and screen down of each view, in LPS (radiological convention). */
const VIEW_SCREEN: Record<VolumePlane, { right: Vec3; down: Vec3 }> = {
  axial: { right: [1, 0, 0], down: [0, 1, 0] },
  coronal: { right: [1, 0, 0], down: [0, 0, -1] },
  sagittal: { right: [0, 1, 0], down: [0, 0, -1] },
};

/**
 * Orientation letters of an LPS direction: L/R for x, P/A for y, S/I for z, strongest first;
 * a component counts when it is at least 0.3 of the direction (about 17° of obliquity).
 */
export function orientationLetters(dir: readonly number[]): string {
  const letters: [number, string][] = [
    [dir[0] ?? 0, (dir[0] ?? 0) >= 0 ? 'L' : 'R'],
    [dir[1] ?? 0, (dir[1] ?? 0) >= 0 ? 'P' : 'A'],
    [dir[2] ?? 0, (dir[2] ?? 0) >= 0 ? 'S' : 'I'],
  ];
  const sorted = letters.filter(([c]) => Math.abs(c) >= 0.3).sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]));
  return sorted.map(([, l]) => l).join('');
}

function neg(a: Vec3): Vec3 {
  return [-a[0], -a[1], -a[2]];
}

/** Each view's cut through the display grid: which axis is its normal, which run across and down, flipped or not. */
export function viewSpecs(grid: VolumeGrid): Record<VolumePlane, VolumeViewSpec> {
  const axes = grid.axes;
  // Assign each view the grid axis closest to its patient normal, each axis used once (greedy by alignment).
  const wantedNormal: Record<VolumePlane, Vec3> = { axial: [0, 0, 1], coronal: [0, 1, 0], sagittal: [1, 0, 0] };
  const pairs: { plane: VolumePlane; axis: 0 | 1 | 2; score: number }[] = [];
  for (const plane of ['axial', 'coronal', 'sagittal'] as const) for (const axis of [0, 1, 2] as const) pairs.push({ plane, axis, score: Math.abs(dot(axes[axis], wantedNormal[plane])) });
  pairs.sort((a, b) => b.score - a.score);
  const normalOf = new Map<VolumePlane, 0 | 1 | 2>();
  const used = new Set<number>();
  for (const p of pairs) {
    if (normalOf.has(p.plane) || used.has(p.axis)) continue;
    normalOf.set(p.plane, p.axis);
    used.add(p.axis);
  }
  const out = {} as Record<VolumePlane, VolumeViewSpec>;
  for (const plane of ['axial', 'coronal', 'sagittal'] as const) {
    const normalAxis = normalOf.get(plane) as 0 | 1 | 2;
    const [a, b] = ([0, 1, 2] as const).filter((x) => x !== normalAxis) as [0 | 1 | 2, 0 | 1 | 2];
    const { right, down } = VIEW_SCREEN[plane];
    // The in-plane axis closer to screen-right runs across; the other runs down.
    const across = Math.abs(dot(axes[a], right)) >= Math.abs(dot(axes[b], right)) ? a : b;
    const downAxis = across === a ? b : a;
    const flipH = dot(axes[across], right) < 0;
    const flipV = dot(axes[downAxis], down) < 0;
    const rightDir = flipH ? neg(axes[across]) : axes[across];
    const downDir = flipV ? neg(axes[downAxis]) : axes[downAxis];
    out[plane] = {
      plane,
      normalAxis,
      count: grid.dims[normalAxis],
      horizontal: { axis: across, flip: flipH },
      vertical: { axis: downAxis, flip: flipV },
      width: grid.dims[across],
      height: grid.dims[downAxis],
      // [between rows, between columns], as DICOM's PixelSpacing.
      pixelSpacing: [grid.spacing[downAxis], grid.spacing[across]],
      rowDirection: rightDir,
      columnDirection: downDir,
      labels: { right: orientationLetters(rightDir), left: orientationLetters(neg(rightDir)), bottom: orientationLetters(downDir), top: orientationLetters(neg(downDir)) },
    };
  }
  return out;
}

/** Patient position (LPS mm) of a display voxel centre. */
export function voxelToPatient(grid: VolumeGrid, i: number, j: number, k: number): Vec3 {
  const [u, v, n] = grid.axes;
  const [sx, sy, sz] = grid.spacing;
  const o = grid.origin;
  return [0, 1, 2].map((c) => (o[c] as number) + i * sx * (u[c] as number) + j * sy * (v[c] as number) + k * sz * (n[c] as number)) as Vec3;
}
