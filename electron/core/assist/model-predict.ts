/**
 * An imported model (or pack) over a dataset: proposals (`fovea predict --model`, the app's
 * 'models.predict') and evaluation (`fovea evaluate --model`), in IMAGE pixels.
 *
 * Classes: the model's class names map onto the dataset's classes by name (case-insensitive), or
 * as `classMap` says (model class -> dataset class; '' leaves a class out). A model class with no
 * dataset class is left out (reported); a segmentation model's class 0 is background. Classes are
 * never created silently: add them in the schema editor, or map.
 *
 * A model whose card says 2.5-D (preprocessing.slices) is fed each slice with the slices below and
 * above it in its series (slice-neighbours.ts), as a Fovea run is.
 *
 * Images are decoded and preprocessed on the calling thread (model-input.ts), a few at a time, and
 * run by the injected engine in its inference worker; predictions are mapped back through the
 * preprocessing's placement (predict/letterbox-mapping.ts) and turned into shapes by
 * predict-service's predictionShapes, the same as a run's.
 *
 * Proposals: source 'model', status 'proposed', author 'model:<name>', the model's score. A pass
 * replaces that model's earlier proposals on each image it writes, and when it completes, its
 * proposals left on images of the dataset it did not write (as a run's predict pass does).
 *
 * Evaluation reuses the evaluation entry point for other tools' outputs (core/evaluation/
 * evaluate-predictions.ts: sklearn-exact classification metrics, COCO detection with crowd and
 * difficult regions), fed with the model's predictions in image pixels through its file formats
 * (a CSV of probabilities, a COCO results list that names each image by its library path and
 * frame). Segmentation is scored here with the same accumulator and the same rasterised truth,
 * because mask files are matched to images by base name, which DICOM series repeat.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelPredictReport } from '../../contract/assist';
import type { AssistEngine, ModelOutput } from '../../contract/assist-engine';
import type { OverlayShape } from '../../contract/evaluation';
import type { Prediction, SplitName } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import type { ClassificationMetrics } from '../evaluation/classification-metrics';
import type { DetectionMetrics } from '../evaluation/detection-metrics';
import { evaluatePredictions } from '../evaluation/evaluate-predictions';
import { SegmentationAccumulator, type SegmentationMetrics } from '../evaluation/segmentation-metrics';
import { decodeRle } from '../labels/rle';
import type { Letterbox } from '../predict/letterbox-mapping';
import { imageSources, predictionShapes } from '../predict/predict-service';
import type { AnnotationStore } from '../store/annotation-store';
import type { AssistStore } from '../store/assist-store';
import type { AuditLog } from '../store/audit-log';
import type { DatasetStore } from '../store/dataset-store';
import { listItemRefs } from '../store/items-repo';
import type { Db } from '../store/library-db';
import { transaction } from '../store/transaction';
import type { SplitService } from '../training/splits';
import type { BlobReader } from '../training/sample-loader';
import { withNeighbours } from '../training/slice-neighbours';
import { collectSamples, maskReader, rasterizeSegmentation, type SampleSource } from '../training/training-samples';
import { onnxModelRef } from './model-import';
import { modelInput } from './model-input';
import type { ModelRegistry, VerifiedModel } from './model-registry';

const BATCH = 4;
/** Evaluation keeps low-scored boxes: average precision integrates over every score. */
const EVAL_MIN_SCORE = 0.001;

export interface ModelPredictDeps {
  db: Db;
  blobs: BlobReader;
  annotations: Pick<AnnotationStore, 'listClasses' | 'create'>;
  store: Pick<AssistStore, 'deleteItemProposals' | 'deleteProposalsExcept'>;
  audit: Pick<AuditLog, 'append'>;
  registry: Pick<ModelRegistry, 'get'>;
  engine: Pick<AssistEngine, 'run'> | null;
  datasets: DatasetStore;
  library: { readOnly: boolean; readOnlyReason: string | null };
  splits: SplitService;
}

export interface ClassMapping {
  /** Per model class: the dataset class it goes to, or null (left out). */
  names: (string | null)[];
  record: Record<string, string | null>;
}

