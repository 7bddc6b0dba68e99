/**
 * The labeling state of the viewer: the annotator, the dataset's label
 * schema, the annotations of the displayed image (or frame) and its series,
 * the active tool and class, and one undo history per image.
 *
 * This class holds the state and wires the parts, each in its own file:
 * edits are action objects (annotate/actions.ts) run by one EditRunner
 * (annotate/edit-runner.ts: the save queue and the histories), keys are
 * lib/state/annotate-keys.ts, click-to-mask is assist-state.svelte.ts.
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
 * Histories are released when the viewer closes.
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
import * as actions from '../../annotate/actions';
import { historyKey, viewHistoryKey, type EditContext, type StackEntry, type ViewKey } from '../../annotate/actions';
import { EditRunner } from '../../annotate/edit-runner';
import type { History } from '../../annotate/history';
import { Keymap, normalizeKeyName } from '../../annotate/hotkeys';
import type { AnnotationTool, Draft, PromptHost, Stroke, ToolHost, ToolName, ToolPointer } from '../../annotate/tool';
import { createTools } from '../../annotate/tools';
import { request } from '../api';
import { handleAnnotateKey } from './annotate-keys';
import { AssistState } from './assist-state.svelte';
import type { SettingsState } from './settings-state.svelte';

export type { StackEntry, ViewKey } from '../../annotate/actions';
export { TOOL_ACTIONS } from './annotate-keys';

/** What the viewer screen does for navigation keys. */
export interface Navigation {
  next(): void;
  previous(): void;
}

export class AnnotateState implements ToolHost, EditContext {
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
  /** Draw masks as their outline (the pixels on their edge) instead of filled, to see the image inside. */
  maskOutline = $state(false);
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

