/**
 * Cutting planes out of a volume: the pictures of the axial, coronal and sagittal views, and the
 * map from a view's pixels to the acquired voxels (for labels and brush strokes).
 *
 * On the acquisition grid a plane is a strided copy of stored values (exact, int16 stays int16).
 * Where the display grid is resampled (volume-grid.ts), each pixel is interpolated from the
 * acquired voxels (float32) unless the plane happens to fall on them (then exact again).
 */
import { FoveaException } from '../../contract/result';
import { viewPixelToVoxel, type VolumePlaneImage, type VolumeViewSpec } from '../../contract/volume';
import type { ScanVolume } from './scan-volume';
import { acquiredBracket, nearestAcquired, voxelToPatient, type VolumeGrid } from './volume-grid';

export function checkPlaneIndex(spec: VolumeViewSpec, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= spec.count) {
    throw new FoveaException('NOT_FOUND', `The ${spec.plane} view has planes 0 to ${spec.count - 1}; there is no plane ${index}.`);
  }
}

/** Calls fn(pixel, i, j, k) for every pixel of a view's plane, row by row (no allocation per pixel). */
function walkPlane(spec: VolumeViewSpec, index: number, fn: (pixel: number, i: number, j: number, k: number) => void): void {
  const v: [number, number, number] = [0, 0, 0];
  v[spec.normalAxis] = index;
  const h = spec.horizontal;
  const vv = spec.vertical;
  for (let y = 0, o = 0; y < spec.height; y++) {
    v[vv.axis] = vv.flip ? spec.height - 1 - y : y;
    for (let x = 0; x < spec.width; x++, o++) {
      v[h.axis] = h.flip ? spec.width - 1 - x : x;
      fn(o, v[0], v[1], v[2]);
    }
  }
}

/** Display-grid strides of the three axes for the acquisition layout (valid only when not resampled). */
function strides(grid: VolumeGrid): [number, number, number] {
  return [1, grid.columns, grid.columns * grid.rows];
}

/**
 * Visits every pixel of plane `index` of a view with its acquired voxel (nearest, see
 * volume-grid.ts): fn(pixel, slice, offsetInSlice). Pixels outside the acquired footprint
 * (a sheared stack's edges) are not visited.
 */
export function forEachPlaneVoxel(grid: VolumeGrid, spec: VolumeViewSpec, index: number, fn: (pixel: number, slice: number, offset: number) => void): void {
  const cols = grid.columns;
  const rows = grid.rows;
  // Per display slice k: its nearest acquired slice and in-plane shift (whole voxels).
  const nearest = new Int32Array(grid.dims[2]);
  const dx = new Int32Array(grid.dims[2]);
  const dy = new Int32Array(grid.dims[2]);
  const kFirst = spec.normalAxis === 2 ? index : 0;
  const kLast = spec.normalAxis === 2 ? index : grid.dims[2] - 1;
  for (let k = kFirst; k <= kLast; k++) {
    const s = nearestAcquired(grid, k);
    nearest[k] = s;
    dx[k] = Math.round(grid.shiftColumns[s] as number);
    dy[k] = Math.round(grid.shiftRows[s] as number);
  }
  walkPlane(spec, index, (o, i, j, k) => {
    const c = i + (dx[k] as number);
    const r = j + (dy[k] as number);
    if (c < 0 || r < 0 || c >= cols || r >= rows) return;
    fn(o, nearest[k] as number, r * cols + c);
  });
}

