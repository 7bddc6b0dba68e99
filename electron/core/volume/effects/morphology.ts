/**
 * Morphology on binary volumes with anisotropic voxels, in millimetres.
 *
 * Distances are Euclidean between voxel centres, in mm: the exact squared distance transform of
 * Felzenszwalb & Huttenlocher (2012), one pass per axis with that axis' spacing. On it:
 *   dilate(S, r) = { p : d(p, S) <= r }          (a ball of radius r mm as structuring element)
 *   erode(S, r)  = { p : d(p, not S) > r }       (outside the array counts as not S)
 *   open = dilate(erode), close = erode(dilate), with the same ball;
 *   shell(S, t)  = { p in S : d(p, not S) <= t } (hollow: keep a shell t mm thick inside the surface)
 * and the median (majority) filter: a voxel is on when more than half of the box of
 * kx * ky * kz voxels around it is (outside counts as off), which is the median of a binary image.
 *
 * Distances are kept as float32 squared mm; a comparison with r^2 allows a relative 1e-6 for
 * float rounding, so a voxel centre at exactly r is inside the ball.
 */

const INF = 1e20;

/**
 * Squared distance (mm^2) from every voxel to the nearest feature voxel: where `mask` is on
 * (`on` true) or off (`on` false).
 */
export function squaredDistance(dims: readonly [number, number, number], spacing: readonly [number, number, number], mask: Uint8Array, on: boolean): Float32Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = (mask[i] !== 0) === on ? 0 : INF;
  const s = new EnvelopeScratch(Math.max(nx, ny, nz));
  if (nx > 1) for (let zz = 0; zz < nz; zz++) for (let y = 0; y < ny; y++) envelopePass(f, nx, spacing[0], (zz * ny + y) * nx, 1, s);
  if (ny > 1) for (let zz = 0; zz < nz; zz++) for (let x = 0; x < nx; x++) envelopePass(f, ny, spacing[1], zz * ny * nx + x, nx, s);
  if (nz > 1) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) envelopePass(f, nz, spacing[2], y * nx + x, nx * ny, s);
  return f;
}

class EnvelopeScratch {
  readonly line: Float64Array;
  readonly out: Float64Array;
  readonly v: Int32Array;
  readonly z: Float64Array;
  constructor(n: number) {
    this.line = new Float64Array(n);
    this.out = new Float64Array(n);
    this.v = new Int32Array(n);
    this.z = new Float64Array(n + 1);
  }
}

/**
 * One 1-D pass of the lower envelope of parabolas w^2 (q - p)^2 + f(p) along a line of `len`
 * elements of f starting at `start`, `stride` apart. A top-level function over typed arrays so
 * that V8 keeps it monomorphic (a closure here ran ten times slower).
 */
function envelopePass(f: Float32Array, len: number, w: number, start: number, stride: number, s: EnvelopeScratch): void {
  const { line, out, v, z } = s;
  const w2 = w * w;
  // A line without any feature stays "far": skip it (most lines of a sparse segment).
  let any = false;
  for (let q = 0, a = start; q < len; q++, a += stride) {
    const x = f[a] as number;
    line[q] = x;
    if (x < INF) any = true;
  }
  if (!any) return;
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < len; q++) {
    const fq = (line[q] as number) + w2 * q * q;
    let p = v[k] as number;
    let sct = (fq - ((line[p] as number) + w2 * p * p)) / (2 * w2 * (q - p));
    while (sct <= (z[k] as number)) {
      k--;
      p = v[k] as number;
      sct = (fq - ((line[p] as number) + w2 * p * p)) / (2 * w2 * (q - p));
    }
    k++;
    v[k] = q;
    z[k] = sct;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < len; q++) {
    while ((z[k + 1] as number) < q) k++;
    const p = v[k] as number;
    const d = w2 * (q - p) * (q - p) + (line[p] as number);
    out[q] = d < INF ? d : INF;
  }
  for (let q = 0, a = start; q < len; q++, a += stride) f[a] = out[q] as number;
}