  // Bookkeeping, never rendered: the last known row of every annotation seen (released with the viewer).
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #known = new Map<number, Annotation>();
  /** The save queue and the undo histories (annotate/edit-runner.ts). */
  readonly #runner: EditRunner = new EditRunner(this, {
    pending: (d) => (this.pending += d),
    changed: () => this.historyTick++,
  });
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

  /**
   * The viewer closed (after `flush`): forget the displayed image, and release the undo histories
   * and the rows remembered for them.
   */
  leave(): void {
    this.tool?.cancel(this);
    this.assist.leave();
    this.view = null;
    this.annotations = [];
    this.selectedId = null;
    this.#runner.release();
    this.#known.clear();
  }

  /** Undo histories held (tests: released when the viewer closes). */
  get historiesHeld(): number {
    return this.#runner.size;
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

  // ------------------------------------------------------------ saving (EditContext)

  /** The last saved row of an annotation (EditContext). */
  known(id: number): Annotation | undefined {
    return this.#known.get(id);
  }

  /** Send a write; errors become a message, and a CONFLICT reloads the image (EditContext). */
  async call<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Responses[K] | null> {
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

  /** Take a row the backend returned: remember its version, show or hide it (EditContext). */
  absorb(a: Annotation): void {
    this.#known.set(a.id, a);
    const rest = this.annotations.filter((x) => x.id !== a.id);
    const visible = (a.status === 'active' || a.status === 'proposed') && this.#inView(a);
    this.annotations = visible ? [...rest, a].sort((p, q) => p.id - q.id) : rest;
    if (!visible && this.selectedId === a.id) this.selectedId = null;
  }

  /** A row saved on another slice: only its version matters here (EditContext). */
  remember(a: Annotation): void {
    this.#known.set(a.id, a);
  }

  /** The backend moves an untouched image to in_progress with its first label; mirror it (EditContext). */
  started(): void {
    if (this.itemStatus?.status === 'unlabeled') this.itemStatus = { ...this.itemStatus, status: 'in_progress' };
  }

  #currentHistory(): History | null {
    const v = this.view;
    return v ? this.#runner.history(viewHistoryKey(v)) : null;
  }

  createShape(kind: 'box' | 'polygon' | 'mask', geometry: AnnotationGeometry, label: string): void {
    const v = this.view;
    const classId = kind === 'mask' && this.stroke ? this.stroke.classId : this.activeClassId;
    if (!v || classId === null) return;
    void this.#runner.run(actions.createShapes, { view: v, classId, kind, geometries: [geometry], label }, () => {
      if (kind === 'mask') this.stroke = null;
    });
  }

  /** Save several new shapes on the displayed image as ONE undoable edit (click-to-mask polygons). */
  createShapes(kind: 'polygon', geometries: AnnotationGeometry[], label: string): void {
    const v = this.view;
    const classId = this.activeClassId;
    if (!v || classId === null) return;
    void this.#runner.run(actions.createShapes, { view: v, classId, kind, geometries, label });
  }

  changeGeometry(a: Annotation, geometry: AnnotationGeometry, label: string): void {
    const v = this.view;
    if (!v) return;
    // Optimistic: show the new geometry now; the saved row replaces it.
    this.annotations = this.annotations.map((x) => (x.id === a.id ? { ...x, geometry } : x));
    this.draft = null;
    void this.#runner.run(actions.changeGeometry, { key: viewHistoryKey(v), annotation: a, geometry, label }, () => {
      if (this.stroke?.id === a.id) this.stroke = null;
    });
  }

  changeClass(a: Annotation, classId: number): void {
    const v = this.view;
    if (!v || a.classId === classId) return;
    void this.#runner.run(actions.changeClass, { key: viewHistoryKey(v), annotation: a, classId });
  }

  deleteAnnotation(a: Annotation, label = 'Delete'): void {
    const v = this.view;
    if (!v) return;
    this.annotations = this.annotations.filter((x) => x.id !== a.id);
    if (this.selectedId === a.id) this.selectedId = null;
    void this.#runner.run(actions.deleteAnnotation, { key: viewHistoryKey(v), annotation: a, label }, () => {
      if (this.stroke?.id === a.id) this.stroke = null;
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
    void this.#runner.run(actions.toggleClass, { view: v, classId, series });
  }

  /** A model proposal: accept (optionally as edited now) or reject. A review decision, not an undoable edit. */
  review(a: Annotation, action: 'accept' | 'reject'): void {
    if (a.status !== 'proposed') return;
    void this.#runner.enqueue(async () => {
      const known = this.#known.get(a.id) ?? a;
      const r = await this.call('annotations.review', { id: a.id, expectedVersion: known.version, action });
      if (r) this.absorb(r);
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
    void this.#runner.run(actions.undo, { history: h }, () => this.historyTick++);
  }

  redo(): void {
    const h = this.#currentHistory();
    if (!h) return;
    void this.#runner.run(actions.redo, { history: h }, () => this.historyTick++);
  }

  /** Wait until every edit sent so far is saved (tests, closing the viewer). */
  async flush(): Promise<void> {
    await this.#runner.flush();
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
    let ok = false;
    await this.#runner.run(actions.createOnSlices, {
      key: historyKey(next.itemId, sameItem && v.frames > 1 ? next.frame : null),
      label: (n) => `Copy ${n} shape${n === 1 ? '' : 's'} from the previous slice`,
      view: v,
      // Read when it runs, after the edits queued before it (a shape drawn just now).
      shapes: () => {
        const shapes = (this.selected ? [this.selected] : this.annotations).filter((a) => a.kind !== 'class' && a.geometry !== null && a.itemId !== null);
        if (!shapes.length) this.notice('Nothing to copy: draw or select a shape first.');
        return shapes.map((s) => ({ entry: next, classId: s.classId, kind: s.kind, geometry: s.geometry as AnnotationGeometry }));
      },
      onDone: (asked, saved) => (ok = asked > 0 && saved === asked),
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
    const plan = actions.planInterpolation(sel, res.value.annotations, stack, index);
    if ('message' in plan) {
      this.notice(plan.message);
      return 0;
    }
    let made = 0;
    await this.#runner.run(actions.createOnSlices, {
      key: viewHistoryKey(v),
      label: (n) => `Interpolate ${n} slice${n === 1 ? '' : 's'}`,
      view: v,
      shapes: () => plan.shapes.map((s) => ({ entry: s.entry, classId: sel.classId, kind: sel.kind, geometry: s.geometry })),
      onDone: (_asked, saved) => (made = saved),
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
    await this.#runner.enqueue(async () => {
      const r = await this.call('items.setStatus', {
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
   * A key press in the viewer: the active tool's keys, then the hotkey map, then class keys
   * (annotate-keys.ts). Returns true when handled (the viewer's own keys come after).
   */
  handleKey(e: KeyboardEvent, nav: Navigation, stack: readonly StackEntry[], index: number, step: (d: number) => void): boolean {
    return handleAnnotateKey(this, e, { nav, stack, index, step });
  }

  /** The key shown for an action (tooltips, buttons). */
  keyFor(action: HotkeyAction): string {
    return normalizeKeyName(this.settings?.hotkeys[action] ?? DEFAULT_HOTKEYS[action]);
  }
}
