/**
 * The segments of a series as volumes on the acquisition grid, held in the core.
 *
 * A segment is a label class of the series' dataset; its voxels on acquired slice s are the
 * union of that class's active mask and polygon annotations on the image (frame) of slice s.
 * So the rows stay the truth (exports, import round trips, the 2-D viewer read them unchanged)
 * and this is a view over them, rebuilt whenever the rows change behind it.
 *
 * Memory: one byte a voxel, per segment, only on the slices where the segment has voxels
 * (an empty slice holds nothing), plus a voxel count per slice.
 */
export class LabelVolume {
  readonly columns: number;
  readonly rows: number;
  readonly slices: number;
  readonly #masks = new Map<number, (Uint8Array | null)[]>();
  readonly #counts = new Map<number, Int32Array>();

  constructor(columns: number, rows: number, slices: number) {
    this.columns = columns;
    this.rows = rows;
    this.slices = slices;
  }

  get sliceSize(): number {
    return this.columns * this.rows;
  }

  /** Row-major mask of a segment on acquired slice s (0/1), or null when it has no voxel there. Do not modify. */
  mask(classId: number, s: number): Uint8Array | null {
    return this.#masks.get(classId)?.[s] ?? null;
  }

  /**
   * Replace a segment's mask on slice s (null or all zero: none). The array is kept, not copied.
   * `voxels`, when the caller knows it, saves counting them.
   */
  setMask(classId: number, s: number, mask: Uint8Array | null, voxels?: number): void {
    let list = this.#masks.get(classId);
    let counts = this.#counts.get(classId);
    if (!list || !counts) {
      list = new Array<Uint8Array | null>(this.slices).fill(null);
      counts = new Int32Array(this.slices);
      this.#masks.set(classId, list);
      this.#counts.set(classId, counts);
    }
    let n = voxels ?? 0;
    if (mask && voxels === undefined) for (let i = 0; i < mask.length; i++) n += mask[i] ? 1 : 0;
    list[s] = n > 0 ? mask : null;
    counts[s] = n;
  }

  /** OR a mask into a segment's slice (reading the stored rows: several rows of a class on one image add up). */
  orMask(classId: number, s: number, mask: Uint8Array): void {
    const current = this.mask(classId, s);
    if (!current) {
      this.setMask(classId, s, Uint8Array.from(mask, (x) => (x ? 1 : 0)));
      return;
    }
    const merged = current.slice();
    for (let i = 0; i < mask.length; i++) if (mask[i]) merged[i] = 1;
    this.setMask(classId, s, merged);
  }

  /** Voxels of a segment (on every slice, or on one). */
  voxels(classId: number, s?: number): number {
    const c = this.#counts.get(classId);
    if (!c) return 0;
    if (s !== undefined) return c[s] ?? 0;
    let n = 0;
    for (const x of c) n += x;
    return n;
  }

  /** Segments with at least one voxel. */
  classIds(): number[] {
    return [...this.#masks.keys()].filter((id) => this.voxels(id) > 0);
  }

  /** Slices where the segment has voxels, ascending. */
  slicesOf(classId: number): number[] {
    const c = this.#counts.get(classId);
    const out: number[] = [];
    if (c) for (let s = 0; s < c.length; s++) if ((c[s] as number) > 0) out.push(s);
    return out;
  }

  /** Bytes of mask data held. */
  bytes(): number {
    let n = 0;
    for (const list of this.#masks.values()) for (const m of list) n += m?.byteLength ?? 0;
    return n;
  }

  clear(): void {
    this.#masks.clear();
    this.#counts.clear();
  }
}

/** New masks of the slices an edit changes: classId -> slice -> mask (null: empty). */
export type SliceChanges = Map<number, Map<number, Uint8Array | null>>;

export function addChange(changes: SliceChanges, classId: number, s: number, mask: Uint8Array | null): void {
  let m = changes.get(classId);
  if (!m) changes.set(classId, (m = new Map()));
  m.set(s, mask);
}
