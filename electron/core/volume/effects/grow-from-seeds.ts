/**
 * Grow from seeds: the segments' painted voxels compete for the rest of a region, each voxel going
 * to the seed it is "closest" to along a path through similar values. This is the shortest-path
 * form of GrowCut (Zhu et al., "An effective interactive medical image segmentation method using
 * Fast GrowCut", MICCAI IMIC workshop 2014; 3D Slicer's Grow from seeds): a multi-source Dijkstra
 * on the 6-connected voxel graph where stepping from p to a face neighbour q costs
 *     |value(q) - value(p)| + 1
 * (value: modality units, HU for CT; the +1 a voxel makes flat regions split by distance). A voxel
 * takes the segment of the cheapest seed; equal costs go to the segment listed first. That is the
 * same as labelling each voxel with argmin over segments of (its cheapest path from that segment's
 * seeds, the segment's order), which the tests check against a per-segment Dijkstra.
 *
 * The region is the box around all seeds grown by a fifth of its size on each side (at least 3
 * voxels), within the volume; voxels outside it do not change. Memory: 17 bytes a voxel of the box.
 */

export interface GrowInput {
  /** Box sizes [x, y, z]. */
  dims: [number, number, number];
  /** Value of each voxel of the box (modality units). */
  values: Float32Array;
  /** 0 unlabelled, else 1 + the segment's position in the list (seeds). */
  seeds: Uint8Array;
}

/** Each voxel's segment (1-based, as the seeds); 0 where no seed can reach (a region without seeds). */
export function growFromSeeds(input: GrowInput): Uint8Array {
  const [nx, ny, nz] = input.dims;
  const n = nx * ny * nz;
  const values = input.values;
  const dist = new Float64Array(n).fill(Infinity);
  const label = new Uint8Array(n);
  const done = new Uint8Array(n);
  // Indexed binary heap ordered by (dist, label).
  const heap = new Int32Array(n);
  const pos = new Int32Array(n).fill(-1);
  let size = 0;
  const less = (a: number, b: number): boolean => (dist[a] as number) < (dist[b] as number) || ((dist[a] as number) === (dist[b] as number) && (label[a] as number) < (label[b] as number));
  const up = (i: number): void => {
    const v = heap[i] as number;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pv = heap[p] as number;
      if (!less(v, pv)) break;
      heap[i] = pv;
      pos[pv] = i;
      i = p;
    }
    heap[i] = v;
    pos[v] = i;
  };
  const down = (i: number): void => {
    const v = heap[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && less(heap[r] as number, heap[l] as number) ? r : l;
      const cv = heap[c] as number;
      if (!less(cv, v)) break;
      heap[i] = cv;
      pos[cv] = i;
      i = c;
    }
    heap[i] = v;
    pos[v] = i;
  };
  for (let i = 0; i < n; i++) {
    if (input.seeds[i]) {
      dist[i] = 0;
      label[i] = input.seeds[i] as number;
      heap[size] = i;
      pos[i] = size;
      size++;
      up(size - 1);
    }
  }
  const sxy = nx * ny;
  const relax = (p: number, q: number): void => {
    if (done[q]) return;
    const d = (dist[p] as number) + Math.abs((values[q] as number) - (values[p] as number)) + 1;
    const lp = label[p] as number;
    if (d < (dist[q] as number) || (d === (dist[q] as number) && lp < (label[q] as number))) {
      dist[q] = d;
      label[q] = lp;
      if (pos[q] === -1) {
        heap[size] = q;
        pos[q] = size;
        size++;
      }
      up(pos[q] as number);
    }
  };
  while (size > 0) {
    const p = heap[0] as number;
    size--;
    pos[p] = -2;
    if (size > 0) {
      heap[0] = heap[size] as number;
      pos[heap[0] as number] = 0;
      down(0);
    }
    done[p] = 1;
    const x = p % nx;
    const y = ((p - x) / nx) % ny;
    const z = (p - x - y * nx) / sxy;
    if (x > 0) relax(p, p - 1);
    if (x < nx - 1) relax(p, p + 1);
    if (y > 0) relax(p, p - nx);
    if (y < ny - 1) relax(p, p + nx);
    if (z > 0) relax(p, p - sxy);
    if (z < nz - 1) relax(p, p + sxy);
  }
  return label;
}
