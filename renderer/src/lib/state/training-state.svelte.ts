/**
 * State of the training screen: the form, the plan (classes, split), the live
 * run and its curves, and the run history. Only this class talks to the api.
 *
 * Classes: `chosenClasses` null means "every class with a usable label" (the
 * default, and what is sent as no `classNames` at all); a list is the user's
 * ticks, sent with the plan and the run. The pickable classes (`available`)
 * outlive a plan that failed, so a bad choice can be undone.
 * Split: the plan shows it; `redrawSplit` draws the automatic rows again with
 * the fractions (percent) and seed of the form; a person's rows never move.
 */
import type { SplitRedrawResult } from '../../../../electron/contract/api';
import type { ModelInfo } from '../../../../electron/contract/assist';
import type { RunDetail, RunSummary, TrainingPlan } from '../../../../electron/contract/domain';
import type { AugmentConfig, BackendPreference, BatchProgress, TaskKind } from '../../../../electron/contract/ml';
import type { FoveaError } from '../../../../electron/contract/result';
import { regularisationProblem, runRecipeProblem } from '../../../../electron/contract/runs';
import { timeBudgetProblem, timeBudgetSeconds } from '../../../../electron/contract/training-recipe';
import { on, request } from '../api';
import { JobState } from './job-state.svelte';

export class TrainingState {
  datasetId = $state<number | null>(null);
  task = $state<TaskKind>('classification');
  epochs = $state<number | null>(null);
  batchSize = $state<number | null>(null);
  inputSize = $state<number | null>(null);
  backend = $state<BackendPreference>('auto');
  /** The new run's name and notes, learning rate (null: the task's) and augmentation choices (absent: the task's). */
  runName = $state('');
  runNotes = $state('');
  learningRate = $state<number | null>(null);
  /** Epochs without improvement before the run stops (0: never; null: the task's). */
  patience = $state<number | null>(null);
  /** The learning-rate schedule (null: the plan's, a cosine under a time budget, else constant). */
  lrSchedule = $state<'constant' | 'cosine' | null>(null);
  /** Segmentation's and detection's pretrained encoder: undefined the plan's (none without a plan), null none. */
  encoder = $state<'imagenet-mobilenetv2' | null | undefined>(undefined);
  augment = $state<Partial<AugmentConfig>>({});
  /** Classification regularisation (null: off): label smoothing epsilon, mixup and CutMix alphas. */
  labelSmoothing = $state<number | null>(null);
  mixup = $state<number | null>(null);
  cutmix = $state<number | null>(null);
  /** The recipe: the task's defaults or planned from the data; a time budget (minutes, null: none) always plans. */
  recipe = $state<'defaults' | 'planned'>('defaults');
  budgetMinutes = $state<number | null>(null);
  /** Warm start: the finished run whose weights the new run starts from (null: from scratch), and its detail (classes, input size). */
  warmStartRunId = $state<number | null>(null);
  warmStartDetail = $state.raw<RunDetail | null>(null);
  /** Or an imported model of the library (an ONNX model, by name), and the library's models. */
  warmStartModelName = $state<string | null>(null);
  models = $state.raw<ModelInfo[]>([]);

  /** The ticked classes, in the dataset's order; null: all of `available`. */
  chosenClasses = $state.raw<string[] | null>(null);
  /** Classes with a usable label for the task (from the last plan of this dataset and task). */
  available = $state.raw<string[]>([]);
  minClasses = $state(1);

  /** Split form: percentages and seed (null: the task's default seed). */
  fractions = $state({ train: 70, val: 15, test: 15 });
  splitSeed = $state<number | null>(null);
  redrawing = $state(false);
  redrawResult = $state.raw<SplitRedrawResult | null>(null);
  redrawError = $state<FoveaError | null>(null);

