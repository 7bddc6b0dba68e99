/**
 * State of the training screen: the form, the plan (classes, split), the live
 * run and its curves, and the run history. Only this class talks to the api.
 */
import type { RunDetail, RunSummary, TrainingPlan } from '../../../../electron/contract/domain';
import type { BatchProgress, TaskKind } from '../../../../electron/contract/ml';
import type { FoveaError } from '../../../../electron/contract/result';
import { on, request } from '../api';

export class TrainingState {
  datasetId = $state<number | null>(null);
  task = $state<TaskKind>('classification');
  epochs = $state<number | null>(null);
  batchSize = $state<number | null>(null);
  inputSize = $state<number | null>(null);
  backend = $state<'auto' | 'tensorflow' | 'wasm' | 'cpu'>('auto');

  plan = $state.raw<TrainingPlan | null>(null);
  planError = $state<FoveaError | null>(null);
  runs = $state.raw<RunSummary[]>([]);
  /** The run shown in the charts (live or picked from history). */
  selected = $state.raw<RunDetail | null>(null);
  live = $state.raw<BatchProgress | null>(null);
  jobId = $state<string | null>(null);
  liveRunId = $state<number | null>(null);
  error = $state<FoveaError | null>(null);
  starting = $state(false);

  readonly running = $derived(this.jobId !== null);
  #offs: (() => void)[] = [];

  start(): void {
    this.#offs.push(
      on('training.started', (e) => {
        if (this.jobId !== null && e.jobId !== this.jobId) return;
        this.liveRunId = e.runId;
        void this.select(e.runId);
        void this.refreshRuns();
      }),
      on('training.batch', (e) => {
        if (e.runId !== this.liveRunId) return;
        this.live = e;
        const sel = this.selected;
        if (sel && sel.id === e.runId) {
          this.selected = { ...sel, batchCurve: [...sel.batchCurve, { epoch: e.epoch, batch: e.batch, loss: e.loss, imagesPerSecond: e.imagesPerSecond }] };
        }
      }),
      on('training.epoch', (e) => {
        if (e.runId === this.liveRunId) void this.select(e.runId);
      }),
      on('training.finished', (e) => {
        if (this.jobId !== null && e.jobId !== this.jobId) return;
        this.jobId = null;
        this.live = null;
        if (e.error) this.error = e.error;
        if (e.runId !== null) void this.select(e.runId);
        void this.refreshRuns();
      }),
    );
    void this.refreshRuns();
  }

  async refreshPlan(): Promise<void> {
    if (this.datasetId === null) return;
    this.planError = null;
    const res = await request('training.plan', { datasetId: this.datasetId, task: this.task });
    if (res.ok) this.plan = res.value;
    else {
      this.plan = null;
      this.planError = res.error;
    }
  }

  async refreshRuns(): Promise<void> {
    const res = await request('runs.list', {});
    if (res.ok) this.runs = res.value;
  }

  async select(runId: number): Promise<void> {
    const res = await request('runs.get', { runId });
    if (res.ok) this.selected = res.value;
  }

  async startRun(): Promise<void> {
    if (this.datasetId === null) return;
    this.error = null;
    this.starting = true;
    const res = await request('training.start', {
      datasetId: this.datasetId,
      task: this.task,
      backend: this.backend,
      ...(this.epochs ? { epochs: this.epochs } : {}),
      ...(this.batchSize ? { batchSize: this.batchSize } : {}),
      ...(this.inputSize ? { inputSize: this.inputSize } : {}),
    });
    this.starting = false;
    if (res.ok) this.jobId = res.value.jobId;
    else this.error = res.error;
  }

  async resume(runId: number): Promise<void> {
    this.error = null;
    const res = await request('training.resume', { runId });
    if (res.ok) this.jobId = res.value.jobId;
    else this.error = res.error;
  }

  async cancel(): Promise<void> {
    if (this.liveRunId !== null) await request('training.cancel', { runId: this.liveRunId });
  }

  dispose(): void {
    for (const off of this.#offs) off();
    this.#offs = [];
  }
}
