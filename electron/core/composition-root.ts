/**
 * The composition root: the one place that creates the backend's services
 * and wires them together. The Electron main process, the `fovea` CLI and
 * the browser-test bridge all call `createCore` and talk to the result, so
 * all three run the same code. No 'electron' import anywhere under core/.
 */
import type { EventName, Events, RequestName, RequestPayload, Responses, SplitRedrawResult } from '../contract/api';
import { parseRequest, isRequestName } from '../contract/api';
import type { AppInfo, DatasetExportResult, MlPreflight, RunDetail, RunSummary, TrainingPlan } from '../contract/domain';
import type { MlEngine, TaskKind, TrainOutcome } from '../contract/ml';
import { err, FoveaException, ok, type Result } from '../contract/result';
import { toErrorResult } from './errors';
import type { CoreParts } from './core-parts';
import { collectVersions } from './app/versions';
import { EventHub } from './events';
import { ImportEngine, type ImportRequest } from './import/import-engine';
import { createDicomSupport } from './import/dicom-support';
import { applyLabels, type LabelImportReport } from './import/label-importer';
import { parseLabelFile, type LabelFormat, type ParseLabelOptions } from './labels';
import { JobRunner } from './jobs/job-runner';
import { exportModel } from './export/model-export';
import { assertExportAllowed, exportLabels, type LabelExportRequest, type LabelExportResult, type LabelExportSources } from './export/label-export';
import { createSampleLibrary } from './samples/sample-library';
import { AnnotationStore } from './store/annotation-store';
import { EVALUATION_WRITES, evaluationHandlers } from './evaluation/evaluation-requests';
import { AnnotationService } from './annotate/annotation-service';
import { AnnotatorSettingsService } from './annotate/annotator-settings';
import { currentUser } from './os-user';
import { AuditLog } from './store/audit-log';
import { BlobStore } from './store/blob-store';
import { DatasetStore } from './store/dataset-store';
import { openLibraryDb, sqliteVersion, type Db } from './store/library-db';
import { LibraryMaintenance } from './store/maintenance';
import { ItemQuery } from './store/item-query';
import { RunStore } from './store/run-store';
import { PixelService } from './viewer/pixel-service';
import { seriesDicomItems } from './export/volume-geometry';
import { SegmentationStore } from './store/segmentation-store';
import { VOLUME_WRITES } from '../contract/volume';
import { volumeHandlers } from './volume/volume-requests';
import { VolumeService } from './volume/volume-service';
import type { PolicyLoadResult } from './policy/policy';
import { DEFAULT_FRACTIONS, labelStratifier, SplitService } from './training/splits';
import { checkCopyPaste, checkRegularisation, collectForClasses, TrainingService, type RunSnapshot, type TrainCallbacks } from './training/training-service';
import { exportReport } from './report/report-export';
import { compareRuns } from './training/run-compare';
import { runDurationSeconds } from '../contract/runs';
import { updateRunLabel } from './training/training-service';
import type { RunRecord } from './store/run-store';
import type { ImportReport, LibraryStatus } from '../contract/domain';
import type { AssistEngine } from '../contract/assist-engine';
import { ASSIST_WRITES } from '../contract/assist';
import { assistHandlers } from './assist/assist-requests';
import { ClickSegmentService } from './assist/click-segment';
import type { ModelImportDeps } from './assist/model-import';
import type { ModelPredictDeps } from './assist/model-predict';
import { exportTraining, TRAINING_EXPORT_TASKS, type TrainingExportDeps } from './export/training-export';
import { builtInModelsDir, importedModelsDir, ModelRegistry, type ModelRoot } from './assist/model-registry';
import { AssistStore } from './store/assist-store';
import { DATA_MANAGEMENT_WRITES } from '../contract/data-management';
import { DataManagementService } from './datamgmt/data-management-service';
import { dataManagementHandlers } from './datamgmt/data-management-requests';
import { MEASURE_WRITES } from '../contract/measure';
import { measureHandlers } from './measure/measure-requests';
import type { MeasureExportDeps } from './measure/measure-export';
import { MeasureService } from './measure/measure-service';
import { listSeriesCards } from './store/series-cards';
import { itemNamesById, withItemNames } from './store/item-names';

