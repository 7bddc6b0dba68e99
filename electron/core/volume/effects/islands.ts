/**
 * Islands: the connected components of a segment, 6-connected (voxels that share a face, the
 * default of scipy.ndimage.label in 3-D and of 3D Slicer's Islands effect).
 *
 * Labelled on runs, not voxels: each row of each slice is cut into runs of on voxels; a run joins
 * (union-find) every run it overlaps in the row above and in the same row of the slice below. So
 * the memory follows the number of runs (a few per row), never a label per voxel of the volume.
 */
import type { LabelVolume } from '../label-volume';
import { anyOn } from './dense';

export interface Components {
  /** Per run: slice, row, first and one-past-last column. */
  slice: Int32Array;
  row: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Per run: its component (a root run index). */
  component: Int32Array;
  /** Voxels per component, by root run index (0 for non-roots). */
  size: Float64Array;
  count: number;
}

function find(parent: Int32Array, a: number): number {
  let r = a;
  while (parent[r] !== r) r = parent[r] as number;
  while (parent[a] !== r) {
    const next = parent[a] as number;
    parent[a] = r;
    a = next;
  }
  return r;
}

export function components(labels: LabelVolume, classId: number): Components {
  const cols = labels.columns;
  const rows = labels.rows;
  let cap = 1024;
  let sl: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let rw: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let st: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let en: Int32Array<ArrayBuffer> = new Int32Array(cap);
  let n = 0;
  const push = (s: number, r: number, a: number, b: number): void => {
    if (n === cap) {
      cap *= 2;
      const grow = (x: Int32Array): Int32Array<ArrayBuffer> => {
        const y = new Int32Array(cap);
        y.set(x);
        return y;
      };
      sl = grow(sl);
      rw = grow(rw);
      st = grow(st);
      en = grow(en);
    }
    sl[n] = s;
    rw[n] = r;
    st[n] = a;
    en[n] = b;
    n++;
  };
  // Runs of each (slice, row), as [first, last) indices into the run arrays.
  const rowFirst = new Map<number, number>();
  const rowEnd = new Map<number, number>();
  for (const s of labels.slicesOf(classId)) {
    const m = labels.mask(classId, s) as Uint8Array;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const first = n;
      let c = 0;
      while (c < cols) {
        while (c < cols && !m[o + c]) c++;
        if (c >= cols) break;
        const a = c;
        while (c < cols && m[o + c]) c++;
        push(s, r, a, c);
      }
      if (n > first) {
        rowFirst.set(s * rows + r, first);
        rowEnd.set(s * rows + r, n);
      }
    }
  }
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const union = (a: number, b: number): void => {
    const ra = find(parent, a);
    const rb = find(parent, b);
    if (ra === rb) return;
    // The lower index stays root: components are named by their first run.
    if (ra < rb) parent[rb] = ra;
    else parent[ra] = rb;
  };
  const join = (i0: number, i1: number, key: number): void => {
    const f = rowFirst.get(key);
    if (f === undefined) return;
    const e = rowEnd.get(key) as number;
    let j = f;
    for (let i = i0; i < i1; i++) {
      // Both lists are sorted by column: walk them together.
      while (j < e && (en[j] as number) <= (st[i] as number)) j++;
      for (let k = j; k < e && (st[k] as number) < (en[i] as number); k++) union(i, k);
    }
  };
  for (const [key, first] of rowFirst) {
    const end = rowEnd.get(key) as number;
    const s = Math.floor(key / rows);
    const r = key % rows;
    if (r > 0) join(first, end, key - 1);
    if (s > 0) join(first, end, (s - 1) * rows + r);
  }
  const component = new Int32Array(n);
  const size = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const root = find(parent, i);
    component[i] = root;
    if (root === i) count++;
    size[root] = (size[root] as number) + (en[i] as number) - (st[i] as number);
  }
  return { slice: sl.subarray(0, n), row: rw.subarray(0, n), start: st.subarray(0, n), end: en.subarray(0, n), component, size, count };
}

/** The component holding voxel (column, row, slice), or -1. */
export function componentAt(c: Components, column: number, row: number, slice: number): number {
  for (let i = 0; i < c.slice.length; i++) {
    if (c.slice[i] === slice && c.row[i] === row && (c.start[i] as number) <= column && column < (c.end[i] as number)) return c.component[i] as number;
  }
  return -1;
}

/** The largest component (ties: the one met first in slice, row, column order), or -1. */
export function largestComponent(c: Components): number {
  let best = -1;
  for (let i = 0; i < c.size.length; i++) if (c.component[i] === i && (best < 0 || (c.size[i] as number) > (c.size[best] as number))) best = i;
  return best;
}

/** New slice masks keeping only the components for which `keep(root)` is true (changed slices only). */
export function keepComponents(labels: LabelVolume, classId: number, c: Components, keep: (root: number) => boolean): Map<number, Uint8Array | null> {
  const cols = labels.columns;
  const out = new Map<number, Uint8Array | null>();
  const drop = new Map<number, number[]>();
  for (let i = 0; i < c.slice.length; i++) {
    if (keep(c.component[i] as number)) continue;
    const s = c.slice[i] as number;
    const list = drop.get(s) ?? [];
    list.push(i);
    drop.set(s, list);
  }
  for (const [s, runs] of drop) {
    const next = (labels.mask(classId, s) as Uint8Array).slice();
    for (const i of runs) next.fill(0, (c.row[i] as number) * cols + (c.start[i] as number), (c.row[i] as number) * cols + (c.end[i] as number));
    out.set(s, anyOn(next) ? next : null);
  }
  return out;
}
