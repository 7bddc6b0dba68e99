/**
 * State of the export screen: what to export where, the running job's progress, and the result.
 * Only this class talks to the api.
 */
import type { DatasetExportResult, RunSummary } from '../../../../electron/contract/domain';
import { DEFAULT_PSEUDONYM_PREFIX, DEID_PROFILE_FLAGS, type DeidExportOptions, type DeidProfileFlag, type RetainLongitudinalDates } from '../../../../electron/contract/deid-options';
import type { FoveaError } from '../../../../electron/contract/result';
import { request } from '../api';
import { WITH_IMAGES_FORMATS, type ExportFormatChoice } from '../export-choices';
import { JobState } from './job-state.svelte';

/** The export's task words and the runs' task names. */
const TRAINING_TASKS = { classify: 'classification', detect: 'detection', segment: 'segmentation' } as const;

export class ExportState {
  datasetId = $state<number | null>(null);
  format = $state<ExportFormatChoice>('coco');
  outDir = $state('');
  split = $state<'' | 'train' | 'val' | 'test'>('');
  overwrite = $state(false);
  withImages = $state(false);
  yoloTask = $state<'detect' | 'segment'>('detect');
  /** pytorch: what the exported train.py trains. */
  trainingTask = $state<'classify' | 'detect' | 'segment'>('classify');
  /** pytorch: DICOM through the PS3.15 basic profile first. */
  deidentify = $state(false);
  /** pytorch: a run whose settings and exact split the export takes (null: the defaults and the dataset's split). */
  splitFromRun = $state<number | null>(null);
  /** pytorch: the finished runs of the chosen dataset and task, to choose from. */
  runs = $state.raw<RunSummary[]>([]);
  retainLongitudinalDates = $state<RetainLongitudinalDates>('none');
  deidFlags = $state<Record<DeidProfileFlag, boolean>>(Object.fromEntries(DEID_PROFILE_FLAGS.map((f) => [f, false])) as Record<DeidProfileFlag, boolean>);
  pseudonymPrefix = $state(DEFAULT_PSEUDONYM_PREFIX);
  /** dicom-deid: export files that may show burned-in text too (audited). */
  confirmBurnedIn = $state(false);
  /** The export job this screen started, or found running when it opened. */
  readonly job = new JobState('export');
  done = $state(0);
  total = $state(0);
  result = $state.raw<DatasetExportResult | null>(null);
  error = $state<FoveaError | null>(null);

  readonly running = $derived(this.job.running);
  readonly cancelling = $derived(this.job.cancelling);
  readonly fraction = $derived(this.total > 0 ? this.done / this.total : 0);
  /** The format and folder of the export whose result is shown (for "Confirm and export them"). */
  shown = $state.raw<{ format: ExportFormatChoice; outDir: string; confirmBurnedIn: boolean } | null>(null);

  start(): void {
    this.job
      .on('export.progress', (p) => {
        this.done = p.done;
        this.total = p.total;
      })
      .on('export.finished', (f) => {
        this.result = f.result;
        this.error = f.error;
      })
      .connect();
    void this.job.attach();
  }

  async run(): Promise<void> {
    const datasetId = this.datasetId;
    if (datasetId === null) return;
    this.error = null;
    this.result = null;
    this.done = 0;
    this.total = 0;
    const outDir = this.outDir.trim();
    const res = await this.job.start(() => request('export.start', {
      datasetId,
      format: this.format,
      outDir,
      ...(this.split && this.format !== 'pytorch' ? { split: this.split } : {}),
      ...(this.overwrite ? { overwrite: true } : {}),
      ...(this.withImages && WITH_IMAGES_FORMATS.includes(this.format) ? { withImages: true } : {}),
      ...(this.format === 'yolo' ? { yoloTask: this.yoloTask } : {}),
      ...(this.format === 'dicom-deid' ? { deid: this.deidOptions() } : {}),
      ...(this.format === 'pytorch'
        ? { trainingTask: this.trainingTask, ...(this.deidentify ? { deidentify: true } : {}), ...(this.splitFromRun !== null ? { splitFromRun: this.splitFromRun } : {}) }
        : {}),
    }));
    if (!res.ok) {
      this.error = res.error;
      return;
    }
    this.shown = { format: this.format, outDir, confirmBurnedIn: this.format === 'dicom-deid' && this.confirmBurnedIn };
  }

  /**
   * The runs a training export can take its settings and split from: finished runs (done or stopped
   * early) of the dataset for the chosen task, newest first. A choice no longer listed goes back to
   * the defaults.
   */
  async loadRuns(): Promise<void> {
    const datasetId = this.datasetId;
    const task = TRAINING_TASKS[this.trainingTask];
    const res = await request('runs.list', { ...(datasetId !== null ? { datasetId } : {}) });
    if (datasetId !== this.datasetId || task !== TRAINING_TASKS[this.trainingTask]) return; // the choice moved on meanwhile
    this.runs = res.ok ? res.value.filter((r) => r.task === task && (r.status === 'done' || r.status === 'stopped-early')).sort((a, b) => b.id - a.id) : [];
    if (this.splitFromRun !== null && !this.runs.some((r) => r.id === this.splitFromRun)) this.splitFromRun = null;
  }

  /** The profile options as the request takes them: only what differs from the basic profile. */
  deidOptions(): DeidExportOptions {
    const o: DeidExportOptions = {};
    if (this.retainLongitudinalDates !== 'none') o.retainLongitudinalDates = this.retainLongitudinalDates;
    for (const f of DEID_PROFILE_FLAGS) if (this.deidFlags[f]) o[f] = true;
    const prefix = this.pseudonymPrefix.trim();
    if (prefix && prefix !== DEFAULT_PSEUDONYM_PREFIX) o.pseudonymPrefix = prefix;
    if (this.confirmBurnedIn) o.confirmBurnedIn = true;
    return o;
  }

  /**
   * The shown de-identified export held items back: export everything again, with them, into a
   * new folder beside the first (new identifiers differ from one export to the next, so the two
   * must not mix). The confirmation is recorded in the audit log by the export.
   */
  async confirmHeldBack(): Promise<void> {
    if (!this.shown || this.shown.format !== 'dicom-deid') return;
    this.format = 'dicom-deid';
    this.confirmBurnedIn = true;
    this.outDir = this.heldBackFolder();
    await this.run();
  }

  /** Where "Confirm and export them" writes: beside the shown export's folder. */
  heldBackFolder(): string {
    return `${(this.shown?.outDir ?? this.outDir).replace(/[\\/]+$/u, '')}-with-burned-in`;
  }

  async cancel(): Promise<void> {
    await this.job.cancel();
  }

  dispose(): void {
    this.job.dispose();
  }
}