/** Model classes -> dataset classes (see the file header). VALIDATION for a map naming classes that do not exist. */
export function mapClasses(modelClasses: readonly string[], datasetClasses: readonly string[], task: string, explicit: Record<string, string> = {}): ClassMapping {
  const byLower = new Map(datasetClasses.map((n) => [n.toLowerCase(), n]));
  for (const [from, to] of Object.entries(explicit)) {
    if (!modelClasses.includes(from)) throw new FoveaException('VALIDATION', `The model has no class "${from}" (its classes: ${modelClasses.slice(0, 20).join(', ')}).`);
    if (to !== '' && !byLower.has(to.toLowerCase())) throw new FoveaException('VALIDATION', `The dataset has no class "${to}" (its classes: ${datasetClasses.slice(0, 20).join(', ') || 'none'}). Add it in the label schema first.`);
  }
  const names = modelClasses.map((c, k) => {
    if (task === 'segmentation' && k === 0) return null;
    const to = Object.prototype.hasOwnProperty.call(explicit, c) ? explicit[c] : c;
    return to === '' || to === undefined ? null : (byLower.get(to.toLowerCase()) ?? null);
  });
  const record: Record<string, string | null> = {};
  modelClasses.forEach((c, k) => {
    if (!(task === 'segmentation' && k === 0)) record[c] = names[k] ?? null;
  });
  return { names, record };
}

function toPrediction(o: ModelOutput): Prediction {
  return o.task === 'segmentation' ? { task: 'segmentation', classes: o.classes, confidence: o.confidence } : o;
}

function modelOf(vm: VerifiedModel): { multiLabel: boolean; classes: string[]; task: 'classification' | 'detection' | 'segmentation' } {
  const m = vm.manifest;
  if (m.task === 'prompt-segmentation') throw new FoveaException('UNSUPPORTED', `Model "${m.name}" proposes masks from clicks; it does not predict a dataset.`);
  const multiLabel = 'multiLabel' in m.output ? m.output.multiLabel === true : false;
  return { multiLabel, classes: m.classes ?? [], task: m.task };
}

