/**
 * Edits as action objects (after Excalidraw's actions): each action's
 * `perform` saves its change through an EditContext and returns the inverse
 * delta that undoes it (history.ts), with the history it belongs to; the
 * EditRunner (edit-runner.ts) runs actions in one ordered save queue and
 * records what they return. Undo and redo are actions too: they apply a
 * history entry's ops through the same requests, so an undo is saved like
 * any edit.
 *
 * Actions read the document when they run, not when they are queued (a key
 * pressed right after a shape was drawn sees that shape). They hold no UI
 * state: the caller clears drafts and strokes around them.
 */
import type { Annotation, AnnotationGeometry, LabelSchema } from '../../../electron/contract/domain';
import type { RequestInput, RequestName, Responses } from '../../../electron/contract/api';
import { invertDelta, type History, type HistoryEntry, type Op } from './history';
import { between, interpolateBox, interpolateMasks } from './interpolate';
import { maskArea, maskToRle, rleToMask } from './mask';

/** The displayed image: which item and frame, its size, and its series. */
export interface ViewKey {
  itemId: number;
  frame: number;
  frames: number;
  width: number;
  height: number;
  seriesId: number | null;
}

export interface StackEntry {
  itemId: number;
  frame: number;
}

/** One History per image, or per frame of a multi-frame image. */
export function historyKey(itemId: number, frame: number | null): string {
  return `${itemId}:${frame ?? 'all'}`;
}

export function viewHistoryKey(v: ViewKey): string {
  return historyKey(v.itemId, v.frames > 1 ? v.frame : null);
}

/** Where a new label on the displayed image goes (the frame only for multi-frame images). */
export function targetOf(v: ViewKey): { itemId: number; frame?: number } {
  return { itemId: v.itemId, ...(v.frames > 1 ? { frame: v.frame } : {}) };
}

/** What an action may use: the labels shown and the saving primitives of the labeling state. */
export interface EditContext {
  readonly view: ViewKey | null;
  readonly annotations: readonly Annotation[];
  readonly schema: LabelSchema | null;
  /** The last saved row for an id (its version is what the next write names). */
  known(id: number): Annotation | undefined;
  /** Send one write; null when it failed (the context has shown why, and reloads on a CONFLICT). */
  call<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Responses[K] | null>;
  /** A saved row of the displayed image: remember its version, show or hide it. */
  absorb(a: Annotation): void;
  /** A saved row elsewhere (another slice): remember its version only. */
  remember(a: Annotation): void;
  /** The backend moved an untouched image to in_progress with its first label. */
  started(): void;
  notice(text: string): void;
}

/** What an action did: the history it goes to and the entry that undoes it. */
export interface ActionResult {
  key: string;
  entry: HistoryEntry;
}

export interface EditAction<Args> {
  readonly name: string;
  /** Save the change; the inverse delta of what was saved, or null when nothing was. */
  perform(ctx: EditContext, args: Args): Promise<ActionResult | null>;
}

function recorded(key: string, label: string, forward: Op[]): ActionResult | null {
  return forward.length ? { key, entry: { label, inverse: invertDelta(forward) } } : null;
}

function latest(ctx: EditContext, a: Annotation): Annotation {
  return ctx.known(a.id) ?? a;
}

/** New shapes on the displayed image, one undo step (a drawn box; click-to-mask's polygons). */
export const createShapes: EditAction<{ view: ViewKey; classId: number; kind: 'box' | 'polygon' | 'mask'; geometries: AnnotationGeometry[]; label: string }> = {
  name: 'createShapes',
  async perform(ctx, { view, classId, kind, geometries, label }) {
    const ops: Op[] = [];
    for (const geometry of geometries) {
      const a = await ctx.call('annotations.create', { ...targetOf(view), classId, kind, geometry } as RequestInput<'annotations.create'>);
      if (!a) break;
      ctx.absorb(a);
      ops.push({ op: 'add', id: a.id });
    }
    if (ops.length) ctx.started();
    return recorded(viewHistoryKey(view), label, ops);
  },
};

