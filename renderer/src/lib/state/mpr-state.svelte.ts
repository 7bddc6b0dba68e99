/**
 * The MPR screen's state: the volume the core loaded, the crosshair (a display-grid voxel that
 * every view passes through), the shared window, the layout, the tools and the segment editor.
 *
 * The pictures are cut by the core (volume.plane, cached by cornerstone); the segments on each
 * view come from volume.labels, cached here per (view, plane, labels generation): the generation
 * moves on with every edit, preview and cancel, so nothing stale is drawn. Edits go to the core
 * at once (a stroke on release, an effect on apply) and the core saves them; undo and redo are
 * the core's (inverse deltas). No IPC outside this class: components read fields, call methods.
 */
import {
  viewPixelToVoxel,
  VOLUME_PLANES,
  type SegmentStatistics,
  type VolumeEditResult,
  type VolumeEffect,
  type VolumeHistoryState,
  type VolumeInfo,
  type VolumeLabelPlane,
  type VolumePlane,
  type VolumePreviewSummary,
} from '../../../../electron/contract/volume';
import type { Rle } from '../../annotate/mask';
import { on, request } from '../api';

export type MprTool = 'crosshair' | 'brush' | 'eraser' | 'pick';
export type MprLayout = 'three' | 'one';

const LABEL_CACHE = 192;

export class MprState {
  info = $state.raw<VolumeInfo | null>(null);
  loading = $state.raw<{ done: number; total: number } | null>(null);
  error = $state<string | null>(null);
  message = $state.raw<{ text: string; kind: 'error' | 'info' } | null>(null);
  /** Display-grid voxel [column, row, slice] the three views pass through. */
  crosshair = $state.raw<[number, number, number]>([0, 0, 0]);
  window = $state.raw<{ center: number; width: number }>({ center: 40, width: 400 });
  layout = $state<MprLayout>('three');
  /** The view keys and the one-view layout act on. */
  active = $state<VolumePlane>('axial');
  tool = $state<MprTool>('crosshair');
  brushMm = $state(6);
  /** Brush only voxels in this range (modality units), or everywhere. */
  brushRange = $state.raw<{ min: number; max: number } | null>(null);
  activeClassId = $state<number | null>(null);
  /** The segments on each view's plane: one state per view, so that scrolling one view redraws only its overlay. */
  readonly #labels: Record<VolumePlane, LabelSlot> = { axial: new LabelSlot(), coronal: new LabelSlot(), sagittal: new LabelSlot() };
  labelGeneration = $state(0);
  preview = $state.raw<VolumePreviewSummary | null>(null);
  history = $state.raw<VolumeHistoryState>({ canUndo: false, canRedo: false, undoLabel: null, redoLabel: null });
  stats = $state.raw<SegmentStatistics[] | null>(null);
  /** What the core is doing now (an effect, a save), for the status line. */
  busy = $state<string | null>(null);
  /** Writes saved this session. */
  saved = $state(0);

  readonly segments = $derived(this.info?.segments ?? []);
  readonly views = $derived(this.info?.views ?? null);

  // A cache, never rendered as such.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #labelCache = new Map<string, VolumeLabelPlane>();
  #off: (() => void) | null = null;
  #seriesId: number | null = null;

  get seriesId(): number | null {
    return this.#seriesId;
  }

