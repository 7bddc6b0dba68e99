/**
 * The labeling state of the viewer: the annotator, the dataset's label
 * schema, the annotations of the displayed image (or frame) and its series,
 * the active tool and class, and one undo history per image.
 *
 * Saving: every finished edit (a drawn box, a moved vertex, a brush stroke
 * on release, a class key) is sent at once through one ordered queue; there
 * is no save button. Each change names the version it edits (optimistic
 * concurrency); a CONFLICT reloads the image and drops nothing silently.
 * The UI shows the geometry optimistically while the request runs.
 *
 * Undo/redo: edits are recorded as inverse deltas (annotate/history.ts) in
 * the History of the image they changed; undoing applies the inverse through
 * the same requests (restore, delete, update), so an undo is saved too.
 * Accepting or rejecting a model proposal is a review decision, not an edit,
 * and is not undone by Ctrl+Z.
 */
import {
  DEFAULT_HOTKEYS,
  type Annotation,
  type AnnotationGeometry,
  type AnnotatorSettings,
  type HotkeyAction,
  type ItemStatus,
  type LabelSchema,
  type StatusInfo,
} from '../../../../electron/contract/domain';
import type { RequestInput, RequestName, Responses } from '../../../../electron/contract/api';
import { History, type Op } from '../../annotate/history';
import { eventKeyName, Keymap, normalizeKeyName } from '../../annotate/hotkeys';
import { between, interpolateBox, interpolateMasks } from '../../annotate/interpolate';
import { maskArea, maskToRle, rleToMask } from '../../annotate/mask';
import type { AnnotationTool, Draft, PromptHost, Stroke, ToolHost, ToolName, ToolPointer } from '../../annotate/tool';
import { createTools } from '../../annotate/tools';
import { request } from '../api';
import { AssistState } from './assist-state.svelte';
import type { SettingsState } from './settings-state.svelte';

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

/** What the viewer screen does for navigation keys. */
export interface Navigation {
  next(): void;
  previous(): void;
}

export const TOOL_ACTIONS: Record<ToolName, HotkeyAction> = {
  select: 'tool.select',
  box: 'tool.box',
  polygon: 'tool.polygon',
  brush: 'tool.brush',
  eraser: 'tool.eraser',
  sam: 'tool.sam',
};

function historyKey(itemId: number, frame: number | null): string {
  return `${itemId}:${frame ?? 'all'}`;
}

export class AnnotateState implements ToolHost {
  schema = $state.raw<LabelSchema | null>(null);
  view = $state.raw<ViewKey | null>(null);
  annotations = $state.raw<Annotation[]>([]);
  itemStatus = $state.raw<StatusInfo | null>(null);
  seriesStatus = $state.raw<(StatusInfo & { seriesId: number }) | null>(null);
  /** The annotation tool in use, or null when the viewer's own tools (W/L, pan, ...) are. */
  toolName = $state<ToolName | null>(null);
  activeClassId = $state<number | null>(null);
  /** Brush diameter in image pixels. */
  brushSize = $state(12);
  /** Where the pointer is over the image (image pixels), for the brush-size circle; null when outside. */
  hover = $state.raw<{ x: number; y: number } | null>(null);
  /** Hide every label drawn on the image (J), to read the pixels under them. */
  hideAll = $state(false);
  /** Opacity of the mask layer, 0 to 1. */
  maskOpacity = $state(1);
  selectedId = $state<number | null>(null);
  draft = $state.raw<Draft | null>(null);
  stroke = $state.raw<Stroke | null>(null);
  message = $state.raw<{ text: string; kind: 'error' | 'info' } | null>(null);
  /** Writes sent and not yet answered. */
  pending = $state(0);
  /** Writes saved in this session (the status bar shows it). */
  saved = $state(0);
  /** Bumped when any history changes (undo/redo buttons read it). */
  historyTick = $state(0);

