/**
 * Model help in the viewer: click-to-mask prompts and their candidate mask, and propagation of a
 * mask across the slices of a stack. Talks to the backend through api.ts ('assist.*'); saving an
 * accepted mask goes through AnnotateState like any edit (undoable, audited).
 *
 * Click-to-mask: every click or box asks for a mask with ALL the prompts so far; after the first
 * answer further prompts refine the previous mask (the backend keeps its low-resolution logits).
 * Only the newest answer is shown (a slow answer to an older prompt is dropped). When the tool is
 * on and the image changes, the image is encoded at once ('assist.prepare', seconds the first
 * time) and the next images in browse order are encoded in the background, so their clicks only
 * decode (milliseconds).
 */
import type { PropagationReport, SegmentResponse } from '../../../../electron/contract/assist';
import type { BoxGeometry } from '../../../../electron/contract/domain';
import type { PromptHost } from '../../annotate/tool';
import type { Pt } from '../../annotate/geometry';
import { request } from '../api';
import { JobState } from './job-state.svelte';

/** What AssistState needs of the labeling state. */
export interface AssistHost {
  readonly view: { itemId: number; frame: number; width: number; height: number } | null;
  readonly activeClassId: number | null;
  createShape(kind: 'mask', geometry: { rle: SegmentResponse['rle'] }, label: string): void;
  createShapes(kind: 'polygon', geometries: { points: [number, number][] }[], label: string): void;
  notice(message: string): void;
  reload(): Promise<void>;
}

export interface StackEntry {
  itemId: number;
  frame: number;
}

export class AssistState implements PromptHost {
  points = $state.raw<{ x: number; y: number; positive: boolean }[]>([]);
  box = $state.raw<BoxGeometry | null>(null);
  result = $state.raw<SegmentResponse | null>(null);
  /** 'encoding': the image's embedding is being computed; 'segmenting': a prompt is being decoded. */
  status = $state<'idle' | 'encoding' | 'segmenting' | 'ready' | 'error'>('idle');
  error = $state<string | null>(null);
  /** The last encode (ms) of this image, null when it was cached. */
  encodeMs = $state<number | null>(null);
  cacheEntries = $state(0);
  propagation = $state.raw<{ jobId: string; done: number; running: boolean; report: PropagationReport | null } | null>(null);

  readonly #host: AssistHost;
  /** The window the viewer shows (greyscale images), or null. */
  windowOf: () => { center: number; width: number } | null = () => null;
  #ticket = 0;
  #preparedKey: string | null = null;

  constructor(host: AssistHost) {
    this.#host = host;
  }