/** The picture of plane `index` of a view. */
export function reslice(volume: ScanVolume, spec: VolumeViewSpec, index: number): VolumePlaneImage {
  checkPlaneIndex(spec, index);
  const grid = volume.grid;
  const { width, height } = spec;
  const n = width * height;
  let exact = true;
  let out: Int16Array | Float32Array;
  if (!grid.resampling) {
    out = volume.valueType === 'int16' ? new Int16Array(n) : new Float32Array(n);
    const st = strides(grid);
    const h = spec.horizontal;
    const vv = spec.vertical;
    const sh = h.flip ? -(st[h.axis] as number) : (st[h.axis] as number);
    const sv = vv.flip ? -(st[vv.axis] as number) : (st[vv.axis] as number);
    const start =
      index * (st[spec.normalAxis] as number) + (h.flip ? (spec.width - 1) * (st[h.axis] as number) : 0) + (vv.flip ? (spec.height - 1) * (st[vv.axis] as number) : 0);
    const src = volume.data;
    for (let y = 0, o = 0; y < height; y++) {
      let a = start + y * sv;
      for (let x = 0; x < width; x++, o++, a += sh) out[o] = src[a] as number;
    }
  } else {
    const values = new Float32Array(n);
    exact = resampleInto(volume, spec, index, values);
    if (exact && volume.valueType === 'int16') out = Int16Array.from(values);
    else out = values;
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = out[i] as number;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const first = viewPixelToVoxel(spec, index, 0, 0);
  return {
    seriesId: volume.seriesId,
    plane: spec.plane,
    index,
    width,
    height,
    dtype: out instanceof Int16Array ? 'int16' : 'float32',
    data: out,
    slope: volume.slope,
    intercept: volume.intercept,
    min: n ? min : 0,
    max: n ? max : 0,
    pixelSpacing: spec.pixelSpacing,
    imageOrientationPatient: [...spec.rowDirection, ...spec.columnDirection],
    imagePositionPatient: voxelToPatient(grid, first[0], first[1], first[2]),
    exact,
    interpolation: exact ? null : grid.resampling?.interpolation ?? null,
  };
}

/**
 * Trilinear sampling of a resampled view (see volume-grid.ts). Returns true when every pixel
 * landed exactly on an acquired voxel (the plane coincides with acquired data).
 */
function resampleInto(volume: ScanVolume, spec: VolumeViewSpec, index: number, out: Float32Array): boolean {
  const grid = volume.grid;
  const cols = grid.columns;
  const rows = grid.rows;
  const size = cols * rows;
  const data = volume.data;
  const pad = volume.padding;
  let exact = true;
  const bracket = Array.from({ length: grid.dims[2] }, (_, k) => (spec.normalAxis !== 2 || k === index ? acquiredBracket(grid, k) : null));
  // Bilinear sample of acquired slice s at continuous column x, row y; NaN outside its footprint.
  const sample = (s: number, x: number, y: number): number => {
    if (x < -1e-6 || y < -1e-6 || x > cols - 1 + 1e-6 || y > rows - 1 + 1e-6) return NaN;
    const xc = Math.min(Math.max(x, 0), cols - 1);
    const yc = Math.min(Math.max(y, 0), rows - 1);
    const x0 = Math.floor(xc);
    const y0 = Math.floor(yc);
    const x1 = Math.min(x0 + 1, cols - 1);
    const y1 = Math.min(y0 + 1, rows - 1);
    const fx = xc - x0;
    const fy = yc - y0;
    const b = s * size;
    const v00 = data[b + y0 * cols + x0] as number;
    if (fx === 0 && fy === 0) return v00;
    const v01 = data[b + y0 * cols + x1] as number;
    const v10 = data[b + y1 * cols + x0] as number;
    const v11 = data[b + y1 * cols + x1] as number;
    return (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
  };
  walkPlane(spec, index, (o, i, j, k) => {
    {
      const br = bracket[k] as { s: number; s1: number; t: number };
      const xs = i + (grid.shiftColumns[br.s] as number);
      const ys = j + (grid.shiftRows[br.s] as number);
      let v = sample(br.s, xs, ys);
      if (br.t > 0) {
        const v1 = sample(br.s1, i + (grid.shiftColumns[br.s1] as number), j + (grid.shiftRows[br.s1] as number));
        v = v * (1 - br.t) + v1 * br.t;
        exact = false;
      } else if (xs !== Math.round(xs) || ys !== Math.round(ys)) {
        exact = false;
      }
      if (Number.isNaN(v)) {
        v = pad;
        exact = false;
      }
      out[o] = v;
    }
  });
  return exact;
}
