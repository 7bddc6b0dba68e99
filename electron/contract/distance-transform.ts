/**
 * The exact Euclidean distance transform of a mask, shared by the renderer (brush interpolation,
 * renderer/src/annotate) and the core (click placement for model help, electron/core/assist). It
 * lives in the contract because the renderer may import only the contract, and two copies of the
 * same algorithm would drift. Pure: no imports.
 */

/**
 * Euclidean distance transform (Felzenszwalb & Huttenlocher): for each pixel, the distance to
 * the nearest pixel where `inside(i)` is true (0 there). Exact, O(pixels).
 */
export function distanceTransform(width: number, height: number, inside: (i: number) => boolean): Float64Array {
  const INF = 1e20;
  const f = new Float64Array(width * height);
  for (let i = 0; i < f.length; i++) f[i] = inside(i) ? 0 : INF;
  const n = Math.max(width, height);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const line = new Float64Array(n);
  const pass = (len: number, get: (k: number) => number, set: (k: number, val: number) => void): void => {
    for (let k = 0; k < len; k++) line[k] = get(k);
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    const meet = (q: number, p: number): number => ((line[q] as number) + q * q - ((line[p] as number) + p * p)) / (2 * q - 2 * p);
    for (let q = 1; q < len; q++) {
      let s = meet(q, v[k] as number);
      while (s <= (z[k] as number)) {
        k--;
        s = meet(q, v[k] as number);
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while ((z[k + 1] as number) < q) k++;
      const p = v[k] as number;
      d[q] = (q - p) * (q - p) + (line[p] as number);
    }
    for (let q = 0; q < len; q++) set(q, d[q] as number);
  };
  for (let x = 0; x < width; x++) pass(height, (k) => f[k * width + x] as number, (k, val) => (f[k * width + x] = val));
  for (let y = 0; y < height; y++) pass(width, (k) => f[y * width + k] as number, (k, val) => (f[y * width + k] = val));
  for (let i = 0; i < f.length; i++) f[i] = Math.sqrt(f[i] as number);
  return f;
}