  #window(): { center: number; width: number } | undefined {
    const w = this.windowOf();
    return w ? { center: w.center, width: Math.max(1, w.width) } : undefined;
  }

  /** The tool is on for a (new) image: forget the prompts, encode it now and the next ones ahead. */
  async prepare(ahead: readonly StackEntry[]): Promise<void> {
    const v = this.#host.view;
    if (!v) return;
    const window = this.#window();
    const key = `${v.itemId}:${v.frame}:${window ? `${window.center},${window.width}` : ''}`;
    if (key === this.#preparedKey) return;
    this.#preparedKey = key;
    this.#reset();
    this.status = 'encoding';
    this.error = null;
    const res = await request('assist.prepare', { itemId: v.itemId, frame: v.frame, ...(window ? { window } : {}), ahead: ahead.slice(0, 4).map((a) => ({ itemId: a.itemId, frame: a.frame })) });
    if (this.#preparedKey !== key) return;
    if (!res.ok) {
      this.status = 'error';
      this.error = res.error.message;
      this.#preparedKey = null;
      return;
    }
    this.encodeMs = res.value.encodeMs;
    this.cacheEntries = res.value.cache.entries;
    if (this.status === 'encoding') this.status = 'idle';
  }

  /** The image changed or the tool went off. */
  leave(): void {
    this.#preparedKey = null;
    this.#reset();
    this.status = 'idle';
  }

  #reset(): void {
    this.#ticket++;
    this.points = [];
    this.box = null;
    this.result = null;
  }

  click(p: Pt, positive: boolean): void {
    this.points = [...this.points, { x: p.x, y: p.y, positive }];
    void this.#segment();
  }

  setBox(box: BoxGeometry): void {
    this.box = box;
    void this.#segment();
  }

  undoLast(): boolean {
    if (this.points.length === 0 && !this.box) return false;
    if (this.points.length > 0) this.points = this.points.slice(0, -1);
    else this.box = null;
    if (this.points.length === 0 && !this.box) {
      this.#ticket++;
      this.result = null;
      this.status = 'idle';
    } else void this.#segment(false);
    return true;
  }

  clear(): boolean {
    if (this.points.length === 0 && !this.box && !this.result) return false;
    this.#reset();
    this.status = 'idle';
    return true;
  }

  async #segment(refine = true): Promise<void> {
    const v = this.#host.view;
    if (!v || (this.points.length === 0 && !this.box)) return;
    const ticket = ++this.#ticket;
    const window = this.#window();
    this.status = this.status === 'encoding' ? 'encoding' : 'segmenting';
    const res = await request('assist.segment', {
      itemId: v.itemId,
      frame: v.frame,
      ...(window ? { window } : {}),
      points: this.points,
      ...(this.box ? { box: this.box } : {}),
      // The first prompt starts fresh; later ones correct the last mask.
      refine: refine && this.result !== null,
    });
    if (ticket !== this.#ticket) return;
    if (!res.ok) {
      this.status = 'error';
      this.error = res.error.message;
      return;
    }
    this.result = res.value;
    this.status = 'ready';
    this.error = null;
  }

  accept(as: 'mask' | 'polygon'): boolean {
    const r = this.result;
    if (!r || r.area === 0) {
      this.#host.notice('Nothing to accept: click on the object (Alt+click off it) or drag a box first.');
      return true;
    }
    if (this.#host.activeClassId === null) {
      this.#host.notice('Choose a class first (keys 1-9).');
      return true;
    }
    if (as === 'mask') this.#host.createShape('mask', { rle: r.rle }, 'Click-to-mask');
    else void this.#acceptPolygons(r, this.#host.activeClassId);
    this.#reset();
    this.status = 'idle';
    return true;
  }

  /** Outlines are traced by the backend only now (tracing costs more than a click may take). */
  async #acceptPolygons(r: SegmentResponse, classId: number): Promise<void> {
    const res = await request('assist.outline', { rle: r.rle });
    if (!res.ok) return this.#host.notice(res.error.message);
    const polys = res.value.polygons.filter((p) => p.length >= 3).map((points) => ({ points }));
    if (polys.length === 0) return this.#host.notice('The mask is too small to outline.');
    if (this.#host.activeClassId !== classId) return this.#host.notice('The class changed before the outline was ready: accept again.');
    this.#host.createShapes('polygon', polys, `Click-to-mask (${polys.length} polygon${polys.length === 1 ? '' : 's'})`);
  }

  /** Propose this mask on the next slices (forward, backward or both) until the object ends. */
  async propagate(annotationId: number, direction: 'forward' | 'backward' | 'both'): Promise<void> {
    if (this.propagation?.running) return;
    const window = this.#window();
    let finished: PropagationReport | null | undefined;
    let failure: string | null = null;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    // Events of this job that arrive before the request answers are buffered by JobState.
    const job = new JobState('propagate')
      .on('assist.propagate.progress', (e) => {
        if (this.propagation) this.propagation = { ...this.propagation, done: e.done };
      })
      .on('assist.propagate.finished', (e) => {
        finished = e.report;
        failure = e.error?.code === 'CANCELLED' ? null : (e.error?.message ?? null);
        resolveDone();
      });
    job.connect();
    try {
      const res = await job.start(() => request('assist.propagate', { annotationId, direction, ...(window ? { window } : {}) }));
      if (!res.ok) {
        this.#host.notice(res.error.message);
        return;
      }
      const jobId = res.value.jobId;
      this.propagation = { jobId, done: job.progress?.done ?? 0, running: true, report: null };
      if (finished === undefined) await done;
      this.propagation = { jobId, done: finished?.proposed ?? this.propagation?.done ?? 0, running: false, report: finished ?? null };
      await this.#host.reload();
      if (failure) this.#host.notice(`Propagation failed: ${failure}`);
      else if (finished) {
        const why = [finished.stopped.forward && `forward: ${finished.stopped.forward}`, finished.stopped.backward && `backward: ${finished.stopped.backward}`].filter(Boolean).join('; ');
        this.#host.notice(`Proposed ${finished.proposed} mask${finished.proposed === 1 ? '' : 's'} on other slices (${why}). Review them slice by slice: accept (a) or reject (x).`);
      } else this.#host.notice('Propagation stopped; the masks proposed so far stay for review.');
    } finally {
      job.dispose();
    }
  }

  stopPropagation(): void {
    const p = this.propagation;
    if (p?.running) void request('jobs.cancel', { jobId: p.jobId });
  }
}