export interface CoreOptions {
  libraryDir: string;
  /** Path to an Electron-ABI build of better-sqlite3 (Electron main only). */
  nativeBinding?: string;
  /** Allow a library on a network file system (tests only). */
  allowNetworkFs?: boolean;
  /**
   * The ML engine (native-models' createMlEngine()), injected by the Electron main process, the
   * CLI and the tests: the core never imports TensorFlow.js.
   */
  ml: MlEngine;
  /** The enterprise policy loaded by the caller (core/policy loadPolicy()); none when absent. */
  policy?: PolicyLoadResult;
  /**
   * The model-help engine (native-models/assist createAssistEngine()): click-to-mask, propagation,
   * imported ONNX models. Without one those requests answer UNSUPPORTED.
   */
  assist?: AssistEngine;
  /** The shipped model packs' folder (default: resources/models of the app; null: none). */
  modelPacksDir?: string | null;
}

const NO_POLICY: PolicyLoadResult = { source: 'none', policy: {}, sources: [], origins: {}, errors: [], warnings: [] };

type Handlers = { [K in RequestName]: (payload: RequestPayload<K>) => Promise<Responses[K]> | Responses[K] };

/** Requests that write to the library: refused on a read-only library. */
const WRITES: ReadonlySet<RequestName> = new Set<RequestName>(['datasets.create', 'import.start', 'samples.create', 'training.plan', 'training.start', 'training.resume', 'training.cancel', 'splits.redraw',
  'annotations.create', 'annotations.update', 'annotations.delete', 'annotations.restore', 'annotations.review', 'items.setStatus',
  'classes.create', 'classes.update', 'classes.delete', 'classes.merge', 'classes.setMultiLabel', 'settings.set', ...EVALUATION_WRITES, ...ASSIST_WRITES,
  // an export appends to the library's audit log
  'export.start', ...VOLUME_WRITES, ...DATA_MANAGEMENT_WRITES, ...MEASURE_WRITES, 'runs.update']);

export class Core implements CoreParts {
  readonly db: Db;
  readonly library: LibraryStatus;
  readonly events = new EventHub();
  readonly audit: AuditLog;
  readonly datasets: DatasetStore;
  readonly annotations: AnnotationStore;
  readonly blobs: BlobStore;
  readonly maintenance: LibraryMaintenance;
  readonly jobs = new JobRunner((name, payload) => this.events.emit(name, payload as Events[typeof name]));
  readonly #importer: ImportEngine;
  readonly ml: MlEngine;
  readonly policy: PolicyLoadResult;
  readonly runs: RunStore;
  readonly splits: SplitService;
  readonly training: TrainingService;
  readonly items: ItemQuery;
  readonly pixels: PixelService;
  readonly annotatorSettings: AnnotatorSettingsService;
  readonly labeling: AnnotationService;
  /** Model packs and imported models (verified), and click-to-mask on them. */
  readonly models: ModelRegistry;
  readonly clickSegment: ClickSegmentService;
  readonly assistStore: AssistStore;
  readonly assistEngine: AssistEngine | null;
  readonly #modelPredict: ModelPredictDeps;
  readonly #modelImport: ModelImportDeps;
  readonly volumes: VolumeService;
  /** Rename and delete datasets, delete items, batch status and split (issue 19). */
  readonly dataManagement: DataManagementService;
  /** Kept measurements (issue 19), their values computed from the decoded pixels. */
  readonly measure: MeasureService;
  #preflightResult: Promise<MlPreflight> | null = null;
  readonly #handlers: Handlers;
  #closed = false;

