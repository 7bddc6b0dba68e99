/**
 * Volumes of series for the multi-planar views and the segment editor.
 *
 * A session per open series holds the decoded voxels (scan-volume.ts), the segments as label
 * volumes over the series' mask rows (label-volume.ts), the undo history (inverse deltas,
 * volume-history.ts) and at most one pending preview. Sessions are kept within a byte budget
 * (least recently used first out); a series larger than the budget alone is refused.
 *
 * Every edit (brush stroke, applied effect, undo, redo) is written to the library at once as one
 * transaction (store/segmentation-store.ts), audited there, and announced as labels.changed.
 * Before any read or edit, the rows' fingerprint is compared with the one the session last saw:
 * when the 2-D viewer or an import changed them, the segments are read again (and the history,
 * whose deltas no longer apply, is dropped).
 *
 * The service names what it needs (VolumeServiceDeps), never the composition root.
 */
import { rleCounts } from '../../contract/rle';
import { FoveaException } from '../../contract/result';
import type {
  SegmentStatistics,
  VolumeEditResult,
  VolumeEffect,
  VolumeHistoryState,
  VolumeInfo,
  VolumeLabelPlane,
  VolumePlane,
  VolumePlaneImage,
  VolumePreviewSummary,
  VolumeSegment,
  VolumeViewSpec,
} from '../../contract/volume';
import type { CocoRle } from '../labels';
import { rasterizeRegion } from '../export/volume-labels';
import type { StoredDicomItem } from '../export/volume-geometry';
import type { BlobStore } from '../store/blob-store';
import type { RegionRow, RowRef, SegmentationStore, SliceWrite } from '../store/segmentation-store';
import { anyOn } from './effects/dense';
import { runEffect, type EffectContext } from './effects/run-effect';
import { segmentStatistics } from './effects/statistics';
import { LabelVolume, type SliceChanges } from './label-volume';
import { checkPlaneIndex, forEachPlaneVoxel, reslice } from './reslice';
import { loadScanVolume, type ScanVolume } from './scan-volume';
import { applyXor, VolumeHistory, xorDelta, type SliceDelta } from './volume-history';
import { nearestAcquired, viewSpecs } from './volume-grid';

/** What the volume service needs of the core. */
export interface VolumeServiceDeps {
  blobs: Pick<BlobStore, 'read'>;
  store: Pick<SegmentationStore, 'series' | 'seriesOfItem' | 'classes' | 'regions' | 'fingerprint' | 'writeSlices'>;
  /** The series' DICOM items (export/volume-geometry.ts seriesDicomItems). */
  seriesItems(seriesId: number): StoredDicomItem[];
  /** The annotator recorded as author and actor (asks for one when none is set). */
  annotator(): string;
  onLabelsChanged(change: { datasetId: number; itemId: null; seriesId: number }): void;
  onProgress(p: { seriesId: number; done: number; total: number }): void;
  /** Bytes all open volumes may hold together (default 2 GiB). */
  maxBytes?: number;
}

interface Pending {
  label: string;
  changes: SliceChanges;
  summary: VolumePreviewSummary;
}

interface Session {
  seriesId: number;
  datasetId: number;
  description: string | null;
  generation: number;
  scan: ScanVolume;
  views: Record<VolumePlane, VolumeViewSpec>;
  labels: LabelVolume;
  /** Rows behind (classId, slice): key `${classId}:${slice}`. */
  backing: Map<string, RowRef[]>;
  /** (itemId, frame) -> acquired slice. */
  sliceOf: Map<string, number>;
  fingerprint: string;
  history: VolumeHistory;
  pending: Pending | null;
  warnings: string[];
  lastUsed: number;
  /** Edits of one series run one at a time. */
  queue: Promise<unknown>;
}

const DEFAULT_MAX_BYTES = 2 * 2 ** 30;
let generations = 0;