  plan = $state.raw<TrainingPlan | null>(null);
  planError = $state<FoveaError | null>(null);
  runs = $state.raw<RunSummary[]>([]);
  /** The run shown in the charts (live or picked from history). */
  selected = $state.raw<RunDetail | null>(null);
  live = $state.raw<BatchProgress | null>(null);
  /** The training job this screen started, or found running when it opened. */
  readonly job = new JobState('training');
  liveRunId = $state<number | null>(null);
  error = $state<FoveaError | null>(null);
  starting = $state(false);

  readonly running = $derived(this.job.running);
  /** Runs a new run of this task may start from: finished, with a best checkpoint, newest first. */
  readonly warmStartCandidates = $derived(this.runs.filter((r) => r.task === this.task && (r.status === 'done' || r.status === 'stopped-early') && r.bestEpoch !== null));
  /** The chosen warm start while it is still one of the candidates (another task drops it). */
  readonly warmStart = $derived(this.warmStartCandidates.find((r) => r.id === this.warmStartRunId) ?? null);
  /** Imported models of this task a new run may start from (matched by layer order and shape). */
  readonly warmStartModelCandidates = $derived(this.models.filter((m) => m.origin === 'imported' && m.status === 'ok' && m.task === this.task));
  /** The chosen imported model while it is still a candidate. */
  readonly warmStartModel = $derived(this.warmStartModelCandidates.find((m) => m.name === this.warmStartModelName) ?? null);
  /** A warm start's input size (the new run's default), once its detail is loaded. */
  readonly warmStartInputSize = $derived(
    this.warmStart && this.warmStartDetail?.id === this.warmStart.id
      ? this.warmStartDetail.config.inputSize
      : this.warmStartModel?.input && this.warmStartModel.input.width === this.warmStartModel.input.height
        ? this.warmStartModel.input.width
        : null,
  );
  /** Why the ticked classes cannot train (checked here too, so no request is made), or null. */
  readonly classProblem = $derived.by(() => {
    const n = this.chosenClasses?.length ?? this.available.length;
    if (this.chosenClasses === null || n >= this.minClasses) return null;
    return this.minClasses === 2 ? 'A single-label classifier needs at least two classes.' : 'Choose at least one class.';
  });
  /** Why the learning rate or augmentation cannot be used (the contract's rule and message), or null. */
  readonly recipeProblem = $derived(runRecipeProblem(this.learningRate, this.augment) ?? (this.task === 'classification' ? regularisationProblem(this.task, this.#regularisation()) : null));
  /** Why the time budget cannot be used (training-recipe.ts, the one rule), or null. */
  readonly budgetProblem = $derived(this.budgetMinutes === null ? null : timeBudgetProblem(this.budgetMinutes));
  /** Whether the run is planned from the data (chosen, or implied by a time budget). */
  readonly planned = $derived(this.recipe === 'planned' || this.budgetMinutes !== null);
  /** Why this plan cannot train (no labels; none in train or validation), or null: Start says it. */
  readonly dataProblem = $derived.by(() => {
    const p = this.plan;
    if (!p) return null;
    if (p.samples === 0) return `No labelled images for ${p.task} in this dataset: label some in Browse (Alt+4) or import labels first.`;
    const l = p.splits.labelled;
    if (l && (!l['train'] || !l['val'])) {
      return `Training needs labelled images in both the train and the validation split (now ${l['train'] ?? 0} and ${l['val'] ?? 0}): redraw the split or set splits by hand.`;
    }
    return null;
  });
  #offs: (() => void)[] = [];
  /** Plans answered out of order are dropped: only the latest request's answer counts. */
  #planSeq = 0;
  #planKey = '';

  /** Subscribe, and show a run that is still training (started before this screen opened, or elsewhere). */
  start(): void {
    this.job
      .on('training.started', (e) => {
        this.liveRunId = e.runId;
        void this.select(e.runId);
        void this.refreshRuns();
      })
      .on('training.finished', (e) => {
        this.live = null;
        if (e.error) this.error = e.error;
        if (e.runId !== null) void this.select(e.runId);
        void this.refreshRuns();
      })
      .connect();
    this.#offs.push(
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
    );
    void this.refreshRuns();
    void this.refreshModels();
    void this.#rebuild();
  }

  /** Follow a running training job: its run, and the form it was started with. */
  async #rebuild(): Promise<void> {
    const job = await this.job.attach();
    const runId = job?.subject.runId ?? null;
    if (runId === null || this.liveRunId !== null) return;
    this.liveRunId = runId;
    const res = await request('runs.get', { runId });
    if (!res.ok) return;
    const run = res.value;
    this.selected = run;
    this.datasetId = run.datasetId;
    this.task = run.task;
    this.epochs = run.config.epochs;
    this.batchSize = run.config.batchSize;
    this.inputSize = run.config.inputSize;
    this.chosenClasses = null;
  }

  async refreshPlan(): Promise<void> {
    if (this.datasetId === null) return;
    const key = `${this.datasetId}/${this.task}`;
    if (key !== this.#planKey) {
      // Another dataset or task: its own classes, all ticked.
      this.#planKey = key;
      this.chosenClasses = null;
      this.available = [];
      this.redrawResult = null;
      this.redrawError = null;
      // A refused start spoke of the former dataset or task (e.g. copy-paste without masks).
      this.error = null;
    }
    const seq = ++this.#planSeq;
    if (this.classProblem) {
      this.plan = null;
      this.planError = null;
      return;
    }
    const chosen = this.chosenClasses;
    const res = await request('training.plan', { datasetId: this.datasetId, task: this.task, ...(chosen ? { classNames: chosen } : {}) });
    if (seq !== this.#planSeq) return;
    if (res.ok) {
      this.plan = res.value;
      this.planError = null;
      this.available = res.value.availableClassNames;
      this.minClasses = res.value.minClasses;
    } else {
      this.plan = null;
      this.planError = res.error;
    }
  }

  isChosen(name: string): boolean {
    return this.chosenClasses === null || this.chosenClasses.includes(name);
  }

  /** Tick or untick a class, then plan again. Ticking every class goes back to the default. */
  async toggleClass(name: string): Promise<void> {
    const current = this.chosenClasses ?? this.available;
    const list = this.available.filter((c) => (c === name ? !current.includes(c) : current.includes(c)));
    this.chosenClasses = list.length === this.available.length ? null : list;
    await this.refreshPlan();
  }

  /** Draw the automatic split again with the form's fractions and seed; a person's splits stay. */
  async redrawSplit(): Promise<void> {
    if (this.datasetId === null) return;
    this.redrawError = null;
    this.redrawing = true;
    const f = this.fractions;
    const res = await request('splits.redraw', {
      datasetId: this.datasetId,
      seed: this.splitSeed ?? this.plan?.defaults.seed ?? 0,
      fractions: { train: (f.train || 0) / 100, val: (f.val || 0) / 100, test: (f.test || 0) / 100 },
    });
    this.redrawing = false;
    if (res.ok) {
      this.redrawResult = res.value;
      await this.refreshPlan();
    } else {
      this.redrawResult = null;
      this.redrawError = res.error;
    }
  }

  async refreshRuns(): Promise<void> {
    const res = await request('runs.list', {});
    if (res.ok) this.runs = res.value;
  }

  /** The library's models (imported ONNX models are warm-start sources). */
  async refreshModels(): Promise<void> {
    const res = await request('models.list', {});
    if (res.ok) this.models = res.value;
  }

  /** Chooses an imported model to start from by name (null: from scratch). */
  chooseWarmStartModel(name: string | null): void {
    this.warmStartRunId = null;
    this.warmStartDetail = null;
    this.warmStartModelName = name;
  }

  /** Chooses the run to start from (null: from scratch) and loads its classes and input size for the form. */
  async chooseWarmStart(runId: number | null): Promise<void> {
    this.warmStartModelName = null;
    this.warmStartRunId = runId;
    this.warmStartDetail = null;
    if (runId === null) return;
    const res = await request('runs.get', { runId });
    if (res.ok && this.warmStartRunId === runId) this.warmStartDetail = res.value;
  }

  async select(runId: number): Promise<void> {
    const res = await request('runs.get', { runId });
    if (res.ok) this.selected = res.value;
  }

  /** The regularisation fields that hold a number (an emptied number input is null or NaN). */
  #regularisation(): { labelSmoothing?: number; mixup?: number; cutmix?: number } {
    const given = (x: number | null): x is number => typeof x === 'number' && !Number.isNaN(x);
    return {
      ...(given(this.labelSmoothing) ? { labelSmoothing: this.labelSmoothing } : {}),
      ...(given(this.mixup) ? { mixup: this.mixup } : {}),
      ...(given(this.cutmix) ? { cutmix: this.cutmix } : {}),
    };
  }

  async startRun(): Promise<void> {
    const datasetId = this.datasetId;
    if (datasetId === null) return;
    this.error = null;
    this.starting = true;
    this.liveRunId = null;
    const res = await this.job.start(() => request('training.start', {
      datasetId,
      task: this.task,
      backend: this.backend,
      ...(this.chosenClasses ? { classNames: this.chosenClasses } : {}),
      ...(this.epochs ? { epochs: this.epochs } : {}),
      ...(this.batchSize ? { batchSize: this.batchSize } : {}),
      ...(this.inputSize ? { inputSize: this.inputSize } : {}),
      ...(this.runName.trim() ? { name: this.runName } : {}),
      ...(this.runNotes ? { notes: this.runNotes } : {}),
      ...(typeof this.learningRate === 'number' && !Number.isNaN(this.learningRate) ? { learningRate: this.learningRate } : {}),
      ...(typeof this.patience === 'number' && Number.isInteger(this.patience) ? { earlyStoppingPatience: this.patience } : {}),
      ...(this.lrSchedule ? { lrSchedule: this.lrSchedule } : {}),
      ...((this.task === 'segmentation' || this.task === 'detection') && this.encoder !== undefined ? { encoder: this.encoder } : {}),
      ...(Object.keys(chosenAugment(this.augment, this.task)).length > 0 ? { augment: chosenAugment(this.augment, this.task) } : {}),
      ...(this.planned ? { recipe: 'planned' as const } : {}),
      // Label smoothing, mixup and CutMix are classification's; the fields are hidden for other tasks.
      ...(this.task === 'classification' ? this.#regularisation() : {}),
      ...(this.budgetMinutes !== null ? { timeBudgetSeconds: timeBudgetSeconds(this.budgetMinutes) } : {}),
      ...(this.warmStart ? { warmStartRunId: this.warmStart.id } : {}),
      ...(this.warmStartModel ? { warmStartModel: this.warmStartModel.name } : {}),
    }));
    this.starting = false;
    if (!res.ok) this.error = res.error;
    else {
      // The name and notes were this run's; the next run gets its own.
      this.runName = '';
      this.runNotes = '';
    }
  }

  async resume(runId: number): Promise<void> {
    this.error = null;
    this.liveRunId = null;
    const res = await this.job.start(() => request('training.resume', { runId }));
    if (!res.ok) this.error = res.error;
  }

  /** Stop after the current batch (the run keeps its checkpoint); before the run exists, cancel the job. */
  async cancel(): Promise<void> {
    if (this.liveRunId !== null) await request('training.cancel', { runId: this.liveRunId });
    else await this.job.cancel();
  }

  dispose(): void {
    this.job.dispose();
    for (const off of this.#offs) off();
    this.#offs = [];
  }
}

/** Fields of the Training screen's detection row: not sent for other tasks (the row is hidden there). */
const DETECTION_ONLY: readonly (keyof AugmentConfig)[] = ['multiScale', 'copyPaste'];

/** The augmentation fields a person set (an emptied number field is no choice). */
function chosenAugment(a: Partial<AugmentConfig>, task: TaskKind): Partial<AugmentConfig> {
  return Object.fromEntries(
    Object.entries(a).filter(([k, x]) => x !== undefined && x !== null && !(typeof x === 'number' && Number.isNaN(x)) && (task === 'detection' || !DETECTION_ONLY.includes(k as keyof AugmentConfig))),
  ) as Partial<AugmentConfig>;
}