function engineOf(deps: Pick<ModelPredictDeps, 'engine'>): Pick<AssistEngine, 'run'> {
  if (!deps.engine) throw new FoveaException('UNSUPPORTED', 'Imported models cannot run in this process (no model engine was started).');
  return deps.engine;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs a model over images in batches; yields each image's shapes (model class indices, image pixels). */
async function* predictSources(
  deps: Pick<ModelPredictDeps, 'blobs' | 'engine' | 'db'>,
  vm: VerifiedModel,
  sources: readonly SampleSource[],
  minScore: number,
  signal: AbortSignal | undefined,
  onFailure: (f: { itemId: number; frameIndex: number; message: string }) => void,
): AsyncGenerator<{ source: SampleSource; shapes: OverlayShape[]; output: ModelOutput; lb: Letterbox }[]> {
  const engine = engineOf(deps);
  const ref = onnxModelRef(vm);
  const info = modelOf(vm);
  const per = ref.channels * ref.inputWidth * ref.inputHeight;
  // A 2.5-D model (its card says so) sees each slice with its neighbours, as a Fovea run does (slice-neighbours.ts).
  const p = vm.manifest.preprocessing;
  const fed = p.resize === 'fovea' && p.slices === '2.5d' ? withNeighbours(deps.db, sources) : sources;
  for (let start = 0; start < fed.length; start += BATCH) {
    if (signal?.aborted) throw new FoveaException('CANCELLED', 'Prediction was cancelled.');
    const loaded: { source: SampleSource; x: Float32Array; lb: Letterbox }[] = [];
    for (const source of fed.slice(start, start + BATCH)) {
      try {
        const input = await modelInput(deps.blobs, source, vm.manifest);
        loaded.push({ source, ...input });
      } catch (e) {
        onFailure({ itemId: source.itemId, frameIndex: source.frameIndex, message: (e as Error).message });
      }
      await yieldToEventLoop();
    }
    if (loaded.length === 0) continue;
    const x = new Float32Array(loaded.length * per);
    loaded.forEach((l, i) => x.set(l.x, i * per));
    let outputs: ModelOutput[];
    try {
      outputs = await engine.run(ref, x, loaded.length, { scoreThreshold: minScore });
    } catch (e) {
      throw new FoveaException('INTERNAL', `Model "${vm.info.name}" failed: ${(e as Error).message}`);
    }
    yield loaded.map((l, i) => {
      const output = outputs[i] as ModelOutput;
      const lb = output.task === 'segmentation' ? { ...l.lb, inputSize: output.width, inputHeight: output.height } : l.lb;
      return { source: l.source, output, lb, shapes: predictionShapes(toPrediction(output), lb, { classNames: info.classes, multiLabel: info.multiLabel }, minScore) };
    });
    await yieldToEventLoop();
  }
}

export interface ModelPredictOptions {
  datasetId: number;
  classMap?: Record<string, string>;
  onlyUnlabeled?: boolean;
  /** Detection: lowest score stored (default 0.25). */
  minScore?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Stores a model's predictions on a dataset as proposals (see the file header). */
export async function predictWithModel(deps: ModelPredictDeps, name: string, options: ModelPredictOptions): Promise<ModelPredictReport> {
  if (deps.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', deps.library.readOnlyReason ?? 'The library is read-only.');
  const started = performance.now();
  const vm = await deps.registry.get(name);
  const info = modelOf(vm);
  engineOf(deps);
  const dataset = deps.datasets.get(options.datasetId);
  const classes = deps.annotations.listClasses(dataset.id);
  const mapping = mapClasses(info.classes, classes.map((c) => c.name), info.task, options.classMap);
  if (!mapping.names.some((n) => n !== null)) {
    throw new FoveaException(
      'VALIDATION',
      `None of model "${name}"'s classes (${info.classes.slice(0, 10).join(', ')}) is a class of dataset "${dataset.name}" (${classes.map((c) => c.name).slice(0, 10).join(', ') || 'none'}): map them (--map MODEL=DATASET) or add the classes first.`,
    );
  }
  const idOf = new Map(classes.map((c) => [c.name, c.id]));
  let sources = imageSources({ db: deps.db }, dataset.id);
  if (options.onlyUnlabeled) sources = sources.filter((s) => s.status === 'unlabeled');
  const author = `model:${name}`;
  const minScore = options.minScore ?? 0.25;
  const failures: ModelPredictReport['failures'] = [];
  const cleared = new Set<number>();
  let proposed = 0;
  let replaced = 0;
  let images = 0;
  const framesOf = new Map(sources.map((s) => [s.itemId, s.frames]));
  const write = transaction(deps.db, (batch: { source: SampleSource; shapes: OverlayShape[] }[]) => {
    for (const { source, shapes } of batch) {
      if (!cleared.has(source.itemId)) {
        cleared.add(source.itemId);
        replaced += deps.store.deleteItemProposals(dataset.id, source.itemId, author);
      }
      const multiFrame = (framesOf.get(source.itemId) ?? 1) > 1;
      for (const s of shapes) {
        const target = mapping.names[s.classIndex];
        const classId = target ? idOf.get(target) : undefined;
        if (classId === undefined) continue;
        const geometry = s.kind === 'class' ? null : s.kind === 'box' ? { x: s.x, y: s.y, width: s.width, height: s.height } : { rle: s.rle };
        deps.annotations.create({ datasetId: dataset.id, itemId: source.itemId, frameIndex: multiFrame ? source.frameIndex : null, classId, kind: s.kind, geometry, score: s.score, source: 'model', status: 'proposed', author });
        proposed++;
      }
    }
  });
  options.onProgress?.(0, sources.length);
  for await (const batch of predictSources(deps, vm, sources, minScore, options.signal, (f) => failures.push(f))) {
    write.immediate(batch);
    images += batch.length;
    options.onProgress?.(images + failures.length, sources.length);
  }
  // The pass completed: this model's older proposals on images it did not write go too.
  replaced += deps.store.deleteProposalsExcept(dataset.id, author, [...cleared]);
  deps.audit.append({ action: 'model.predict', objectType: 'model', objectId: name, details: { datasetId: dataset.id, images, proposed, replaced, failures: failures.length } });
  return { model: name, datasetId: dataset.id, task: info.task, images, proposed, replaced, classMap: mapping.record, failures, seconds: (performance.now() - started) / 1000 };
}

/** Where a model evaluation came from. */
export interface ModelEvaluationSource {
  kind: 'model';
  model: string;
  datasetId: number;
  datasetName: string;
  split: SplitName | 'all';
  coordinates: 'image';
  classNames: string[];
  classMap: Record<string, string | null>;
  evaluatedAt: string;
  images: number;
  failures: { itemId: number; frameIndex: number; message: string }[];
  warnings: string[];
  /** Which images were scored (detection: labelled ones, labelled-empty included), as evaluatePredictions states it. */
  imageRule?: string;
  /** Detection: images labelled without objects, scored as negatives. */
  labelledEmpty?: number;
}

export type ModelEvaluation = (ClassificationMetrics & { source: ModelEvaluationSource }) | (DetectionMetrics & { source: ModelEvaluationSource }) | (SegmentationMetrics & { source: ModelEvaluationSource });

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface ModelEvaluateOptions {
  datasetId: number;
  split?: SplitName;
  classMap?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Scores a model on a dataset's labelled images (see the file header). */
export async function evaluateWithModel(deps: ModelPredictDeps, name: string, options: ModelEvaluateOptions): Promise<ModelEvaluation> {
  const vm = await deps.registry.get(name);
  const info = modelOf(vm);
  const dataset = deps.datasets.get(options.datasetId);
  const collected = collectSamples(deps.db, dataset.id, info.task);
  // Segmentation: index 0 is background, as the model's.
  const gtClasses = collected.classNames;
  const mapping = mapClasses(info.classes, gtClasses.filter((n, k) => !(info.task === 'segmentation' && k === 0)), info.task, options.classMap);
  const splitOf = options.split ? deps.splits.splitMap(dataset.id) : null;
  const samples = collected.samples.filter((s) => !splitOf || splitOf.get(s.itemId) === options.split).sort((a, b) => a.itemId - b.itemId || a.frameIndex - b.frameIndex);
  if (samples.length === 0) {
    throw new FoveaException('BAD_INPUT', `No ${info.task}-labelled image of dataset "${dataset.name}"${options.split ? ` in the ${options.split} split` : ''}: nothing to evaluate.`);
  }
  const names = new Map(listItemRefs(deps.db, dataset.id).map((r) => [r.id, r.sourceName]));
  const failures: ModelEvaluationSource['failures'] = [];
  const minScore = info.task === 'detection' ? EVAL_MIN_SCORE : 0.5;
  const work = mkdtempSync(join(tmpdir(), 'fovea-model-eval-'));
  try {
    const csvRows: string[] = [];
    const coco: { file_name: string; frame_index: number; category_name: string; bbox: number[]; score: number }[] = [];
    const K = gtClasses.length;
    const seg = info.task === 'segmentation' ? new SegmentationAccumulator(gtClasses) : null;
    const readMask = maskReader(deps.db);
    const segIndex = new Map(gtClasses.map((n, k) => [n, k]));
    const bySample = new Map(samples.map((s) => [`${s.itemId}:${s.frameIndex}`, s]));
    let done = 0;
    for await (const batch of predictSources(deps, vm, samples, minScore, options.signal, (f) => failures.push(f))) {
      for (const { source, shapes, output, lb } of batch) {
        const file = names.get(source.itemId) ?? String(source.itemId);
        if (output.task === 'classification') {
          const probs = new Array<number>(K).fill(0);
          output.probabilities.forEach((p, k) => {
            const to = mapping.names[k];
            const j = to === null || to === undefined ? -1 : gtClasses.indexOf(to);
            if (j >= 0) probs[j] = (probs[j] as number) + p;
          });
          csvRows.push([csvCell(file), String(source.frameIndex), ...probs.map((p) => String(p))].join(','));
        } else if (output.task === 'detection') {
          for (const s of shapes) {
            if (s.kind !== 'box') continue;
            const to = mapping.names[s.classIndex];
            if (!to) continue;
            coco.push({ file_name: file, frame_index: source.frameIndex, category_name: to, bbox: [s.x, s.y, s.width, s.height], score: s.score ?? 0 });
          }
        } else if (seg) {
          const sample = bySample.get(`${source.itemId}:${source.frameIndex}`);
          if (!sample || sample.target.task !== 'segmentation') continue;
          const truth = rasterizeSegmentation(sample.target.shapes, lb.height, lb.width, readMask).classMap;
          const pred = new Uint8Array(lb.width * lb.height);
          for (const s of shapes) {
            if (s.kind !== 'mask') continue;
            const to = mapping.names[s.classIndex];
            const k = to ? (segIndex.get(to) ?? K) : K; // a class the dataset lacks counts as "no class"
            const m = decodeRle({ size: s.rle.size, counts: s.rle.counts });
            for (let i = 0; i < m.length; i++) if (m[i]) pred[i] = k;
          }
          seg.add(truth, pred, { itemId: source.itemId, frameIndex: source.frameIndex, seriesId: null });
        }
      }
      done += batch.length;
      options.onProgress?.(done + failures.length, samples.length);
    }
    const source = {
      kind: 'model' as const,
      model: name,
      datasetId: dataset.id,
      datasetName: dataset.name,
      split: options.split ?? 'all',
      coordinates: 'image' as const,
      classNames: gtClasses,
      classMap: mapping.record,
      evaluatedAt: new Date().toISOString(),
      images: done,
      failures,
      warnings: failures.length ? [`${failures.length} image(s) could not be read and are left out.`] : [],
    };
    if (seg) return { ...seg.result(), source } as ModelEvaluation;
    let path: string;
    if (info.task === 'classification') {
      path = join(work, 'predictions.csv');
      writeFileSync(path, `${['filename', 'frame', ...gtClasses.map(csvCell)].join(',')}\n${csvRows.join('\n')}\n`);
    } else {
      path = join(work, 'predictions.json');
      writeFileSync(path, JSON.stringify(coco));
    }
    const r = await evaluatePredictions({ db: deps.db, datasets: deps.datasets, splits: deps.splits }, dataset.id, path, { ...(options.split ? { split: options.split } : {}) });
    const { source: scored, ...metrics } = r;
    return {
      ...metrics,
      source: { ...source, imageRule: scored.imageRule, ...(scored.labelledEmpty !== undefined ? { labelledEmpty: scored.labelledEmpty } : {}), warnings: [...source.warnings, ...scored.warnings] },
    } as ModelEvaluation;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