const frameKey = (itemId: number, frame: number): string => `${itemId}:${frame}`;
const backingKey = (classId: number, slice: number): string => `${classId}:${slice}`;

export class VolumeService {
  readonly #deps: VolumeServiceDeps;
  readonly #maxBytes: number;
  readonly #sessions = new Map<number, Session>();
  readonly #loading = new Map<number, { promise: Promise<Session>; controller: AbortController }>();

  constructor(deps: VolumeServiceDeps) {
    this.#deps = deps;
    this.#maxBytes = deps.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  // ---------------------------------------------------------------- sessions

  async open(seriesId: number): Promise<VolumeInfo> {
    return this.#info(await this.#session(seriesId));
  }

  /** The series an image belongs to (the CLI names images). */
  seriesOfItem(itemId: number): number {
    return this.#deps.store.seriesOfItem(itemId);
  }

  /** Release a volume (or stop loading it). */
  close(seriesId: number): { closed: boolean } {
    const loading = this.#loading.get(seriesId);
    if (loading) loading.controller.abort();
    const had = this.#sessions.delete(seriesId);
    return { closed: had || loading !== undefined };
  }

  dispose(): void {
    for (const l of this.#loading.values()) l.controller.abort();
    this.#sessions.clear();
  }

  /** Bytes held by the open volumes. */
  bytes(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.scan.bytes + s.labels.bytes() + s.history.bytes();
    return n;
  }

  /** The open session (loading it if needed); `sync` false for requests that do not read labels (pictures). */
  async #session(seriesId: number, sync = true): Promise<Session> {
    const open = this.#sessions.get(seriesId);
    if (open) {
      open.lastUsed = performance.now();
      if (sync) this.#sync(open);
      return open;
    }
    let loading = this.#loading.get(seriesId);
    if (!loading) {
      const controller = new AbortController();
      const promise = this.#load(seriesId, controller.signal).finally(() => this.#loading.delete(seriesId));
      loading = { promise, controller };
      this.#loading.set(seriesId, loading);
    }
    return loading.promise;
  }

  async #load(seriesId: number, signal: AbortSignal): Promise<Session> {
    const series = this.#deps.store.series(seriesId);
    const items = this.#deps.seriesItems(seriesId);
    let lastEmit = 0;
    const scan = await loadScanVolume(this.#deps.blobs, seriesId, items, {
      signal,
      maxBytes: this.#maxBytes,
      onProgress: (done, total) => {
        const now = performance.now();
        if (now - lastEmit < 150 && done < total) return;
        lastEmit = now;
        this.#deps.onProgress({ seriesId, done, total });
      },
    });
    const grid = scan.grid;
    const session: Session = {
      seriesId,
      datasetId: series.datasetId,
      description: series.description,
      generation: ++generations,
      scan,
      views: viewSpecs(grid),
      labels: new LabelVolume(grid.columns, grid.rows, grid.acquiredSlices),
      backing: new Map(),
      sliceOf: new Map(grid.slices.map((s, k) => [frameKey(s.itemId, s.frameIndex), k])),
      fingerprint: '',
      history: new VolumeHistory(),
      pending: null,
      warnings: [...grid.warnings],
      lastUsed: performance.now(),
      queue: Promise.resolve(),
    };
    this.#readLabels(session);
    this.#evictFor(scan.bytes);
    this.#sessions.set(seriesId, session);
    return session;
  }

  /** Make room for `bytes` more by closing the least recently used volumes. */
  #evictFor(bytes: number): void {
    const sessions = [...this.#sessions.values()].sort((a, b) => a.lastUsed - b.lastUsed);
    let total = this.bytes();
    for (const s of sessions) {
      if (total + bytes <= this.#maxBytes) break;
      this.#sessions.delete(s.seriesId);
      total -= s.scan.bytes + s.labels.bytes() + s.history.bytes();
    }
  }

  /** (Re)build the segments from the rows. */
  #readLabels(session: Session): void {
    const { labels, scan } = session;
    labels.clear();
    session.backing.clear();
    session.fingerprint = this.#deps.store.fingerprint(session.seriesId);
    const skipped: string[] = [];
    for (const row of this.#deps.store.regions(session.seriesId)) {
      const s = session.sliceOf.get(frameKey(row.itemId, row.frameIndex ?? 0));
      if (s === undefined) continue; // on an image outside this volume's stack
      const mask = rasterizeRegion({ ...row, frameIndex: row.frameIndex ?? 0, source: 'human' }, scan.grid.rows, scan.grid.columns);
      if (typeof mask === 'string') {
        skipped.push(`annotation ${row.id}: ${mask}`);
        continue;
      }
      labels.orMask(row.classId, s, mask);
      const key = backingKey(row.classId, s);
      const list = session.backing.get(key) ?? [];
      list.push(refOf(row));
      session.backing.set(key, list);
    }
    session.warnings = [...scan.grid.warnings, ...(skipped.length ? [`${skipped.length} label(s) could not be read into the volume (${skipped.slice(0, 3).join('; ')}).`] : [])];
  }

  /** Read the segments again when the rows changed behind this session. */
  #sync(session: Session): void {
    if (this.#deps.store.fingerprint(session.seriesId) === session.fingerprint) return;
    this.#readLabels(session);
    session.history.clear();
    session.pending = null;
  }

  // ---------------------------------------------------------------- reading

  #info(s: Session): VolumeInfo {
    const scan = s.scan;
    const g = scan.grid;
    return {
      seriesId: s.seriesId,
      datasetId: s.datasetId,
      generation: s.generation,
      modality: scan.modality,
      description: s.description,
      dims: g.dims,
      spacing: g.spacing,
      origin: g.origin,
      axes: g.axes,
      acquiredSlices: g.acquiredSlices,
      valueType: scan.valueType,
      values: scan.values,
      slope: scan.slope,
      intercept: scan.intercept,
      units: scan.units,
      min: scan.min,
      max: scan.max,
      window: scan.window,
      monochrome1: scan.monochrome1,
      resampled: g.resampling,
      warnings: s.warnings,
      views: s.views,
      bytes: scan.bytes + s.labels.bytes() + s.history.bytes(),
      segments: this.#segments(s),
      history: historyState(s.history),
      preview: s.pending?.summary ?? null,
    };
  }

  #segments(s: Session): VolumeSegment[] {
    return this.#deps.store.classes(s.datasetId).map((c) => ({ classId: c.id, name: c.name, color: c.color, voxels: s.labels.voxels(c.id) }));
  }

  async plane(seriesId: number, plane: VolumePlane, index: number): Promise<VolumePlaneImage> {
    const s = await this.#session(seriesId, false);
    return reslice(s.scan, s.views[plane], index);
  }

  /** The segments shown on a plane: per pixel the last segment (schema order) that has the voxel. */
  async labels(seriesId: number, plane: VolumePlane, index: number): Promise<VolumeLabelPlane> {
    const s = await this.#session(seriesId);
    const spec = s.views[plane];
    checkPlaneIndex(spec, index);
    const classIds = this.#deps.store.classes(s.datasetId).map((c) => c.id).filter((id) => s.labels.voxels(id) > 0 || s.pending?.changes.has(id));
    const n = spec.width * spec.height;
    let labels: Uint8Array | null = null;
    let preview: Uint8Array | null = null;
    const pending = s.pending?.changes;
    // Per segment and acquired slice: the mask now, and with the preview applied.
    const now = classIds.map((id) => Array.from({ length: s.labels.slices }, (_, k) => s.labels.mask(id, k)));
    const after = classIds.map((id, c) => {
      const changed = pending?.get(id);
      return changed ? (now[c] as (Uint8Array | null)[]).map((m, k) => (changed.has(k) ? (changed.get(k) ?? null) : m)) : (now[c] as (Uint8Array | null)[]);
    });
    forEachPlaneVoxel(s.scan.grid, spec, index, (pixel, slice, offset) => {
      for (let c = 0; c < classIds.length; c++) {
        const was = (now[c] as (Uint8Array | null)[])[slice]?.[offset] ? 1 : 0;
        const will = (after[c] as (Uint8Array | null)[])[slice]?.[offset] ? 1 : 0;
        if (will) (labels ??= new Uint8Array(n))[pixel] = c + 1;
        if (will !== was) (preview ??= new Uint8Array(n))[pixel] = will ? 1 : 2;
      }
    });
    return { plane, index, width: spec.width, height: spec.height, labels, classIds, preview };
  }

  async stats(seriesId: number): Promise<SegmentStatistics[]> {
    const s = await this.#session(seriesId);
    return this.#deps.store
      .classes(s.datasetId)
      .filter((c) => s.labels.voxels(c.id) > 0)
      .map((c) => segmentStatistics(s.scan, s.labels, c.id, c.name));
  }

  // ---------------------------------------------------------------- editing

  /** Run `fn` after the series' earlier edits (one at a time per series). */
  async #serial<T>(seriesId: number, fn: (s: Session) => Promise<T> | T): Promise<T> {
    const s = await this.#session(seriesId);
    const run = s.queue.then(() => {
      this.#sync(s);
      return fn(s);
    });
    s.queue = run.catch(() => undefined);
    return run;
  }

  #classOf(s: Session, classId: number): { id: number; name: string } {
    const c = this.#deps.store.classes(s.datasetId).find((x) => x.id === classId);
    if (!c) throw new FoveaException('VALIDATION', `Class ${classId} is not a label class of this series' dataset.`);
    return c;
  }

  /** A brush or eraser stroke on one plane of a view. */
  paint(p: { seriesId: number; classId: number; plane: VolumePlane; index: number; mask: CocoRle; erase?: boolean | undefined; range?: { min: number; max: number } | undefined }): Promise<VolumeEditResult> {
    return this.#serial(p.seriesId, (s) => {
      const started = performance.now();
      const cls = this.#classOf(s, p.classId);
      const spec = s.views[p.plane];
      checkPlaneIndex(spec, p.index);
      if (p.mask.size[0] !== spec.height || p.mask.size[1] !== spec.width) {
        throw new FoveaException('VALIDATION', `The stroke is ${p.mask.size[1]}x${p.mask.size[0]} but the ${p.plane} view is ${spec.width}x${spec.height}.`);
      }
      const painted = new Uint8Array(spec.width * spec.height);
      // Column-major runs (COCO RLE) onto the row-major picture.
      let pos = 0;
      p.mask.counts.forEach((c, j) => {
        if (j % 2 === 1) {
          for (let q = pos; q < pos + c; q++) {
            const y = q % spec.height;
            painted[y * spec.width + (q - y) / spec.height] = 1;
          }
        }
        pos += c;
      });
      const { scan, labels } = s;
      const size = labels.sliceSize;
      const value = p.erase ? 0 : 1;
      const next = new Map<number, Uint8Array>();
      forEachPlaneVoxel(scan.grid, spec, p.index, (pixel, slice, offset) => {
        if (!painted[pixel]) return;
        if (p.range) {
          const v = (scan.data[slice * size + offset] as number) * scan.slope + scan.intercept;
          if (v < p.range.min || v > p.range.max) return;
        }
        let m = next.get(slice);
        if (!m) {
          m = labels.mask(p.classId, slice)?.slice() ?? new Uint8Array(size);
          next.set(slice, m);
        }
        m[offset] = value;
      });
      const changes: SliceChanges = new Map([[p.classId, new Map([...next].map(([k, m]) => [k, anyOn(m) ? m : null]))]]);
      const label = `${p.erase ? 'Erase' : 'Paint'} ${cls.name} (${p.plane})`;
      return this.#commit(s, label, changes, 'edit', started);
    });
  }

  preview(seriesId: number, effect: VolumeEffect): Promise<VolumePreviewSummary> {
    return this.#serial(seriesId, (s) => {
      const started = performance.now();
      const classIds = effect.effect === 'grow' ? effect.classIds : [effect.classId, ...(effect.effect === 'logical' && effect.modifierClassId !== undefined ? [effect.modifierClassId] : [])];
      for (const id of classIds) this.#classOf(s, id);
      const { label, changes } = runEffect(this.#effectContext(s), effect);
      const summary: VolumePreviewSummary = { label, changes: summarize(s.labels, changes), ms: performance.now() - started };
      s.pending = { label, changes, summary };
      return summary;
    });
  }

  apply(seriesId: number): Promise<VolumeEditResult> {
    return this.#serial(seriesId, (s) => {
      const pending = s.pending;
      if (!pending) throw new FoveaException('CONFLICT', 'There is no preview to apply (it was applied, cancelled, or the labels changed meanwhile): preview the effect again.');
      s.pending = null;
      return this.#commit(s, pending.label, pending.changes, 'edit', performance.now(), pending.summary.changes);
    });
  }

  async cancel(seriesId: number): Promise<{ cancelled: boolean }> {
    const s = this.#sessions.get(seriesId);
    const had = s?.pending != null;
    if (s) s.pending = null;
    return { cancelled: had };
  }

  undo(seriesId: number): Promise<VolumeEditResult> {
    return this.#serial(seriesId, (s) => this.#step(s, 'undo'));
  }

  redo(seriesId: number): Promise<VolumeEditResult> {
    return this.#serial(seriesId, (s) => this.#step(s, 'redo'));
  }

  #step(s: Session, mode: 'undo' | 'redo'): VolumeEditResult {
    const started = performance.now();
    const entry = mode === 'undo' ? s.history.takeUndo() : s.history.takeRedo();
    if (!entry) throw new FoveaException('CONFLICT', mode === 'undo' ? 'Nothing to undo.' : 'Nothing to redo.');
    s.pending = null;
    const { rows, columns } = s.labels;
    const changes: SliceChanges = new Map();
    for (const d of entry.deltas) {
      let m = changes.get(d.classId);
      if (!m) changes.set(d.classId, (m = new Map()));
      m.set(d.slice, applyXor(s.labels.mask(d.classId, d.slice), d.runs, rows, columns));
    }
    try {
      const result = this.#commit(s, `${mode === 'undo' ? 'Undo' : 'Redo'} ${entry.label}`, changes, mode, started);
      if (mode === 'undo') s.history.undone(entry);
      else s.history.redone(entry);
      return { ...result, history: historyState(s.history) };
    } catch (e) {
      if (mode === 'undo') s.history.restoreUndo(entry);
      else s.history.restoreRedo(entry);
      throw e;
    }
  }

  #effectContext(s: Session): EffectContext {
    const names = new Map(this.#deps.store.classes(s.datasetId).map((c) => [c.id, c.name]));
    const grid = s.scan.grid;
    return {
      scan: s.scan,
      labels: s.labels,
      name: (id) => names.get(id) ?? `class ${id}`,
      acquiredVoxel: (i, j, k) => {
        if (k < 0 || k >= grid.dims[2]) return null;
        const slice = nearestAcquired(grid, k);
        const c = Math.round(i + (grid.shiftColumns[slice] as number));
        const r = Math.round(j + (grid.shiftRows[slice] as number));
        return c >= 0 && r >= 0 && c < grid.columns && r < grid.rows ? [c, r, slice] : null;
      },
    };
  }

  /**
   * Save an edit: the new masks of the changed slices go to the library in one transaction, then
   * into the session, and (for a new edit) its delta into the history. Slices whose mask does not
   * actually change are left alone.
   */
  #commit(s: Session, label: string, changes: SliceChanges, mode: 'edit' | 'undo' | 'redo', started: number, known?: VolumeEditResult['changes']): VolumeEditResult {
    const { labels } = s;
    const grid = s.scan.grid;
    const writes: SliceWrite[] = [];
    const deltas: SliceDelta[] = [];
    const applied: { classId: number; slice: number; mask: Uint8Array | null; voxels: number }[] = [];
    const counted = new Map<number, { classId: number; added: number; removed: number }>();
    for (const [classId, slices] of changes) {
      const tally = { classId, added: 0, removed: 0 };
      counted.set(classId, tally);
      for (const [slice, mask] of slices) {
        const d = xorDelta(labels.mask(classId, slice), mask, labels.rows, labels.columns);
        tally.added += d.added;
        tally.removed += d.removed;
        if (!d.runs) continue;
        const g = grid.slices[slice];
        if (!g) throw new FoveaException('INTERNAL', `Slice ${slice} is outside the volume.`);
        deltas.push({ classId, slice, runs: d.runs });
        applied.push({ classId, slice, mask, voxels: labels.voxels(classId, slice) + d.added - d.removed });
        writes.push({
          itemId: g.itemId,
          frameIndex: g.frames > 1 ? g.frameIndex : null,
          classId,
          rows: s.backing.get(backingKey(classId, slice)) ?? [],
          rle: mask ? ({ size: [labels.rows, labels.columns], counts: rleCounts(mask, labels.rows, labels.columns) } satisfies CocoRle) : null,
        });
      }
    }
    const summary = known ?? [...counted.values()];
    if (writes.length > 0) {
      let results;
      try {
        results = this.#deps.store.writeSlices({
          datasetId: s.datasetId,
          seriesId: s.seriesId,
          author: this.#deps.annotator(),
          audit: { operation: label, classIds: [...changes.keys()] },
          writes,
        });
      } catch (e) {
        // Another writer got there first: show what the library holds now.
        if (e instanceof FoveaException && e.code === 'CONFLICT') {
          this.#readLabels(s);
          s.history.clear();
        }
        throw e;
      }
      applied.forEach((a, i) => {
        labels.setMask(a.classId, a.slice, a.mask, a.voxels);
        s.backing.set(backingKey(a.classId, a.slice), (results[i] as { rows: RowRef[] }).rows);
      });
      s.fingerprint = this.#deps.store.fingerprint(s.seriesId);
      if (mode === 'edit') s.history.record(VolumeHistory.entry(label, deltas));
      this.#deps.onLabelsChanged({ datasetId: s.datasetId, itemId: null, seriesId: s.seriesId });
    }
    return { label, changes: summary, slicesWritten: writes.length, ms: performance.now() - started, segments: this.#segments(s), history: historyState(s.history) };
  }
}

function refOf(row: RegionRow): RowRef {
  return { id: row.id, version: row.version, kind: row.kind };
}

function historyState(h: VolumeHistory): VolumeHistoryState {
  return { canUndo: h.canUndo, canRedo: h.canRedo, undoLabel: h.undoLabel, redoLabel: h.redoLabel };
}

/** Voxels each segment gains and loses with `changes`. */
function summarize(labels: LabelVolume, changes: SliceChanges): { classId: number; added: number; removed: number }[] {
  const out: { classId: number; added: number; removed: number }[] = [];
  for (const [classId, slices] of changes) {
    let added = 0;
    let removed = 0;
    for (const [slice, mask] of slices) {
      const before = labels.mask(classId, slice);
      const n = labels.sliceSize;
      if (!before && mask) for (let i = 0; i < n; i++) added += mask[i] ? 1 : 0;
      else if (before && !mask) for (let i = 0; i < n; i++) removed += before[i] ? 1 : 0;
      else if (before && mask) {
        for (let i = 0; i < n; i++) {
          const d = (mask[i] ? 1 : 0) - (before[i] ? 1 : 0);
          if (d > 0) added++;
          else if (d < 0) removed++;
        }
      }
    }
    out.push({ classId, added, removed });
  }
  return out;
}