/** Squared-distance threshold for `within`: r^2 with room for float rounding. */
const limit = (r: number): number => r * r * (1 + 1e-6) + 1e-12;

export function dilate(mask: Uint8Array, dims: readonly [number, number, number], spacing: readonly [number, number, number], r: number): Uint8Array {
  const d = squaredDistance(dims, spacing, mask, true);
  const out = new Uint8Array(d.length);
  const l = limit(r);
  for (let i = 0; i < d.length; i++) out[i] = (d[i] as number) <= l ? 1 : 0;
  return out;
}

/** Erosion; the caller pads the array with background where the volume ends (outside is not S). */
export function erode(mask: Uint8Array, dims: readonly [number, number, number], spacing: readonly [number, number, number], r: number): Uint8Array {
  const d = squaredDistance(dims, spacing, mask, false);
  const out = new Uint8Array(d.length);
  const l = limit(r);
  for (let i = 0; i < d.length; i++) out[i] = mask[i] && (d[i] as number) > l ? 1 : 0;
  return out;
}

export function open(mask: Uint8Array, dims: readonly [number, number, number], spacing: readonly [number, number, number], r: number): Uint8Array {
  return dilate(erode(mask, dims, spacing, r), dims, spacing, r);
}

export function close(mask: Uint8Array, dims: readonly [number, number, number], spacing: readonly [number, number, number], r: number): Uint8Array {
  return erode(dilate(mask, dims, spacing, r), dims, spacing, r);
}

export function shell(mask: Uint8Array, dims: readonly [number, number, number], spacing: readonly [number, number, number], t: number): Uint8Array {
  const d = squaredDistance(dims, spacing, mask, false);
  const out = new Uint8Array(d.length);
  const l = limit(t);
  for (let i = 0; i < d.length; i++) out[i] = mask[i] && (d[i] as number) <= l ? 1 : 0;
  return out;
}

/** The odd number of voxels nearest to `mm` along an axis of spacing `s` (at least 1). */
export function kernelVoxels(mm: number, s: number): number {
  return 2 * Math.max(0, Math.floor((mm / s - 1) / 2 + 0.5)) + 1;
}

/** Majority (binary median) in a kx * ky * kz box (odd sizes); outside the array counts as off. */
export function majority(mask: Uint8Array, dims: readonly [number, number, number], kernel: readonly [number, number, number]): Uint8Array {
  const [nx, ny, nz] = dims;
  const counts = new Int32Array(mask.length);
  for (let i = 0; i < mask.length; i++) counts[i] = mask[i] ? 1 : 0;
  const longest = Math.max(nx, ny, nz);
  const line = new Int32Array(longest + 1);
  // Box sum along one axis by prefix sums: each voxel gets the count of the window centred on it.
  const pass = (len: number, half: number, start: number, stride: number): void => {
    if (half === 0) return;
    line[0] = 0;
    for (let q = 0, a = start; q < len; q++, a += stride) line[q + 1] = (line[q] as number) + (counts[a] as number);
    for (let q = 0, a = start; q < len; q++, a += stride) counts[a] = (line[Math.min(len, q + half + 1)] as number) - (line[Math.max(0, q - half)] as number);
  };
  const [hx, hy, hz] = [(kernel[0] - 1) / 2, (kernel[1] - 1) / 2, (kernel[2] - 1) / 2];
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) pass(nx, hx, (z * ny + y) * nx, 1);
  for (let z = 0; z < nz; z++) for (let x = 0; x < nx; x++) pass(ny, hy, z * ny * nx + x, nx);
  for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) pass(nz, hz, y * nx + x, nx * ny);
  const half = (kernel[0] * kernel[1] * kernel[2]) / 2;
  const out = new Uint8Array(counts.length);
  for (let i = 0; i < counts.length; i++) out[i] = (counts[i] as number) > half ? 1 : 0;
  return out;
}
