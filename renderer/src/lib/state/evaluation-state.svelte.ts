/**
 * State of the evaluation screen: which run and split, the stored report,
 * a running evaluation or predict job and its progress, and the error
 * gallery. Only this class talks to the api. The per-image lists come from
 * the report ($state.raw: they can hold thousands of images).
 */
import type { RunSummary } from '../../../../electron/contract/domain';
import type { EvaluationReport, EvaluationSplit, EvaluationSummary, GalleryImage, PredictReport } from '../../../../electron/contract/evaluation';
import type { FoveaError } from '../../../../electron/contract/result';
import { on, request } from '../api';
import { JobState } from './job-state.svelte';

/** An image of the report, with why it is interesting. */
export interface ImageRef {
  itemId: number;
  frameIndex: number;
}

export const GALLERY_SIZE = 12;

/** The worst images of a report first: the error gallery's and the per-image table's order. */
export function worstImages(report: EvaluationReport): (ImageRef & { score: number | null; note: string })[] {
  if (report.task === 'classification') {
    const names = report.source.classNames;
    return report.images
      .filter((i) => i.predicted.join(',') !== i.truth.join(','))
      .map((i) => {
        const t = i.truth[0];
        const pTrue = t === undefined ? 0 : (i.probabilities[t] ?? 0);
        return {
          itemId: i.itemId,
          frameIndex: i.frameIndex,
          score: pTrue,
          note: `true ${i.truth.map((k) => names[k]).join(', ') || '—'} · predicted ${i.predicted.map((k) => names[k]).join(', ') || '—'}`,
        };
      })
      .sort((a, b) => (a.score ?? 0) - (b.score ?? 0));
  }
  if (report.task === 'detection') {
    return report.images
      .filter((i) => i.itemId !== undefined && i.falsePositives + i.falseNegatives > 0)
      .map((i) => ({
        itemId: i.itemId as number,
        frameIndex: i.frameIndex ?? 0,
        score: i.truePositives / Math.max(1, i.truePositives + i.falsePositives + i.falseNegatives),
        note: `${i.truePositives} hit · ${i.falsePositives} false · ${i.falseNegatives} missed`,
      }))
      .sort((a, b) => (a.score ?? 0) - (b.score ?? 0));
  }
  return report.images
    .filter((i) => i.itemId !== undefined && i.dice !== null)
    .map((i) => ({ itemId: i.itemId as number, frameIndex: i.frameIndex ?? 0, score: i.dice, note: `Dice ${(i.dice ?? 0).toFixed(3)} · IoU ${(i.iou ?? 0).toFixed(3)}` }))
    .sort((a, b) => (a.score ?? 0) - (b.score ?? 0));
}

export class EvaluationState {
  runs = $state.raw<RunSummary[]>([]);
  runId = $state<number | null>(null);
  split = $state<EvaluationSplit>('test');
  /** Classification: evaluate with test-time augmentation (the image and its flips averaged). */
  tta = $state(false);
  report = $state.raw<EvaluationReport | null>(null);
  stored = $state.raw<EvaluationSummary[]>([]);
  loading = $state(false);
  error = $state<FoveaError | null>(null);
  /** The evaluation job running, and its images scored so far. */
  readonly evalJob = new JobState('evaluation');
  progress = $state.raw<{ done: number; total: number; phase: string } | null>(null);
  /** The predict job running, and its images. */
  readonly predictJob = new JobState('predict');
  readonly predictJobId = $derived(this.predictJob.jobId);
  predictProgress = $state.raw<{ done: number; total: number } | null>(null);
  predictReport = $state.raw<PredictReport | null>(null);
  gallery = $state.raw<GalleryImage[]>([]);
  galleryLoading = $state(false);

  readonly run = $derived(this.runs.find((r) => r.id === this.runId) ?? null);
  readonly running = $derived(this.evalJob.running);
  #offs: (() => void)[] = [];
  #galleryTicket = 0;
  // A cache, never rendered.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #comparisons = new Map<string, GalleryImage>();

  start(): void {
    this.evalJob
      .on('evaluation.progress', (e) => {
        this.progress = { done: e.done, total: e.total, phase: e.phase };
      })
      .on('evaluation.finished', (e) => {
        this.progress = null;
        if (e.error) this.error = e.error;
        else void this.load();
      })
      .connect();
    this.predictJob
      .on('predict.progress', (e) => {
        this.predictProgress = { done: e.done, total: e.total };
      })
      .on('predict.finished', (e) => {
        this.predictProgress = null;
        if (e.error) this.error = e.error;
        this.predictReport = e.report;
      })
      .connect();
    this.#offs.push(
      on('training.finished', () => void this.refreshRuns()),
    );
    void this.refreshRuns().then(() => this.#rebuild());
  }