export const changeGeometry: EditAction<{ key: string; annotation: Annotation; geometry: AnnotationGeometry; label: string }> = {
  name: 'changeGeometry',
  async perform(ctx, { key, annotation, geometry, label }) {
    const known = latest(ctx, annotation);
    const r = await ctx.call('annotations.update', { id: known.id, expectedVersion: known.version, geometry });
    if (!r) return null;
    ctx.absorb(r);
    return recorded(key, label, [{ op: 'change', id: r.id, from: { classId: known.classId, geometry: known.geometry }, to: { classId: r.classId, geometry: r.geometry } }]);
  },
};

export const changeClass: EditAction<{ key: string; annotation: Annotation; classId: number }> = {
  name: 'changeClass',
  async perform(ctx, { key, annotation, classId }) {
    const known = latest(ctx, annotation);
    const r = await ctx.call('annotations.update', { id: known.id, expectedVersion: known.version, classId });
    if (!r) return null;
    ctx.absorb(r);
    return recorded(key, 'Change class', [{ op: 'change', id: r.id, from: { classId: known.classId, geometry: known.geometry }, to: { classId: r.classId, geometry: r.geometry } }]);
  },
};

export const deleteAnnotation: EditAction<{ key: string; annotation: Annotation; label: string }> = {
  name: 'deleteAnnotation',
  async perform(ctx, { key, annotation, label }) {
    const known = latest(ctx, annotation);
    const r = await ctx.call('annotations.delete', { id: known.id, expectedVersion: known.version });
    if (!r) return null;
    ctx.absorb(r);
    return recorded(key, label, [{ op: 'remove', id: r.id }]);
  },
};

/**
 * A class key: toggles the class on the image (or, with `series`, on the whole series). In a
 * single-label dataset it replaces the image's class, as one undoable step.
 */
export const toggleClass: EditAction<{ view: ViewKey; classId: number; series: boolean }> = {
  name: 'toggleClass',
  async perform(ctx, { view: v, classId, series }) {
    if (ctx.view !== v) return null;
    const frame = v.frames > 1 ? v.frame : null;
    const atLevel = ctx.annotations.filter(
      (a) => a.kind === 'class' && a.status === 'active' && (series ? a.seriesId === v.seriesId : a.itemId === v.itemId && a.frame === frame),
    );
    const same = atLevel.find((a) => a.classId === classId);
    const replace = same ? [same] : ctx.schema?.multiLabel ? [] : atLevel;
    const ops: Op[] = [];
    for (const old of replace) {
      const known = latest(ctx, old);
      const r = await ctx.call('annotations.delete', { id: old.id, expectedVersion: known.version });
      if (!r) return null;
      ctx.absorb(r);
      ops.push({ op: 'remove', id: old.id });
    }
    if (!same) {
      const a = await ctx.call(
        'annotations.create',
        (series ? { seriesId: v.seriesId as number, classId, kind: 'class' } : { ...targetOf(v), classId, kind: 'class' }) as RequestInput<'annotations.create'>,
      );
      if (a) {
        ctx.absorb(a);
        if (!series) ctx.started();
        ops.push({ op: 'add', id: a.id });
      }
    }
    const name = ctx.schema?.classes.find((c) => c.id === classId)?.name ?? 'class';
    return recorded(viewHistoryKey(v), same ? `Remove ${name}` : `Label ${name}`, ops);
  },
};

/** Shapes saved on other slices of the stack (copy to the next slice, interpolation): one undo step. */
export const createOnSlices: EditAction<{
  key: string;
  label: (count: number) => string;
  view: ViewKey;
  /** Decided when the action runs (the selection or the shapes drawn just before). */
  shapes: () => { entry: StackEntry; classId: number; kind: Annotation['kind']; geometry: AnnotationGeometry }[];
  /** Called with what was asked and what was saved. */
  onDone?: (asked: number, saved: number) => void;
}> = {
  name: 'createOnSlices',
  async perform(ctx, { key, label, view: v, shapes, onDone }) {
    const list = shapes();
    const ops: Op[] = [];
    for (const s of list) {
      const multi = s.entry.itemId === v.itemId && v.frames > 1;
      const a = await ctx.call('annotations.create', {
        itemId: s.entry.itemId,
        ...(multi ? { frame: s.entry.frame } : {}),
        classId: s.classId,
        kind: s.kind,
        geometry: s.geometry,
      } as RequestInput<'annotations.create'>);
      if (!a) break;
      ctx.remember(a);
      ops.push({ op: 'add', id: a.id });
    }
    onDone?.(list.length, ops.length);
    return recorded(key, label(ops.length), ops);
  },
};