  readonly #tools = createTools();
  readonly keymap = $derived(new Keymap(this.settings?.hotkeys ?? DEFAULT_HOTKEYS));
  readonly imageSize = $derived(this.view ? { width: this.view.width, height: this.view.height } : null);
  readonly classes = $derived(this.schema?.classes ?? []);
  readonly proposals = $derived(this.annotations.filter((a) => a.status === 'proposed'));
  readonly selected = $derived(this.annotations.find((a) => a.id === this.selectedId) ?? null);
  readonly tool: AnnotationTool | null = $derived(this.toolName ? this.#tools[this.toolName] : null);
  readonly canUndo = $derived.by(() => {
    void this.historyTick;
    return this.#currentHistory()?.canUndo ?? false;
  });
  readonly canRedo = $derived.by(() => {
    void this.historyTick;
    return this.#currentHistory()?.canRedo ?? false;
  });

  // Bookkeeping, never rendered: histories per image and the last known row of every annotation seen.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #histories = new Map<string, History>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #known = new Map<number, Annotation>();
  #queue: Promise<unknown> = Promise.resolve();
  #datasetId: number | null = null;
  readonly #settings: SettingsState;
  /** Click-to-mask and propagation (model help). */
  readonly assist: AssistState;

  /** The app's one SettingsState: the annotator's name and keys. */
  constructor(settings: SettingsState) {
    this.#settings = settings;
    this.assist = new AssistState(this);
  }

  /** The SAM tool's prompts (ToolHost). */
  get prompts(): PromptHost {
    return this.assist;
  }

  get settings(): AnnotatorSettings | null {
    return this.#settings.settings;
  }

  // ------------------------------------------------------------ loading

  get datasetId(): number | null {
    return this.#datasetId;
  }

  /** The viewer closed: forget the displayed image (histories stay for this session). */
  leave(): void {
    this.tool?.cancel(this);
    this.assist.leave();
    this.view = null;
    this.annotations = [];
    this.selectedId = null;
  }

  async loadSettings(): Promise<AnnotatorSettings | null> {
    await this.#settings.load();
    return this.settings;
  }

  async setAnnotatorName(name: string): Promise<boolean> {
    const ok = await this.#settings.setName(name);
    if (!ok) this.#error(this.#settings.error ?? 'The name could not be saved.');
    return ok;
  }

  async loadSchema(datasetId: number): Promise<void> {
    this.#datasetId = datasetId;
    const res = await request('classes.schema', { datasetId });
    if (!res.ok) return this.#error(res.error.message);
    this.schema = res.value;
    if (this.activeClassId === null || !res.value.classes.some((c) => c.id === this.activeClassId)) this.activeClassId = res.value.classes[0]?.id ?? null;
  }

  async reloadSchema(): Promise<void> {
    if (this.#datasetId !== null) await this.loadSchema(this.#datasetId);
  }

  /** Show the labels of an image (or frame); a no-op when it is already shown. */
  async showImage(v: ViewKey): Promise<void> {
    const cur = this.view;
    if (cur && cur.itemId === v.itemId && cur.frame === v.frame && cur.seriesId === v.seriesId) return;
    this.tool?.cancel(this);
    this.assist.leave();
    this.view = v;
    if (this.message?.kind === 'info') this.message = null;
    this.selectedId = null;
    this.draft = null;
    this.stroke = null;
    this.annotations = [];
    await this.reload();
  }

  /** Fetch the displayed image's labels and status again. */
  async reload(): Promise<void> {
    const v = this.view;
    if (!v) return;
    const res = await request('annotations.list', { itemId: v.itemId, ...(v.frames > 1 ? { frame: v.frame } : {}) });
    if (this.view !== v) return;
    if (!res.ok) return this.#error(res.error.message);
    for (const a of res.value.annotations) this.#known.set(a.id, a);
    this.annotations = res.value.annotations;
    this.itemStatus = res.value.item;
    this.seriesStatus = res.value.series;
    this.historyTick++;
  }

  // ------------------------------------------------------------ tools

  setTool(name: ToolName | null): void {
    this.tool?.cancel(this);
    if (name !== 'sam') this.assist.leave();
    this.toolName = name;
  }

  pointerDown(e: ToolPointer): void {
    this.tool?.down(this, e);
  }
  pointerMove(e: ToolPointer): void {
    this.tool?.move(this, e);
  }
  pointerHover(p: { x: number; y: number } | null): void {
    this.hover = p;
  }
  pointerUp(e: ToolPointer): void {
    this.tool?.up(this, e);
  }

  notice(text: string): void {
    this.message = { text, kind: 'info' };
  }

  #error(text: string): void {
    this.message = { text, kind: 'error' };
  }

  classColor(id: number): string {
    return this.classes.find((c) => c.id === id)?.color ?? '#4ea1ff';
  }

  // ------------------------------------------------------------ saving

  #enqueue(fn: () => Promise<void>): Promise<void> {
    this.pending++;
    const run = this.#queue.then(fn).finally(() => this.pending--);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Send a write; errors become a message, and a CONFLICT reloads the image. */
  async #call<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Responses[K] | null> {
    const res = await request(name, input);
    if (res.ok) {
      this.saved++;
      return res.value;
    }
    this.#error(res.error.message);
    if (res.error.code === 'CONFLICT' || res.error.code === 'NOT_FOUND') await this.reload();
    return null;
  }