  /** Load the series as a volume in the core (progress from 'volume.progress'). */
  async open(seriesId: number): Promise<boolean> {
    this.#seriesId = seriesId;
    this.error = null;
    this.loading = { done: 0, total: 0 };
    this.#off?.();
    this.#off = on('volume.progress', (p) => {
      if (p.seriesId === seriesId && this.loading) this.loading = { done: p.done, total: p.total };
    });
    const res = await request('volume.open', { seriesId });
    this.loading = null;
    if (!res.ok) {
      this.error = res.error.message;
      return false;
    }
    const info = res.value;
    this.info = info;
    this.window = info.window;
    this.crosshair = [info.dims[0] >> 1, info.dims[1] >> 1, info.dims[2] >> 1];
    this.history = info.history;
    this.preview = info.preview;
    this.activeClassId ??= info.segments[0]?.classId ?? null;
    await this.refreshLabels();
    return true;
  }

  /** Release the volume in the core (the screen closed). */
  dispose(): void {
    this.#off?.();
    this.#off = null;
    if (this.#seriesId !== null) void request('volume.close', { seriesId: this.#seriesId });
    this.#labelCache.clear();
  }

  indexOf(plane: VolumePlane): number {
    const v = this.info?.views[plane];
    return v ? this.crosshair[v.normalAxis] : 0;
  }

  /** Move one view to plane `index` (the crosshair follows). */
  setIndex(plane: VolumePlane, index: number): void {
    const v = this.info?.views[plane];
    if (!v) return;
    const i = Math.min(Math.max(Math.round(index), 0), v.count - 1);
    if (i === this.crosshair[v.normalAxis]) return;
    const c: [number, number, number] = [...this.crosshair];
    c[v.normalAxis] = i;
    this.crosshair = c;
    void this.refreshLabels([plane]);
  }

  scroll(plane: VolumePlane, delta: number): void {
    this.setIndex(plane, this.indexOf(plane) + delta);
  }

  /** A click at picture pixel (x, y) of a view: the crosshair moves there, the other views follow. */
  pointAt(plane: VolumePlane, x: number, y: number): void {
    const v = this.info?.views[plane];
    if (!v) return;
    const px = Math.min(Math.max(Math.floor(x), 0), v.width - 1);
    const py = Math.min(Math.max(Math.floor(y), 0), v.height - 1);
    const next = viewPixelToVoxel(v, this.indexOf(plane), px, py);
    const moved = VOLUME_PLANES.filter((p) => p !== plane && this.indexOf(p) !== next[(this.info as VolumeInfo).views[p].normalAxis]);
    this.crosshair = next;
    if (moved.length) void this.refreshLabels(moved);
  }

  setWindow(w: { center: number; width: number }): void {
    this.window = { center: w.center, width: Math.max(1, w.width) };
  }

  dragWindow(dx: number, dy: number): void {
    const info = this.info;
    const range = info ? Math.max((info.max - info.min) * Math.abs(info.slope), 1) : 256;
    const k = Math.max(range / 512, 0.25);
    this.setWindow({ center: this.window.center + dy * k, width: this.window.width + dx * k });
  }

  // ------------------------------------------------------------ segments on the views

  async refreshLabels(planes: readonly VolumePlane[] = VOLUME_PLANES): Promise<void> {
    const seriesId = this.#seriesId;
    if (seriesId === null || !this.info) return;
    const generation = this.labelGeneration;
    const fetched = await Promise.all(
      planes.map(async (plane) => {
        const index = this.indexOf(plane);
        const key = `${plane}:${index}:${generation}`;
        const hit = this.#labelCache.get(key);
        if (hit) return [plane, hit] as const;
        const res = await request('volume.labels', { seriesId, plane, index });
        if (!res.ok) {
          this.#error(res.error.message);
          return [plane, null] as const;
        }
        if (this.#labelCache.size >= LABEL_CACHE) this.#labelCache.delete(this.#labelCache.keys().next().value as string);
        this.#labelCache.set(key, res.value);
        return [plane, res.value] as const;
      }),
    );
    if (generation !== this.labelGeneration) return;
    // Only planes still shown (the crosshair may have moved on while fetching).
    for (const [plane, lp] of fetched) if ((!lp || lp.index === this.indexOf(plane)) && this.#labels[plane].value !== lp) this.#labels[plane].value = lp;
  }

  /** The segments on a view's plane (null until fetched, or when the fetch failed). */
  labelsOf(plane: VolumePlane): VolumeLabelPlane | null {
    return this.#labels[plane].value;
  }

  #labelsChanged(): Promise<void> {
    this.labelGeneration++;
    this.#labelCache.clear();
    return this.refreshLabels();
  }

  classColor(id: number): string {
    return this.segments.find((s) => s.classId === id)?.color ?? '#4ea1ff';
  }

  #error(text: string): void {
    this.message = { text, kind: 'error' };
  }

  #absorb(r: VolumeEditResult): void {
    this.history = r.history;
    if (this.info) this.info = { ...this.info, segments: r.segments, history: r.history, preview: null };
    this.saved += r.slicesWritten > 0 ? 1 : 0;
    this.stats = null;
  }

  // ------------------------------------------------------------ editing

  /** A finished brush or eraser stroke: the picture pixels it covered. */
  async paint(plane: VolumePlane, mask: Rle, erase: boolean): Promise<boolean> {
    const seriesId = this.#seriesId;
    const classId = this.activeClassId;
    if (seriesId === null || classId === null) {
      this.#error('Choose a segment to paint first.');
      return false;
    }
    const res = await request('volume.paint', {
      seriesId,
      classId,
      plane,
      index: this.indexOf(plane),
      mask,
      ...(erase ? { erase: true } : {}),
      ...(this.brushRange ? { range: this.brushRange } : {}),
    });
    if (!res.ok) {
      this.#error(res.error.message);
      await this.#labelsChanged();
      return false;
    }
    this.preview = null;
    this.#absorb(res.value);
    await this.#labelsChanged();
    return true;
  }

  /** Compute an effect in the core; the views show it until apply or cancel. */
  async previewEffect(effect: VolumeEffect): Promise<boolean> {
    const seriesId = this.#seriesId;
    if (seriesId === null) return false;
    this.busy = 'Computing the preview…';
    const res = await request('volume.preview', { seriesId, effect });
    this.busy = null;
    if (!res.ok) {
      this.#error(res.error.message);
      return false;
    }
    this.preview = res.value;
    this.message = { text: `${res.value.label}: ${describe(res.value.changes, this.segments)} (${res.value.ms.toFixed(0)} ms). Apply (Enter) or cancel (Esc).`, kind: 'info' };
    await this.#labelsChanged();
    return true;
  }

  async apply(): Promise<boolean> {
    const seriesId = this.#seriesId;
    if (seriesId === null || !this.preview) return false;
    this.busy = 'Saving…';
    const res = await request('volume.apply', { seriesId });
    this.busy = null;
    this.preview = null;
    if (!res.ok) {
      this.#error(res.error.message);
      await this.#labelsChanged();
      return false;
    }
    this.#absorb(res.value);
    this.message = { text: `Applied: ${res.value.label} (${res.value.slicesWritten} slice(s) saved).`, kind: 'info' };
    await this.#labelsChanged();
    return true;
  }

  async cancel(): Promise<void> {
    const seriesId = this.#seriesId;
    if (seriesId === null || !this.preview) return;
    await request('volume.cancel', { seriesId });
    this.preview = null;
    this.message = null;
    await this.#labelsChanged();
  }

  async undo(): Promise<void> {
    await this.#step('volume.undo');
  }

  async redo(): Promise<void> {
    await this.#step('volume.redo');
  }

  async #step(name: 'volume.undo' | 'volume.redo'): Promise<void> {
    const seriesId = this.#seriesId;
    if (seriesId === null) return;
    this.busy = name === 'volume.undo' ? 'Undoing…' : 'Redoing…';
    const res = await request(name, { seriesId });
    this.busy = null;
    if (!res.ok) {
      this.#error(res.error.message);
      return;
    }
    this.preview = null;
    this.#absorb(res.value);
    this.message = { text: `${res.value.label}.`, kind: 'info' };
    await this.#labelsChanged();
  }

  /** Keep-selected island: the island of the active segment under picture pixel (x, y) of a view. */
  async pickIsland(plane: VolumePlane, x: number, y: number): Promise<void> {
    const v = this.info?.views[plane];
    const classId = this.activeClassId;
    if (!v || classId === null) return;
    const voxel = viewPixelToVoxel(v, this.indexOf(plane), Math.floor(x), Math.floor(y));
    this.tool = 'crosshair';
    await this.previewEffect({ effect: 'islands', classId, mode: 'keep-selected', voxel });
  }

  async loadStats(): Promise<void> {
    const seriesId = this.#seriesId;
    if (seriesId === null) return;
    this.busy = 'Measuring…';
    const res = await request('volume.stats', { seriesId });
    this.busy = null;
    if (!res.ok) this.#error(res.error.message);
    else this.stats = res.value;
  }
}

/** One view's label plane as its own (raw: never proxied) state. */
class LabelSlot {
  value = $state.raw<VolumeLabelPlane | null>(null);
}

/** "+1,234 / -56 voxels (bone)". */
export function describe(changes: VolumePreviewSummary['changes'], segments: readonly { classId: number; name: string }[]): string {
  if (!changes.length) return 'no change';
  return changes.map((c) => `${segments.find((s) => s.classId === c.classId)?.name ?? c.classId} +${c.added.toLocaleString('en-US')} / -${c.removed.toLocaleString('en-US')} voxels`).join(', ');
}