/** Apply ops in order through the backend (undo and redo); false at the first that fails. */
export async function applyOps(ctx: EditContext, ops: readonly Op[]): Promise<boolean> {
  for (const op of ops) {
    const known = ctx.known(op.id);
    if (!known) return false;
    const r =
      op.op === 'add'
        ? await ctx.call('annotations.restore', { id: op.id, expectedVersion: known.version })
        : op.op === 'remove'
          ? await ctx.call('annotations.delete', { id: op.id, expectedVersion: known.version })
          : await ctx.call('annotations.update', {
              id: op.id,
              expectedVersion: known.version,
              classId: op.to.classId,
              ...(op.to.geometry ? { geometry: op.to.geometry } : {}),
            });
    if (!r) return false;
    ctx.absorb(r);
  }
  return true;
}

/** Undo: an ordinary action that applies the history's top entry (History moves it to redo). */
export const undo: EditAction<{ history: History }> = {
  name: 'undo',
  async perform(ctx, { history }) {
    await history.undo((ops) => applyOps(ctx, ops));
    return null;
  },
};

export const redo: EditAction<{ history: History }> = {
  name: 'redo',
  async perform(ctx, { history }) {
    await history.redo((ops) => applyOps(ctx, ops));
    return null;
  },
};

/**
 * Where interpolation from `sel` (a box or mask on slice `index`) goes: to the nearest slice with a
 * shape of the same class and kind, filling every slice between that has none. A message instead
 * when there is nothing to do.
 */
export function planInterpolation(
  sel: Annotation,
  series: readonly Annotation[],
  stack: readonly StackEntry[],
  index: number,
): { shapes: { entry: StackEntry; geometry: AnnotationGeometry }[] } | { message: string } {
  if ((sel.kind !== 'box' && sel.kind !== 'mask') || !sel.geometry) return { message: 'Select a box or a mask to interpolate from.' };
  const slotOf = (a: Annotation): number => stack.findIndex((e) => e.itemId === a.itemId && (a.frame === null || a.frame === e.frame));
  const same = series.filter((a) => a.kind === sel.kind && a.classId === sel.classId && a.status === 'active' && a.itemId !== null);
  const taken: readonly number[] = same.map(slotOf);
  let other = -1;
  for (let d = 1; d < stack.length && other < 0; d++) {
    for (const j of [index + d, index - d]) {
      if (j >= 0 && j < stack.length && taken.includes(j) && j !== index) {
        other = j;
        break;
      }
    }
  }
  const partner = same.find((a) => slotOf(a) === other);
  if (!partner || !partner.geometry) return { message: 'Interpolation needs another slice with the same class and kind of shape.' };
  const slots = between(index, other).filter((s) => !taken.includes(s.index));
  if (!slots.length) return { message: 'The slices between are already labelled.' };
  const geometries: AnnotationGeometry[] = [];
  if (sel.kind === 'box' && 'width' in sel.geometry && 'width' in partner.geometry) {
    for (const s of slots) geometries.push(interpolateBox(sel.geometry, partner.geometry, s.t));
  } else if ('rle' in sel.geometry && 'rle' in partner.geometry) {
    const masks = interpolateMasks(rleToMask(sel.geometry.rle), rleToMask(partner.geometry.rle), slots.map((s) => s.t));
    for (const m of masks) geometries.push({ rle: maskToRle(m) });
  }
  const shapes: { entry: StackEntry; geometry: AnnotationGeometry }[] = [];
  slots.forEach((s, i) => {
    const g = geometries[i];
    if (!g || ('rle' in g && maskArea(rleToMask(g.rle)) === 0)) return;
    shapes.push({ entry: stack[s.index] as StackEntry, geometry: g });
  });
  return { shapes };
}
