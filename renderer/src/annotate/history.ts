/**
 * Undo/redo as inverse deltas (after Excalidraw's History): an edit is
 * recorded as the ops that undo it; undoing applies them and records their
 * inverse for redo. Ops name annotations by id and carry only what changed:
 *
 *   add(id)              the row becomes visible (a restore of a deleted row)
 *   remove(id)           the row is deleted (kept as status 'deleted')
 *   change(id, from, to) class and/or geometry
 *
 * A first creation is not an op (the id does not exist before): its undo is
 * remove(id) and its redo add(id), so ids stay stable across undo and redo.
 *
 * One History per image (or frame); applying ops is injected, so this is pure
 * and unit-tested in Node. An apply that fails (a CONFLICT because another
 * window changed the row) drops the entry instead of corrupting the stacks.
 */
import type { AnnotationGeometry } from '../../../electron/contract/domain';

export interface AnnotationFields {
  classId: number;
  geometry: AnnotationGeometry | null;
}

export type Op = { op: 'add'; id: number } | { op: 'remove'; id: number } | { op: 'change'; id: number; from: AnnotationFields; to: AnnotationFields };

export function invertOp(op: Op): Op {
  switch (op.op) {
    case 'add':
      return { op: 'remove', id: op.id };
    case 'remove':
      return { op: 'add', id: op.id };
    case 'change':
      return { op: 'change', id: op.id, from: op.to, to: op.from };
  }
}

/** The delta that undoes `ops` (applied in reverse order). */
export function invertDelta(ops: readonly Op[]): Op[] {
  return ops.slice().reverse().map(invertOp);
}

export interface HistoryEntry {
  /** What the user did, for the undo button's title ("Draw box", "Interpolate 3 slices"). */
  label: string;
  /** The ops that take the document back to before the edit. */
  inverse: Op[];
}

/** Applies ops in order; resolves false (and has applied nothing further) when one fails. */
export type ApplyOps = (ops: readonly Op[]) => Promise<boolean>;

export class History {
  readonly #undo: HistoryEntry[] = [];
  readonly #redo: HistoryEntry[] = [];
  readonly #limit: number;

  constructor(limit = 500) {
    this.#limit = limit;
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

  /** Record an edit that was applied as `forward` ops; clears redo. */
  record(label: string, forward: readonly Op[]): void {
    this.push({ label, inverse: invertDelta(forward) });
  }

  /** Record an entry an action built (its inverse delta); clears redo. */
  push(entry: HistoryEntry): void {
    if (entry.inverse.length === 0) return;
    this.#undo.push(entry);
    if (this.#undo.length > this.#limit) this.#undo.shift();
    this.#redo.length = 0;
  }

  async undo(apply: ApplyOps): Promise<boolean> {
    return this.#step(this.#undo, this.#redo, apply);
  }

  async redo(apply: ApplyOps): Promise<boolean> {
    return this.#step(this.#redo, this.#undo, apply);
  }

  async #step(from: HistoryEntry[], to: HistoryEntry[], apply: ApplyOps): Promise<boolean> {
    const entry = from.pop();
    if (!entry) return false;
    if (!(await apply(entry.inverse))) return false;
    to.push({ label: entry.label, inverse: invertDelta(entry.inverse) });
    return true;
  }

  clear(): void {
    this.#undo.length = 0;
    this.#redo.length = 0;
  }
}
