/**
 * Undo/redo of a series' segmentation as inverse deltas, never copies of the volume.
 *
 * An edit's delta is, per (segment, slice) it changed, the voxels that flipped: the XOR of the
 * masks before and after, run-length encoded (column-major runs, zeros first: the contract's RLE
 * loops). XOR is its own inverse, so the same delta takes the volume back (undo) and forward again
 * (redo). A delta costs 4 bytes per run of flipped voxels: a brush stroke a few hundred bytes per
 * slice, a whole-volume threshold a few kilobytes per slice. The history keeps the newest entries
 * within a byte budget.
 */
import { paintRleCounts } from '../../contract/rle';

export interface SliceDelta {
  classId: number;
  slice: number;
  /** Runs of the XOR mask (zeros first). */
  runs: Int32Array;
}

export interface HistoryEntry {
  label: string;
  deltas: SliceDelta[];
  bytes: number;
}

/**
 * What an edit changes on one slice: the XOR of the masks before and after (null = empty) as
 * column-major runs (null when they are equal), and the voxels it turns on and off. One strided
 * pass, no scratch mask.
 */
export function xorDelta(before: Uint8Array | null, after: Uint8Array | null, rows: number, columns: number): { runs: Int32Array | null; added: number; removed: number } {
  const counts: number[] = [];
  let prev = 0;
  let run = 0;
  let added = 0;
  let removed = 0;
  for (let x = 0; x < columns; x++) {
    for (let i = x; i < rows * columns; i += columns) {
      const b = before ? (before[i] ? 1 : 0) : 0;
      const a = after ? (after[i] ? 1 : 0) : 0;
      const v = a ^ b;
      if (v) {
        if (a) added++;
        else removed++;
      }
      if (v !== prev) {
        counts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { runs: added + removed > 0 ? Int32Array.from(counts) : null, added, removed };
}

/** `mask` with the delta's voxels flipped (a new array; null when nothing is left). */
export function applyXor(mask: Uint8Array | null, runs: Int32Array, rows: number, columns: number): Uint8Array | null {
  const flip = new Uint8Array(rows * columns);
  paintRleCounts(Array.from(runs), rows, columns, flip);
  const out = mask ? mask.slice() : new Uint8Array(rows * columns);
  let any = false;
  for (let i = 0; i < out.length; i++) {
    if (flip[i]) out[i] = out[i] ? 0 : 1;
    if (out[i]) any = true;
  }
  return any ? out : null;
}

export class VolumeHistory {
  readonly #undo: HistoryEntry[] = [];
  readonly #redo: HistoryEntry[] = [];
  readonly #maxBytes: number;
  readonly #maxEntries: number;

  constructor(maxBytes = 128 * 2 ** 20, maxEntries = 200) {
    this.#maxBytes = maxBytes;
    this.#maxEntries = maxEntries;
  }

  static entry(label: string, deltas: SliceDelta[]): HistoryEntry {
    return { label, deltas, bytes: deltas.reduce((n, d) => n + d.runs.byteLength + 16, 0) };
  }

  get canUndo(): boolean {
    return this.#undo.length > 0;
  }
  get canRedo(): boolean {
    return this.#redo.length > 0;
  }
  get undoLabel(): string | null {
    return this.#undo.at(-1)?.label ?? null;
  }
  get redoLabel(): string | null {
    return this.#redo.at(-1)?.label ?? null;
  }

  /** A new edit: clears redo. */
  record(entry: HistoryEntry): void {
    this.#undo.push(entry);
    this.#redo.length = 0;
    this.#trim();
  }

  /** The entry to undo (removed); push it back with `undone` once applied. */
  takeUndo(): HistoryEntry | undefined {
    return this.#undo.pop();
  }
  takeRedo(): HistoryEntry | undefined {
    return this.#redo.pop();
  }
  undone(entry: HistoryEntry): void {
    this.#redo.push(entry);
  }
  redone(entry: HistoryEntry): void {
    this.#undo.push(entry);
    this.#trim();
  }
  /** Put an entry back where it came from (its apply failed). */
  restoreUndo(entry: HistoryEntry): void {
    this.#undo.push(entry);
  }
  restoreRedo(entry: HistoryEntry): void {
    this.#redo.push(entry);
  }

  bytes(): number {
    return [...this.#undo, ...this.#redo].reduce((n, e) => n + e.bytes, 0);
  }

  clear(): void {
    this.#undo.length = 0;
    this.#redo.length = 0;
  }

  #trim(): void {
    while (this.#undo.length > 1 && (this.#undo.length > this.#maxEntries || this.bytes() > this.#maxBytes)) this.#undo.shift();
  }
}