  /** Show an evaluation or a pre-labelling that is still running (started before this screen opened). */
  async #rebuild(): Promise<void> {
    const [evaluation, predict] = await Promise.all([this.evalJob.attach(), this.predictJob.attach()]);
    const runId = evaluation?.subject.runId ?? predict?.subject.runId ?? null;
    if (evaluation?.progress?.total) this.progress = { done: evaluation.progress.done, total: evaluation.progress.total, phase: evaluation.progress.phase ?? 'Predicting' };
    if (predict?.progress?.total) this.predictProgress = { done: predict.progress.done, total: predict.progress.total };
    if (runId !== null && runId !== this.runId) await this.select(runId);
  }

  async refreshRuns(): Promise<void> {
    const res = await request('runs.list', {});
    if (!res.ok) return;
    this.runs = res.value;
    if (this.runId === null || !res.value.some((r) => r.id === this.runId)) {
      const first = res.value.find((r) => r.epochsCompleted > 0 && r.status !== 'running') ?? res.value[0];
      if (first) await this.select(first.id);
    }
  }

  async select(runId: number): Promise<void> {
    this.runId = runId;
    this.predictReport = null;
    await this.load();
  }

  async setSplit(split: EvaluationSplit): Promise<void> {
    this.split = split;
    await this.load();
  }

  /** The stored evaluation of the run on the split (null until one is run). */
  async load(): Promise<void> {
    const runId = this.runId;
    if (runId === null) return;
    this.loading = true;
    this.error = null;
    const [res, list] = await Promise.all([request('evaluation.get', { runId, split: this.split }), request('evaluation.list', { runId })]);
    if (runId !== this.runId) return;
    this.loading = false;
    if (list.ok) this.stored = list.value;
    if (res.ok) {
      this.report = res.value;
      void this.loadGallery();
    } else {
      this.report = null;
      this.error = res.error;
    }
  }

  async evaluate(): Promise<void> {
    if (this.runId === null) return;
    this.error = null;
    this.progress = { done: 0, total: 0, phase: 'Starting' };
    const runId = this.runId;
    const res = await this.evalJob.start(() => request('evaluation.run', { runId, split: this.split, ...(this.tta && this.run?.task === 'classification' ? { tta: true } : {}) }));
    if (!res.ok) {
      this.progress = null;
      this.error = res.error;
    }
  }

  async cancel(): Promise<void> {
    await (this.evalJob.running ? this.evalJob : this.predictJob).cancel();
  }

  /** Pre-label the run's dataset with the model (proposals for a person to review). */
  async predict(onlyUnlabeled: boolean): Promise<void> {
    if (this.runId === null) return;
    this.error = null;
    this.predictReport = null;
    this.predictProgress = { done: 0, total: 0 };
    const runId = this.runId;
    const res = await this.predictJob.start(() => request('predict.start', { runId, onlyUnlabeled }));
    if (!res.ok) {
      this.predictProgress = null;
      this.error = res.error;
    }
  }

  /** Prediction and truth of the worst images of the report. */
  async loadGallery(): Promise<void> {
    const report = this.report;
    const runId = this.runId;
    if (!report || runId === null) {
      this.gallery = [];
      return;
    }
    const images = worstImages(report).slice(0, GALLERY_SIZE).map(({ itemId, frameIndex }) => ({ itemId, frameIndex }));
    if (!images.length) {
      this.gallery = [];
      return;
    }
    const ticket = ++this.#galleryTicket;
    this.galleryLoading = true;
    const res = await request('evaluation.gallery', { runId, datasetId: report.source.datasetId, images });
    if (ticket !== this.#galleryTicket) return;
    this.galleryLoading = false;
    this.gallery = res.ok ? res.value : [];
    if (!res.ok) this.error = res.error;
  }

  /**
   * The truth and the run's prediction on one image, for the viewer opened from a number
   * (a confusion-matrix cell showed neither before). Cached per image while the report is shown.
   */
  async comparisonFor(itemId: number, frameIndex: number): Promise<GalleryImage | null> {
    const report = this.report;
    const runId = this.runId;
    if (!report || runId === null) return null;
    const key = `${runId}:${report.source.datasetId}:${itemId}:${frameIndex}`;
    const hit = this.#comparisons.get(key);
    if (hit) return hit;
    const res = await request('evaluation.gallery', { runId, datasetId: report.source.datasetId, images: [{ itemId, frameIndex }] });
    const image = res.ok ? (res.value[0] ?? null) : null;
    if (image) {
      if (this.#comparisons.size >= 64) this.#comparisons.delete(this.#comparisons.keys().next().value as string);
      this.#comparisons.set(key, image);
    }
    return image;
  }

  dispose(): void {
    this.evalJob.dispose();
    this.predictJob.dispose();
    this.#comparisons.clear();
    for (const off of this.#offs) off();
    this.#offs = [];
  }
}
