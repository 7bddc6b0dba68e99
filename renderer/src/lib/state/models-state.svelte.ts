/**
 * The Models screen's state: the model packs and imported models (each verified), importing an
 * ONNX model, and a model's pass over a dataset as proposals with its classes mapped onto the
 * dataset's. Only this class talks to the api; the screen reads it.
 */
import type { ImportedModel, ModelInfo, ModelPredictReport } from '../../../../electron/contract/assist';
import type { LabelClass } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { request } from '../api';
import { JobState } from './job-state.svelte';

export class ModelsState {
  models = $state.raw<ModelInfo[]>([]);
  loading = $state(true);
  error = $state<FoveaError | null>(null);

  // Import
  path = $state('');
  name = $state('');
  classesPath = $state('');
  manifestPath = $state('');
  importing = $state(false);
  imported = $state.raw<ImportedModel | null>(null);
  importError = $state<FoveaError | null>(null);

  // Predict
  model = $state<string | null>(null);
  datasetId = $state<number | null>(null);
  datasetClasses = $state.raw<LabelClass[]>([]);
  /** Model class -> dataset class name ('' leaves it out). */
  classMap = $state<Record<string, string>>({});
  onlyUnlabeled = $state(false);
  minScore = $state(0.25);
  /** The model's pass over a dataset that this screen started, or found running when it opened. */
  readonly predictJob = new JobState('model-predict');
  readonly job = $derived(this.predictJob.jobId);
  done = $state(0);
  total = $state(0);
  report = $state.raw<ModelPredictReport | null>(null);
  predictError = $state<FoveaError | null>(null);

  readonly usable = $derived(this.models.filter((m) => m.status === 'ok' && m.task !== 'prompt-segmentation'));
  readonly selected = $derived(this.models.find((m) => m.name === this.model) ?? null);
  #off: (() => void) | null = null;

  start(): void {
    this.predictJob
      .on('models.predict.progress', (e) => {
        this.done = e.done;
        this.total = e.total;
      })
      .on('models.predict.finished', (e) => {
        this.report = e.report;
        this.predictError = e.error;
      })
      .connect();
    this.#off = () => this.predictJob.dispose();
    void this.refresh();
    void this.predictJob.attach().then((j) => {
      if (j?.progress?.total) {
        this.done = j.progress.done;
        this.total = j.progress.total;
      }
    });
  }

  dispose(): void {
    this.#off?.();
    this.#off = null;
  }

  async refresh(): Promise<void> {
    const res = await request('models.list', {});
    this.loading = false;
    if (!res.ok) {
      this.error = res.error;
      return;
    }
    this.error = null;
    this.models = res.value;
    if (this.model === null || !this.usable.some((m) => m.name === this.model)) this.model = this.usable[0]?.name ?? null;
    this.#defaultMap();
  }

  async importModel(): Promise<void> {
    if (!this.path.trim()) return;
    this.importing = true;
    this.importError = null;
    this.imported = null;
    const res = await request('models.import', {
      path: this.path.trim(),
      ...(this.name.trim() ? { name: this.name.trim() } : {}),
      ...(this.classesPath.trim() ? { classesPath: this.classesPath.trim() } : {}),
      ...(this.manifestPath.trim() ? { manifestPath: this.manifestPath.trim() } : {}),
    });
    this.importing = false;
    if (!res.ok) {
      this.importError = res.error;
      return;
    }
    this.imported = res.value;
    this.model = res.value.model.name;
    await this.refresh();
  }

  async selectDataset(id: number | null): Promise<void> {
    this.datasetId = id;
    this.datasetClasses = [];
    if (id === null) return;
    const res = await request('classes.list', { datasetId: id });
    if (res.ok && this.datasetId === id) this.datasetClasses = res.value;
    this.#defaultMap();
  }

  selectModel(name: string): void {
    this.model = name;
    this.#defaultMap();
  }

  /** Classes map by name (case-insensitive) until the user says otherwise. */
  #defaultMap(): void {
    const m = this.selected;
    if (!m) return;
    const map: Record<string, string> = {};
    m.classes.forEach((c, k) => {
      if (m.task === 'segmentation' && k === 0) return;
      map[c] = this.datasetClasses.find((d) => d.name.toLowerCase() === c.toLowerCase())?.name ?? '';
    });
    this.classMap = map;
  }

  async predict(): Promise<void> {
    if (!this.model || this.datasetId === null || this.job) return;
    this.report = null;
    this.predictError = null;
    this.done = 0;
    this.total = 0;
    const model = this.model;
    const datasetId = this.datasetId;
    const res = await this.predictJob.start(() => request('models.predict', {
      model,
      datasetId,
      classMap: { ...this.classMap },
      onlyUnlabeled: this.onlyUnlabeled,
      ...(this.selected?.task === 'detection' ? { minScore: this.minScore } : {}),
    }));
    if (!res.ok) this.predictError = res.error;
  }

  cancel(): void {
    void this.predictJob.cancel();
  }
}