  #inView(a: Annotation): boolean {
    const v = this.view;
    if (!v) return false;
    if (a.seriesId !== null) return a.seriesId === v.seriesId;
    return a.itemId === v.itemId && (a.frame === null || v.frames <= 1 || a.frame === v.frame);
  }

  /** Take a row the backend returned: remember its version, show or hide it. */
  #absorb(a: Annotation): void {
    this.#known.set(a.id, a);
    const rest = this.annotations.filter((x) => x.id !== a.id);
    const visible = (a.status === 'active' || a.status === 'proposed') && this.#inView(a);
    this.annotations = visible ? [...rest, a].sort((p, q) => p.id - q.id) : rest;
    if (!visible && this.selectedId === a.id) this.selectedId = null;
  }

  #viewKey(): string | null {
    const v = this.view;
    return v ? historyKey(v.itemId, v.frames > 1 ? v.frame : null) : null;
  }

  #history(key: string): History {
    let h = this.#histories.get(key);
    if (!h) this.#histories.set(key, (h = new History()));
    return h;
  }

  #currentHistory(): History | null {
    const k = this.#viewKey();
    return k ? (this.#histories.get(k) ?? null) : null;
  }

  #record(key: string, label: string, ops: Op[]): void {
    this.#history(key).record(label, ops);
    this.historyTick++;
  }

  #target(v: ViewKey): { itemId: number; frame?: number } {
    return { itemId: v.itemId, ...(v.frames > 1 ? { frame: v.frame } : {}) };
  }

  createShape(kind: 'box' | 'polygon' | 'mask', geometry: AnnotationGeometry, label: string): void {
    const v = this.view;
    const key = this.#viewKey();
    const classId = kind === 'mask' && this.stroke ? this.stroke.classId : this.activeClassId;
    if (!v || !key || classId === null) return;
    void this.#enqueue(async () => {
      const a = await this.#call('annotations.create', { ...this.#target(v), classId, kind, geometry } as RequestInput<'annotations.create'>);
      if (kind === 'mask') this.stroke = null;
      if (!a) return;
      this.#absorb(a);
      this.#started();
      this.#record(key, label, [{ op: 'add', id: a.id }]);
    });
  }

  /** Save several new shapes on the displayed image as ONE undoable edit (click-to-mask polygons). */
  createShapes(kind: 'polygon', geometries: AnnotationGeometry[], label: string): void {
    const v = this.view;
    const key = this.#viewKey();
    const classId = this.activeClassId;
    if (!v || !key || classId === null) return;
    void this.#enqueue(async () => {
      const ops: Op[] = [];
      for (const geometry of geometries) {
        const a = await this.#call('annotations.create', { ...this.#target(v), classId, kind, geometry } as RequestInput<'annotations.create'>);
        if (!a) break;
        this.#absorb(a);
        ops.push({ op: 'add', id: a.id });
      }
      if (ops.length) this.#started();
      this.#record(key, label, ops);
    });
  }

  /** The backend moves an untouched image to in_progress with its first label; mirror it. */
  #started(): void {
    if (this.itemStatus?.status === 'unlabeled') this.itemStatus = { ...this.itemStatus, status: 'in_progress' };
  }

  changeGeometry(a: Annotation, geometry: AnnotationGeometry, label: string): void {
    const key = this.#viewKey();
    if (!key) return;
    // Optimistic: show the new geometry now; the saved row replaces it.
    this.annotations = this.annotations.map((x) => (x.id === a.id ? { ...x, geometry } : x));
    this.draft = null;
    void this.#enqueue(async () => {
      const known = this.#known.get(a.id) ?? a;
      const from = { classId: known.classId, geometry: known.geometry };
      const r = await this.#call('annotations.update', { id: a.id, expectedVersion: known.version, geometry });
      if (this.stroke?.id === a.id) this.stroke = null;
      if (!r) return;
      this.#absorb(r);
      this.#record(key, label, [{ op: 'change', id: a.id, from, to: { classId: r.classId, geometry: r.geometry } }]);
    });
  }

  changeClass(a: Annotation, classId: number): void {
    const key = this.#viewKey();
    if (!key || a.classId === classId) return;
    void this.#enqueue(async () => {
      const known = this.#known.get(a.id) ?? a;
      const r = await this.#call('annotations.update', { id: a.id, expectedVersion: known.version, classId });
      if (!r) return;
      this.#absorb(r);
      this.#record(key, 'Change class', [{ op: 'change', id: a.id, from: { classId: known.classId, geometry: known.geometry }, to: { classId: r.classId, geometry: r.geometry } }]);
    });
  }

  deleteAnnotation(a: Annotation, label = 'Delete'): void {
    const key = this.#viewKey();
    if (!key) return;
    this.annotations = this.annotations.filter((x) => x.id !== a.id);
    if (this.selectedId === a.id) this.selectedId = null;
    void this.#enqueue(async () => {
      const known = this.#known.get(a.id) ?? a;
      const r = await this.#call('annotations.delete', { id: a.id, expectedVersion: known.version });
      if (this.stroke?.id === a.id) this.stroke = null;
      if (!r) return;
      this.#absorb(r);
      this.#record(key, label, [{ op: 'remove', id: a.id }]);
    });
  }

  /**
   * A class key: toggles the class on the image (or, with `series`, on the whole series). In a
   * single-label dataset it replaces the image's class, as one undoable step.
   */
  toggleClass(classId: number, series = false): void {
    const v = this.view;
    if (!v) return;
    if (series && v.seriesId === null) return this.notice('This image is not part of a series.');
    const key = this.#viewKey() as string;
    const frame = v.frames > 1 ? v.frame : null;
    void this.#enqueue(async () => {
      if (this.view !== v) return;
      // Decided when it runs, after the edits queued before it (fast key presses).
      const atLevel = this.annotations.filter(
        (a) => a.kind === 'class' && a.status === 'active' && (series ? a.seriesId === v.seriesId : a.itemId === v.itemId && a.frame === frame),
      );
      const same = atLevel.find((a) => a.classId === classId);
      const replace = same ? [same] : this.schema?.multiLabel ? [] : atLevel;
      const ops: Op[] = [];
      for (const old of replace) {
        const known = this.#known.get(old.id) ?? old;
        const r = await this.#call('annotations.delete', { id: old.id, expectedVersion: known.version });
        if (!r) return;
        this.#absorb(r);
        ops.push({ op: 'remove', id: old.id });
      }
      if (!same) {
        const a = await this.#call(
          'annotations.create',
          (series ? { seriesId: v.seriesId as number, classId, kind: 'class' } : { ...this.#target(v), classId, kind: 'class' }) as RequestInput<'annotations.create'>,
        );
        if (a) {
          this.#absorb(a);
          if (!series) this.#started();
          ops.push({ op: 'add', id: a.id });
        }
      }
      const name = this.classes.find((c) => c.id === classId)?.name ?? 'class';
      this.#record(key, same ? `Remove ${name}` : `Label ${name}`, ops);
    });
  }

  /** A model proposal: accept (optionally as edited now) or reject. */
  review(a: Annotation, action: 'accept' | 'reject'): void {
    if (a.status !== 'proposed') return;
    void this.#enqueue(async () => {
      const known = this.#known.get(a.id) ?? a;
      const r = await this.#call('annotations.review', { id: a.id, expectedVersion: known.version, action });
      if (r) this.#absorb(r);
      if (r && action === 'accept') this.selectedId = r.id;
    });
  }

  /** Accept every proposal on the image. */
  acceptAll(): void {
    for (const a of this.proposals) this.review(a, 'accept');
  }

  undo(): void {
    const h = this.#currentHistory();
    if (!h) return;
    this.tool?.cancel(this);
    void this.#enqueue(async () => {
      await h.undo((ops) => this.#apply(ops));
      this.historyTick++;
    });
  }

  redo(): void {
    const h = this.#currentHistory();
    if (!h) return;
    void this.#enqueue(async () => {
      await h.redo((ops) => this.#apply(ops));
      this.historyTick++;
    });
  }

  async #apply(ops: readonly Op[]): Promise<boolean> {
    for (const op of ops) {
      const known = this.#known.get(op.id);
      if (!known) return false;
      const r =
        op.op === 'add'
          ? await this.#call('annotations.restore', { id: op.id, expectedVersion: known.version })
          : op.op === 'remove'
            ? await this.#call('annotations.delete', { id: op.id, expectedVersion: known.version })
            : await this.#call('annotations.update', {
                id: op.id,
                expectedVersion: known.version,
                classId: op.to.classId,
                ...(op.to.geometry ? { geometry: op.to.geometry } : {}),
              });
      if (!r) return false;
      this.#absorb(r);
    }
    return true;
  }

  /** Wait until every edit sent so far is saved (tests, closing the viewer). */
  async flush(): Promise<void> {
    await this.#queue;
  }

  // ------------------------------------------------------------ slices

  /**
   * Copy the selected shape (or every shape on the image) to the next slice of the stack.
   * Returns whether anything was copied (the caller then shows that slice).
   */
  async copyToNext(stack: readonly StackEntry[], index: number): Promise<boolean> {
    const v = this.view;
    const next = stack[index + 1];
    if (!v || !next) {
      this.notice('There is no next slice.');
      return false;
    }
    const sameItem = next.itemId === v.itemId;
    const key = historyKey(next.itemId, sameItem && v.frames > 1 ? next.frame : null);
    let ok = false;
    await this.#enqueue(async () => {
      // Read when it runs, after the edits queued before it (a shape drawn just now).
      const shapes = (this.selected ? [this.selected] : this.annotations).filter((a) => a.kind !== 'class' && a.geometry !== null && a.itemId !== null);
      if (!shapes.length) return this.notice('Nothing to copy: draw or select a shape first.');
      const ops: Op[] = [];
      for (const s of shapes) {
        const a = await this.#call('annotations.create', {
          itemId: next.itemId,
          ...(sameItem && v.frames > 1 ? { frame: next.frame } : {}),
          classId: s.classId,
          kind: s.kind,
          geometry: s.geometry,
        } as RequestInput<'annotations.create'>);
        if (!a) break;
        this.#known.set(a.id, a);
        ops.push({ op: 'add', id: a.id });
      }
      ok = ops.length === shapes.length;
      this.#record(key, `Copy ${ops.length} shape${ops.length === 1 ? '' : 's'} from the previous slice`, ops);
    });
    return ok;
  }

  /**
   * Interpolate the selected box or mask to the nearest slice that has one of the same class
   * and kind: every slice between without one gets an interpolated shape. One undo step.
   */
  async interpolate(stack: readonly StackEntry[], index: number): Promise<number> {
    const v = this.view;
    const sel = this.selected;
    if (!v || !sel || (sel.kind !== 'box' && sel.kind !== 'mask') || !sel.geometry) {
      this.notice('Select a box or a mask to interpolate from.');
      return 0;
    }
    const res = await request('annotations.list', v.seriesId !== null ? { seriesId: v.seriesId } : { itemId: v.itemId });
    if (!res.ok) return this.#error(res.error.message), 0;
    const slotOf = (a: Annotation): number => stack.findIndex((e) => e.itemId === a.itemId && (a.frame === null || a.frame === e.frame));
    const same = res.value.annotations.filter((a) => a.kind === sel.kind && a.classId === sel.classId && a.status === 'active' && a.itemId !== null);
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
    if (!partner || !partner.geometry) {
      this.notice('Interpolation needs another slice with the same class and kind of shape.');
      return 0;
    }
    const slots = between(index, other).filter((s) => !taken.includes(s.index));
    if (!slots.length) {
      this.notice('The slices between are already labelled.');
      return 0;
    }
    const geometries: AnnotationGeometry[] = [];
    if (sel.kind === 'box' && 'width' in sel.geometry && 'width' in partner.geometry) {
      for (const s of slots) geometries.push(interpolateBox(sel.geometry, partner.geometry, s.t));
    } else if ('rle' in sel.geometry && 'rle' in partner.geometry) {
      const masks = interpolateMasks(rleToMask(sel.geometry.rle), rleToMask(partner.geometry.rle), slots.map((s) => s.t));
      for (const m of masks) geometries.push({ rle: maskToRle(m) });
    }
    const key = this.#viewKey() as string;
    let made = 0;
    await this.#enqueue(async () => {
      const ops: Op[] = [];
      for (let i = 0; i < slots.length; i++) {
        const entry = stack[(slots[i] as { index: number }).index] as StackEntry;
        const g = geometries[i] as AnnotationGeometry;
        if ('rle' in g && maskArea(rleToMask(g.rle)) === 0) continue;
        const multi = entry.itemId === v.itemId && v.frames > 1;
        const a = await this.#call('annotations.create', {
          itemId: entry.itemId,
          ...(multi ? { frame: entry.frame } : {}),
          classId: sel.classId,
          kind: sel.kind,
          geometry: g,
        } as RequestInput<'annotations.create'>);
        if (!a) break;
        this.#known.set(a.id, a);
        ops.push({ op: 'add', id: a.id });
      }
      made = ops.length;
      this.#record(key, `Interpolate ${ops.length} slice${ops.length === 1 ? '' : 's'}`, ops);
    });
    this.notice(`Interpolated ${made} slice${made === 1 ? '' : 's'}.`);
    return made;
  }

  // ------------------------------------------------------------ workflow

  async setStatus(status: ItemStatus, comment?: string, level: 'item' | 'series' = 'item'): Promise<boolean> {
    const v = this.view;
    if (!v) return false;
    if (level === 'series' && v.seriesId === null) return false;
    let ok = false;
    await this.#enqueue(async () => {
      const r = await this.#call('items.setStatus', {
        ...(level === 'series' ? { seriesId: v.seriesId as number } : { itemId: v.itemId }),
        status,
        ...(comment ? { comment } : {}),
      });
      if (!r || this.view !== v) return;
      ok = true;
      if (level === 'series' && this.seriesStatus) this.seriesStatus = { ...r, seriesId: this.seriesStatus.seriesId };
      else if (level === 'item') this.itemStatus = r;
    });
    return ok;
  }

  /**
   * A key press in the viewer: the active tool's keys, then the hotkey map, then class keys.
   * Returns true when handled (the viewer's own keys come after).
   */
  handleKey(e: KeyboardEvent, nav: Navigation, stack: readonly StackEntry[], index: number, step: (d: number) => void): boolean {
    if (this.tool && !e.ctrlKey && !e.metaKey && this.tool.key(this, eventKeyName(e))) return true;
    if (e.key === 'Escape' && this.selectedId !== null) {
      this.selectedId = null;
      return true;
    }
    const action = this.keymap.action(e);
    if (action) return this.#runAction(action, nav, stack, index, step);
    const ck = Keymap.classKey(e);
    if (ck) {
      const cls = this.classes.find((c) => c.hotkey === ck.digit);
      if (!cls) return false;
      this.activeClassId = cls.id;
      const sel = this.selected;
      if (sel && sel.kind !== 'class' && !ck.series) this.changeClass(sel, cls.id);
      else if (ck.series || this.toolName === null || this.toolName === 'select') this.toggleClass(cls.id, ck.series);
      return true;
    }
    return false;
  }

  #runAction(action: HotkeyAction, nav: Navigation, stack: readonly StackEntry[], index: number, step: (d: number) => void): boolean {
    const tool = (Object.keys(TOOL_ACTIONS) as ToolName[]).find((t) => TOOL_ACTIONS[t] === action);
    if (tool) {
      this.setTool(tool);
      return true;
    }
    const sel = this.selected;
    switch (action) {
      case 'brush.smaller':
        this.brushSize = Math.max(1, Math.round(this.brushSize / 1.25));
        return true;
      case 'brush.larger':
        this.brushSize = Math.min(400, Math.round(this.brushSize * 1.25) + 1);
        return true;
      case 'image.next':
        nav.next();
        return true;
      case 'image.previous':
        nav.previous();
        return true;
      case 'image.submit':
        void this.setStatus('done').then((ok) => ok && nav.next());
        return true;
      case 'proposal.accept': {
        const p = sel?.status === 'proposed' ? sel : this.proposals[0];
        if (p) this.review(p, 'accept');
        else this.notice('No model proposal on this image.');
        return true;
      }
      case 'proposal.reject': {
        const p = sel?.status === 'proposed' ? sel : this.proposals[0];
        if (p) this.review(p, 'reject');
        else this.notice('No model proposal on this image.');
        return true;
      }
      case 'annotation.delete':
        if (sel) this.deleteAnnotation(sel);
        return sel !== null;
      case 'slice.copyNext':
        void this.copyToNext(stack, index).then((ok) => ok && step(1));
        return true;
      case 'slice.interpolate':
        void this.interpolate(stack, index);
        return true;
      case 'slice.propagate':
        if (sel?.kind === 'mask' && sel.status === 'active') void this.assist.propagate(sel.id, 'both');
        else this.notice('Select a mask to propagate to the other slices.');
        return true;
      case 'edit.undo':
        this.undo();
        return true;
      case 'edit.redo':
        this.redo();
        return true;
      case 'review.approve':
      case 'review.reject':
        // Handled by the review bar when review mode is on.
        return false;
      default:
        return false;
    }
  }

  /** The key shown for an action (tooltips, buttons). */
  keyFor(action: HotkeyAction): string {
    return normalizeKeyName(this.settings?.hotkeys[action] ?? DEFAULT_HOTKEYS[action]);
  }
}