  constructor(options: CoreOptions) {
    const opened = openLibraryDb(options.libraryDir, {
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
      ...(options.allowNetworkFs ? { allowNetworkFs: true } : {}),
    });
    this.db = opened.db;
    this.library = opened.status;
    this.audit = new AuditLog(this.db);
    this.datasets = new DatasetStore(this.db);
    this.annotations = new AnnotationStore(this.db);
    this.blobs = new BlobStore(options.libraryDir, this.db);
    this.maintenance = new LibraryMaintenance(this.db, this.blobs, this.audit);
    this.#importer = new ImportEngine(this.db, this.blobs, this.audit, createDicomSupport());
    this.ml = options.ml;
    this.policy = options.policy ?? NO_POLICY;
    this.runs = new RunStore(this.db);
    this.splits = new SplitService(this.db, this.audit);
    this.training = new TrainingService({
      db: this.db,
      blobs: this.blobs,
      audit: this.audit,
      runs: this.runs,
      splits: this.splits,
      ml: this.ml,
      libraryDir: options.libraryDir,
      model: (name) => this.models.get(name),
    });

    this.items = new ItemQuery(this.db);
    this.pixels = new PixelService(this.db, this.blobs);
    this.annotatorSettings = new AnnotatorSettingsService(this.db, this.audit, this.policy.policy.annotatorFromOsUser === true ? currentUser() : null);
    this.labeling = new AnnotationService({
      db: this.db,
      store: this.annotations,
      audit: this.audit,
      settings: this.annotatorSettings,
      onChanged: (change) => this.events.emit('labels.changed', change),
    });

    this.assistEngine = options.assist ?? null;
    this.assistStore = new AssistStore(this.db);
    const packsDir = options.modelPacksDir === undefined ? builtInModelsDir() : options.modelPacksDir;
    const policyPacks = this.policy.policy.modelPacksFolder;
    this.models = new ModelRegistry(() => {
      const roots: ModelRoot[] = [];
      if (packsDir) roots.push({ dir: packsDir, origin: 'built-in' });
      if (policyPacks) roots.push({ dir: policyPacks, origin: 'policy' });
      roots.push({ dir: importedModelsDir(options.libraryDir), origin: 'imported' });
      return roots;
    });
    this.clickSegment = new ClickSegmentService({ store: this.assistStore, blobs: this.blobs, registry: this.models, engine: this.assistEngine });
    const modelPredict: ModelPredictDeps = {
      db: this.db,
      blobs: this.blobs,
      annotations: this.annotations,
      store: this.assistStore,
      audit: this.audit,
      registry: this.models,
      engine: this.assistEngine,
      datasets: this.datasets,
      library: this.library,
      splits: this.splits,
    };
    this.#modelPredict = modelPredict;
    this.#modelImport = { engine: this.#assistEngineOrRefuse(), registry: this.models, audit: this.audit, libraryDir: options.libraryDir, library: this.library };
    this.volumes = new VolumeService({
      blobs: this.blobs,
      store: new SegmentationStore(this.db, this.annotations, this.audit),
      seriesItems: (seriesId) => seriesDicomItems(this.db, seriesId),
      annotator: () => this.annotatorSettings.requireAnnotator(),
      onLabelsChanged: (change) => this.events.emit('labels.changed', change),
      onProgress: (p) => this.events.emit('volume.progress', p),
    });

    this.dataManagement = new DataManagementService({
      db: this.db,
      audit: this.audit,
      getDataset: (id) => this.datasets.get(id),
      setSplit: (datasetId, itemIds, split) => this.splits.setSplit(datasetId, itemIds, split),
      // A read-only library is not written to (its preview still answers).
      markInterruptedRuns: () => void (this.library.readOnly ? 0 : this.runs.markInterrupted()),
      activeJobs: () => this.jobs.list(),
      runDatasetOf: (runId) => {
        try {
          return this.runs.get(runId).datasetId;
        } catch {
          return null;
        }
      },
      checkpointDir: (runId) => this.training.checkpointDir(runId),
      removeBlobFile: (hash) => this.blobs.removeFile(hash),
      annotator: () => this.annotatorSettings.requireAnnotator(),
      onChanged: (datasetId, labels) => {
        this.events.emit('datasets.changed', { datasetId });
        if (labels) this.events.emit('labels.changed', { datasetId, itemId: null, seriesId: null });
      },
      startJob: (spec) => this.jobs.run(spec),
      deleteFinished: (e) => this.events.emit('datasets.delete.finished', e),
    });
    this.measure = new MeasureService({
      db: this.db,
      audit: this.audit,
      frame: (itemId, frame) => this.pixels.frame(itemId, frame),
      author: () => this.annotatorSettings.current().annotatorName ?? currentUser(),
    });

    this.#handlers = {
      'app.info': () => this.info(),
      'policy.get': () => ({
        source: this.policy.source,
        policy: { ...this.policy.policy },
        origins: { ...this.policy.origins },
        errors: this.policy.errors,
        warnings: this.policy.warnings,
      }),
      'datasets.list': () => this.datasets.list(),
      'datasets.get': ({ id }) => this.datasets.get(id),
      'datasets.create': ({ name, description }) => {
        const ds = this.datasets.create(name, description);
        this.audit.append({ action: 'dataset.create', objectType: 'dataset', objectId: ds.id });
        this.events.emit('datasets.changed', { datasetId: ds.id });
        return ds;
      },
      'import.start': ({ datasetName, paths }) => this.startImport(datasetName, paths),
      'jobs.cancel': ({ jobId }) => ({ cancelled: this.jobs.cancel(jobId) }),
      'jobs.list': ({ kind }) => this.jobs.list(kind),
      'samples.create': () => this.startSampleLibrary(),
      'runs.list': ({ datasetId }) => this.runs.list(datasetId).map(toRunSummary),
      'runs.get': ({ runId }) => this.runDetail(runId),
      'training.plan': ({ datasetId, task, classNames }) => this.trainingPlan(datasetId, task, classNames),
      'training.start': async ({ datasetId, task, classNames, epochs, batchSize, inputSize, backend, unlabeledPixels, name, notes, learningRate, lrSchedule, encoder, augment, earlyStoppingPatience, recipe, timeBudgetSeconds, warmStartRunId, warmStartModel, labelSmoothing, mixup, cutmix }) => {
        // A bad class choice, regularisation or a warm start that does not fit is the request's answer (VALIDATION), not a failed job.
        collectForClasses(this.db, datasetId, task, classNames);
        checkRegularisation(task, { labelSmoothing, mixup, cutmix, encoder });
        checkCopyPaste(this.db, datasetId, task, { augment, classNames });
        const request = { classNames, epochs, batchSize, inputSize, backend, unlabeledPixels, name, notes, learningRate, lrSchedule, encoder, augment, earlyStoppingPatience, recipe, timeBudgetSeconds, warmStartRunId, warmStartModelName: warmStartModel, labelSmoothing, mixup, cutmix };
        await this.training.checkWarmStartRequest(datasetId, task, request);
        return this.startTrainingJob(datasetId, (cb) => this.training.train(datasetId, task, request, cb));
      },
      'training.recipe': async ({ datasetId, task, classNames, epochs, batchSize, inputSize, timeBudgetSeconds }) => {
        const { plan, config } = await this.training.plan(datasetId, task, { classNames, epochs, batchSize, inputSize, timeBudgetSeconds, recipe: 'planned' });
        const { normalization, patch, timeBudgetSeconds: budget } = config;
        return { plan, config: { inputSize: config.inputSize, batchSize: config.batchSize, epochs: config.epochs, normalization, patch: patch ?? null, timeBudgetSeconds: budget ?? null, slices: config.slices ?? '2d' } };
      },
      'runs.update': ({ runId, name, notes }) => {
        updateRunLabel(this, runId, { name, notes });
        return toRunSummary(this.runs.get(runId));
      },
      'runs.compare': ({ runIds }) => compareRuns(runIds.map((id) => this.runDetail(id))),
      'splits.redraw': ({ datasetId, seed, fractions }) => this.redrawSplits(datasetId, seed, fractions),
      'training.resume': ({ runId }) => this.startTrainingJob(null, (cb) => this.training.resume(runId, cb)),
      'training.cancel': ({ runId }) => ({ cancelRequested: this.runs.requestCancel(runId) }),
      'items.list': ({ sort, offset, limit, withTotal, uncertaintyRunId, ...filter }) => {
        this.datasets.get(filter.datasetId);
        return this.items.list(filter, { sort, offset, limit, withTotal: withTotal ?? true, ...(uncertaintyRunId !== undefined ? { uncertaintyRunId } : {}) });
      },
      'pixels.get': ({ itemId, frame }) => this.pixels.frame(itemId, frame),
      'series.get': ({ seriesId }) => this.pixels.series(seriesId),
      'dicom.tags': ({ itemId }) => this.pixels.tags(itemId),
      'series.list': ({ datasetId }) => {
        this.datasets.get(datasetId);
        return listSeriesCards(this.db, datasetId);
      },
      'items.names': ({ itemIds }) => [...itemNamesById(this.db, itemIds)].map(([itemId, name]) => ({ itemId, name })),
      'classes.list': ({ datasetId }) => this.annotations.listClasses(datasetId),
      'models.export': async (p) => {
        const r = await exportModel(this, p);
        return { runId: r.runId, format: r.format, outDir: r.outDir, files: r.files, manifest: r.manifest, bytes: r.bytes };
      },
      'reports.export': (p) => exportReport(this, p),
      'export.start': (p) => this.startExport(p),
      'annotations.list': (q) => this.labeling.list(q),
      'annotations.create': (p) => this.labeling.create(p),
      'annotations.update': (p) => this.labeling.update(p),
      'annotations.delete': (p) => this.labeling.delete(p),
      'annotations.restore': (p) => this.labeling.restore(p),
      'annotations.review': (p) => this.labeling.review(p),
      'items.setStatus': (p) => this.labeling.setStatus(p),
      'classes.schema': ({ datasetId }) => this.labeling.schema(datasetId),
      'classes.create': (p) => this.labeling.createClass(p),
      'classes.update': (p) => this.labeling.updateClass(p),
      'classes.delete': (p) => this.labeling.deleteClass(p),
      'classes.merge': (p) => this.labeling.mergeClasses(p),
      'classes.setMultiLabel': ({ datasetId, multiLabel }) => this.labeling.setMultiLabel(datasetId, multiLabel),
      'settings.get': () => this.annotatorSettings.current(),
      'settings.set': (p) => this.annotatorSettings.set(p),
      ...evaluationHandlers(this),
      ...assistHandlers({
        registry: this.models,
        clickSegment: this.clickSegment,
        propagation: {
          annotations: this.annotations,
          store: this.assistStore,
          audit: this.audit,
          segmenter: this.clickSegment,
          seriesStack: (seriesId) => this.pixels.series(seriesId),
          library: this.library,
        },
        modelImport: this.#modelImport,
        modelPredict,
        startJob: (spec) => this.jobs.run(spec),
        emit: (name, payload) => this.events.emit(name, payload),
        labelsChanged: (change) => this.events.emit('labels.changed', change),
      }),
      ...volumeHandlers(this.volumes),
      ...dataManagementHandlers(this.dataManagement),
      ...measureHandlers(this.measure, () => this.measureExportDeps()),
    };
    // A dataset delete cut short (a crash, the library closed mid-way) goes on now.
    if (!this.library.readOnly) this.dataManagement.resumeDeletes();
  }

  /** What a measurement export needs (the request and `fovea measurements --csv`). */
  measureExportDeps(): MeasureExportDeps {
    return {
      audit: this.audit,
      datasetName: (id) => this.datasets.get(id).name,
      list: (id) => this.measure.list({ datasetId: id }),
      allowedFormats: this.policy.policy.allowedExportFormats,
      actor: this.annotatorSettings.current().annotatorName ?? currentUser(),
    };
  }

  /** What `fovea predict/evaluate --model` need (the same services the requests use). */
  modelPredictDeps(): ModelPredictDeps {
    return this.#modelPredict;
  }

  modelImportDeps(): ModelImportDeps {
    return this.#modelImport;
  }

  /** What `fovea export-training` needs: the stores, and the training plan Fovea would use now. */
  trainingExportDeps(): TrainingExportDeps {
    return {
      db: this.db,
      blobs: this.blobs,
      datasets: this.datasets,
      runs: this.runs,
      audit: this.audit,
      policy: this.policy,
      library: this.library,
      trainingPlan: (datasetId, task) => this.trainingPlan(datasetId, task),
      splitMap: (datasetId) => this.splits.splitMap(datasetId),
    };
  }

  /** The engine for work that needs it, or one that answers UNSUPPORTED when none was injected. */
  #assistEngineOrRefuse(): Pick<AssistEngine, 'inspect' | 'run'> {
    const refuse = (): never => {
      throw new FoveaException('UNSUPPORTED', 'Imported models cannot run in this process (no model engine was started).');
    };
    return { inspect: (p) => (this.assistEngine ? this.assistEngine.inspect(p) : refuse()), run: (...a) => (this.assistEngine ? this.assistEngine.run(...a) : refuse()) };
  }

  /** The ML preflight runs once per process (loading backends is not free). */
  mlPreflight(): Promise<MlPreflight> {
    this.#preflightResult ??= this.ml.preflight();
    return this.#preflightResult;
  }

  async info(): Promise<AppInfo> {
    return {
      versions: collectVersions(sqliteVersion(this.db)),
      platform: process.platform,
      arch: process.arch,
      library: this.library,
      ml: await this.mlPreflight(),
    };
  }

  /** Run an import to completion (CLI, tests). The dataset must exist. */
  async importFiles(req: ImportRequest): Promise<ImportReport> {
    if (this.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', this.library.readOnlyReason ?? 'The library is read-only.');
    const report = await this.#importer.run(req);
    this.events.emit('datasets.changed', { datasetId: req.datasetId });
    return report;
  }

  /** Read a label file or folder made by another tool and apply it to the dataset's images. */
  async importLabels(datasetId: number, path: string, format: LabelFormat, author: string, options: ParseLabelOptions = {}): Promise<LabelImportReport> {
    if (this.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', this.library.readOnlyReason ?? 'The library is read-only.');
    this.datasets.get(datasetId);
    const parsed = await parseLabelFile(path, format, options);
    const report = applyLabels(this.db, this.annotations, this.audit, datasetId, parsed, author, { blobs: this.blobs });
    this.events.emit('datasets.changed', { datasetId });
    return report;
  }

  /**
   * Start an import as a job (UI): returns at once, reports through events. A dataset this import
   * created is removed again when nothing was imported into it (a path that does not exist), so a
   * failed import leaves no empty dataset behind.
   */
  startImport(datasetName: string, paths: string[]): { jobId: string; datasetId: number } {
    const existing = this.datasets.findByName(datasetName);
    const dataset = existing ?? this.datasets.create(datasetName, '');
    const removeIfNew = (): void => {
      // After close (the job was cancelled by it) the library is no longer ours to change.
      if (!existing && !this.#closed && this.datasets.removeIfEmpty(dataset.id)) this.events.emit('datasets.changed', { datasetId: dataset.id });
    };
    const { jobId } = this.jobs.run({
      kind: 'import',
      subject: { datasetId: dataset.id },
      task: (job) =>
        this.importFiles({
          datasetId: dataset.id,
          paths,
          signal: job.signal,
          onProgress: (p) => job.progress({ done: p.filesDone, total: p.filesTotal }, () => this.events.emit('import.progress', { jobId, ...p })),
        }),
      outcomeOf: (report) => (report.cancelled ? 'cancelled' : 'done'),
      finished: (r) => {
        removeIfNew();
        this.events.emit('import.finished', r.ok ? { jobId, report: r.value, error: null } : { jobId, report: null, error: r.error });
      },
    });
    return { jobId, datasetId: dataset.id };
  }

  /** Classes, counts, defaults and the patient-grouped split a training run would use (optionally on a subset of the classes). */
  trainingPlan(datasetId: number, task: TaskKind, classNames?: readonly string[]): TrainingPlan {
    const { collected, available, minClasses } = collectForClasses(this.db, datasetId, task, classNames);
    const defaults = this.ml.defaultConfig(task, collected.classNames, collected.channels);
    // The split is drawn now (seeded, persisted, never moving what exists) so the user sees what training will use.
    const split = this.splits.ensureSplits(datasetId, { seed: defaults.seed, stratifyBy: labelStratifier(this.db, datasetId) });
    // What training will find in each split: labelled samples, not all slices (a series of 24
    // slices with lesions on 5 trains on 5).
    const splitOf = this.splits.splitMap(datasetId);
    const labelled: Record<string, number> = { train: 0, val: 0, test: 0, unassigned: 0 };
    for (const s of collected.samples) {
      const sp = splitOf.get(s.itemId) ?? 'unassigned';
      labelled[sp] = (labelled[sp] ?? 0) + 1;
    }
    return {
      task,
      classNames: collected.classNames,
      availableClassNames: available,
      minClasses,
      samples: collected.samples.length,
      channels: collected.channels,
      warnings: collected.warnings,
      defaults: { ...defaults, multiLabel: collected.multiLabel },
      splits: { counts: split.counts, patients: split.patients, patientGrouped: split.patientGrouped, byOrigin: split.byOrigin, labelled },
    };
  }

  /**
   * Draw the automatic splits of a dataset again (SplitService.redraw: a person's splits stay,
   * patients stay whole, stratified by label, audited). Warns about runs that trained on the
   * previous split: their val/test numbers on the new split would be optimistic.
   */
  redrawSplits(datasetId: number, seed: number, fractions?: { train: number; val: number; test: number }): SplitRedrawResult {
    this.datasets.get(datasetId); // NOT_FOUND before anything is removed
    this.runs.markInterrupted(); // a run left 'running' by a process that died does not block
    const active = this.runs.list(datasetId).filter((r) => r.status === 'running');
    if (active.length > 0) {
      throw new FoveaException('CONFLICT', `Run ${active.map((r) => r.id).join(', ')} of this dataset is training; redraw the split when it has finished or been cancelled.`);
    }
    const before = this.splits.summary(datasetId);
    const f = fractions ?? DEFAULT_FRACTIONS;
    const sum = f.train + f.val + f.test;
    const r = this.splits.redraw(datasetId, seed, { fractions: f, stratifyBy: labelStratifier(this.db, datasetId) });
    const trained = this.runs.list(datasetId).map((run) => run.id);
    const warnings: string[] = [];
    if (trained.length > 0) {
      warnings.push(
        `Run${trained.length > 1 ? 's' : ''} ${trained.join(', ')} trained on the previous split: evaluated on the new validation or test split, ` +
          'they may be scored on images they trained on.',
      );
    }
    return {
      datasetId,
      seed,
      fractions: { train: f.train / sum, val: f.val / sum, test: f.test / sum },
      items: r.items,
      counts: r.counts,
      byOrigin: r.byOrigin,
      patients: r.patients,
      patientGrouped: r.patientGrouped,
      redrawn: before.byOrigin.auto,
      warnings,
    };
  }

  runDetail(runId: number): RunDetail {
    const r = this.runs.get(runId);
    const snapshot = this.runs.snapshot(runId) as Partial<RunSnapshot> | null;
    const s = snapshot?.splits;
    return {
      ...toRunSummary(r),
      config: r.config,
      epochCurve: this.runs.epochs(runId).map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, valLoss: e.valLoss, valMetrics: e.valMetrics, best: e.best, seconds: e.seconds })),
      batchCurve: this.runs.batches(runId),
      splits: s ? { counts: s.counts, patients: s.patients, patientGrouped: s.patientGrouped } : null,
    };
  }

  /** Run training as a job (UI): returns at once; progress, epochs and the end come as events. */
  startTrainingJob(datasetId: number | null, run: (cb: TrainCallbacks) => Promise<{ runId: number; outcome: TrainOutcome }>): { jobId: string } {
    let runId: number | null = null;
    let epochs = 1;
    const { jobId } = this.jobs.run({
      kind: 'training',
      subject: { datasetId },
      throttleMs: 150,
      task: (job) =>
        run({
          signal: job.signal,
          onStart: (info) => {
            runId = info.runId;
            epochs = info.config.epochs;
            job.subject({ runId: info.runId, datasetId: this.runs.get(info.runId).datasetId });
            this.events.emit('training.started', { jobId, runId: info.runId, runName: this.runs.get(info.runId).name, config: info.config, samples: info.samples, warnings: info.warnings });
          },
          // The last batch of each epoch always goes out (the curve's end point).
          onBatch: (id, p) =>
            job.progress(
              { done: (p.epoch - 1) * p.batchesPerEpoch + p.batch, total: Math.max(epochs, p.epoch) * p.batchesPerEpoch, phase: `epoch ${p.epoch}` },
              () => this.events.emit('training.batch', { runId: id, ...p }),
              p.batch >= p.batchesPerEpoch,
            ),
          onEpoch: (id, r) => this.events.emit('training.epoch', { runId: id, ...r }),
          // Before the first batch: every phase change goes out; decoding counts are throttled.
          onPhase: (p) => job.progress({ done: p.done ?? 0, total: p.total, phase: p.phase }, undefined, p.changed),
        }),
      outcomeOf: ({ outcome }) => (outcome.status === 'cancelled' ? 'cancelled' : outcome.status === 'failed' ? 'failed' : 'done'),
      finished: (r) =>
        this.events.emit(
          'training.finished',
          r.ok ? { jobId, runId: r.value.runId, runName: this.#runName(r.value.runId), outcome: r.value.outcome, error: null } : { jobId, runId, runName: this.#runName(runId), outcome: null, error: r.error },
        ),
    });
    return { jobId };
  }

  /** The name a person gave a run (null: none, or no such run any more, or the library is closed). */
  #runName(runId: number | null): string | null {
    if (runId === null || this.#closed) return null;
    try {
      return this.runs.get(runId).name;
    } catch {
      return null;
    }
  }

  /** Export a dataset (labels, or de-identified DICOM) as a job (UI): returns at once, reports through events. */
  startExport(p: RequestPayload<'export.start'>): { jobId: string } {
    const format = p.format;
    if (format === 'pytorch') return this.#startTrainingExport(p);
    assertExportAllowed(this.#exportSources(), p.datasetId, format); // NOT_FOUND / FORBIDDEN as the request's answer
    const options: Record<string, unknown> = {};
    if (p.withImages) options['withImages'] = true;
    if (p.yoloTask) options['task'] = p.yoloTask;
    if (p.labels) options['labels'] = p.labels;
    if (p.deid && p.format === 'dicom-deid') for (const [k, val] of Object.entries(p.deid)) if (val !== undefined) options[k] = val;
    return this.#runExportJob(p.datasetId, async (signal, onProgress) => {
      const r = await this.exportDataset({ datasetId: p.datasetId, format, outDir: p.outDir, split: p.split, overwrite: p.overwrite, options }, signal, onProgress);
      return { format: r.format, root: r.root, manifest: r.manifest, files: r.files, bytes: r.bytes, items: r.items, annotations: r.annotations, warnings: r.warnings, heldBack: withItemNames(this.db, r.heldBack), seconds: r.seconds };
    });
  }

  /** An export as a job: progress and the finished event alike for every format. */
  #runExportJob(datasetId: number, run: (signal: AbortSignal, onProgress: (done: number, total: number) => void) => Promise<DatasetExportResult>): { jobId: string } {
    const { jobId } = this.jobs.run({
      kind: 'export',
      subject: { datasetId },
      task: (job) => run(job.signal, (done, total) => job.progress({ done, total }, () => this.events.emit('export.progress', { jobId, done, total }))),
      finished: (r) => this.events.emit('export.finished', r.ok ? { jobId, result: r.value, error: null } : { jobId, result: null, error: r.error }),
    });
    return { jobId };
  }

  /**
   * Export a dataset (labels, or de-identified DICOM): the one entry point of the export job and
   * `fovea export`, so the IT policy's formats, the audit and the actor hold for both.
   */
  exportDataset(request: LabelExportRequest, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<LabelExportResult> {
    return exportLabels(this.#exportSources(), request, signal, onProgress);
  }

  #exportSources(): LabelExportSources {
    return {
      db: this.db,
      blobs: this.blobs,
      annotations: this.annotations,
      datasets: this.datasets,
      audit: this.audit,
      allowedFormats: this.policy.policy.allowedExportFormats,
      actor: currentUser(),
    };
  }

  /** The training export as a job (UI), reporting through the export events like the label formats. */
  #startTrainingExport(p: RequestPayload<'export.start'>): { jobId: string } {
    this.datasets.get(p.datasetId); // NOT_FOUND as the request's answer
    const request = { datasetId: p.datasetId, task: TRAINING_EXPORT_TASKS[p.trainingTask ?? 'classify'], target: 'pytorch', outDir: p.outDir, deidentify: p.deidentify === true, ...(p.splitFromRun !== undefined ? { splitFromRun: p.splitFromRun } : {}) } as const;
    return this.#runExportJob(p.datasetId, async (signal, onProgress) => {
      const r = await exportTraining(this.trainingExportDeps(), request, signal, onProgress);
      return { format: 'pytorch', root: r.root, manifest: r.manifest, files: r.files, bytes: r.bytes, items: r.images.train + r.images.val + r.images.test, annotations: r.annotations, warnings: r.warnings, heldBack: withItemNames(this.db, r.heldBack), seconds: r.seconds };
    });
  }

  /** Make the sample library as a job (UI): returns at once, reports through events. */
  startSampleLibrary(): { jobId: string } {
    const { jobId } = this.jobs.run({
      kind: 'samples',
      task: (job) =>
        createSampleLibrary(this, {
          signal: job.signal,
          // The whole library in thousandths, weighted by phase; a phase change always goes out.
          onProgress: ({ phase, fraction, progress, phaseStart }) =>
            job.progress({ done: Math.round(fraction * 1000), total: 1000, phase }, () => this.events.emit('samples.progress', { jobId, phase, progress, fraction }), phaseStart),
        }),
      finished: (r) => this.events.emit('samples.finished', r.ok ? { jobId, datasets: r.value.datasets, error: null } : { jobId, datasets: [], error: r.error }),
    });
    return { jobId };
  }

  /**
   * The one place for the checks that hold for a request whatever its transport: a write on a
   * read-only library (LIBRARY_READ_ONLY) and what the IT policy turns off (FORBIDDEN). `dispatch`
   * calls it for every request; the CLI calls it with the request each command performs, so
   * `fovea demo` is refused where the app's sample-library button is. (A check that needs the
   * payload, such as the export formats a policy allows, lives in the service both call.)
   */
  admit(name: RequestName): void {
    if (this.library.readOnly && WRITES.has(name)) throw new FoveaException('LIBRARY_READ_ONLY', this.library.readOnlyReason ?? 'The library is open read-only.');
    if (name === 'samples.create' && this.policy.policy.sampleData === false) {
      throw new FoveaException('FORBIDDEN', 'Your IT policy turns the sample library off (policy key sampleData).');
    }
  }

  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
    return this.events.on(name, listener);
  }

  /**
   * The one entry point for requests from any transport. Validates the
   * payload against the contract's schema, runs the handler, and returns
   * errors as data. Never throws.
   */
  async dispatch(name: unknown, input: unknown): Promise<Result<unknown>> {
    if (!isRequestName(name)) return err('UNKNOWN_REQUEST', `Unknown request: ${String(name).slice(0, 80)}`);
    if (this.#closed) return err('LIBRARY_UNUSABLE', 'The library is closed.');
    const parsed = parseRequest(name, input);
    if (!parsed.ok) return err('VALIDATION', parsed.message, { issues: parsed.issues });
    try {
      this.admit(name);
      const handler = this.#handlers[name] as (p: unknown) => unknown;
      return ok(await handler(parsed.value));
    } catch (e) {
      return toErrorResult(e);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.jobs.dispose();
    this.volumes.dispose();
    this.db.close();
  }
}

function toRunSummary(r: RunRecord): RunSummary {
  return {
    id: r.id,
    datasetId: r.datasetId,
    datasetName: r.datasetName,
    task: r.task,
    status: r.status,
    epochs: r.config.epochs,
    epochsCompleted: r.epochsCompleted,
    bestEpoch: r.bestEpoch,
    backend: r.backend,
    metrics: r.metrics,
    error: r.error,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    name: r.name,
    notes: r.notes,
    durationSeconds: runDurationSeconds(r),
  };
}


/** Create the backend. Throws FoveaException('LIBRARY_UNUSABLE') if the library cannot be opened. */
export function createCore(options: CoreOptions): Core {
  return new Core(options);
}
