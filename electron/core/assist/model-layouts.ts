/**
 * What an imported ONNX model is, from its graph (OnnxGraphInfo), a manifest the user gives, or
 * the model card of a Fovea export: task, input layout and size, output decoding, classes and
 * preprocessing. Pure: unit-tested on graphs with the exact layouts of the common exports.
 *
 * Recognised from the graph (first output; a model that fits none is refused, saying what was
 * expected and what was found):
 *   [N, K]                 classifier; 'classifier-probabilities' when the output comes from a
 *                          Softmax (or Sigmoid: multi-label), else logits (torchvision) -> softmax
 *   [N, 4+K, A]            Ultralytics YOLOv8 / YOLO11 detect, A = anchor cells of strides 8/16/32
 *   [N, A, 5+K]            with A = 3 x cells: Ultralytics YOLOv5 (decoded boxes, objectness)
 *                          with A = cells: YOLOX; raw (its default export) unless the graph has
 *                          an Exp (decode_in_inference), then decoded like YOLOv5
 *   [N, K, H, W]/[N,H,W,K] per-pixel class scores (same layout as the input): segmentation;
 *                          probabilities after a Softmax/Sigmoid, else logits
 * Classes: a manifest's, a --classes file's, the model card's, else Ultralytics' `names` metadata.
 * Preprocessing defaults follow each family's own pipeline:
 *   YOLOv5/v8/11: letterbox centred, pad 114, RGB / 255;
 *   YOLOX: letterbox top-left, pad 114, BGR 0..255 (YOLOX >= 0.2, legacy=False);
 *   classifiers and segmenters: stretch to the input, RGB / 255, ImageNet mean and std
 *   (torchvision's transforms); a manifest overrides any of it.
 */
import * as v from 'valibot';
import { ModelManifestSchema, type ModelManifest } from '../../contract/assist';
import type { OnnxGraphInfo, TensorDim } from '../../contract/assist-engine';
import { FoveaException } from '../../contract/result';

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];
const YOLO_STRIDES = [8, 16, 32];

/** A manifest given with --manifest: any part of one (files and name are Fovea's to fill in). */
export const PartialManifestSchema = v.partial(v.strictObject({ ...ModelManifestSchema.entries }));
export type PartialManifest = v.InferOutput<typeof PartialManifestSchema>;

/** The parts of a Fovea model card (core/export/model-export.ts ModelCard) an import reads. */
export interface FoveaCardView {
  fovea: 'model-card';
  task: 'classification' | 'detection' | 'segmentation';
  classes: string[];
  multiLabel: boolean;
  input: { shape: (number | null)[]; layout: 'NHWC' | 'NC'; channels: 1 | 3 };
  preprocessing: { normalization: { kind: string; center?: number; width?: number }; slices?: { mode: string } };
  training?: { runId?: number; dataset?: string };
}

export function isFoveaCard(x: unknown): x is FoveaCardView {
  const c = x as Partial<FoveaCardView> | null;
  return !!c && c.fovea === 'model-card' && Array.isArray(c.classes) && !!c.input && Array.isArray(c.input.shape) && !!c.preprocessing?.normalization;
}

/** Ultralytics' `names` metadata: a Python dict repr, {0: 'person', 1: 'bicycle', ...}. */
export function parseUltralyticsNames(s: string | undefined): string[] | null {
  if (!s) return null;
  const re = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  const byIndex = new Map<number, string>();
  for (let m = re.exec(s); m; m = re.exec(s)) byIndex.set(Number(m[1]), (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'));
  if (byIndex.size === 0) return null;
  const out: string[] = [];
  for (let k = 0; k < byIndex.size; k++) {
    const n = byIndex.get(k);
    if (n === undefined) return null;
    out.push(n);
  }
  return out;
}

/** Ultralytics' `imgsz` metadata: "[640, 640]" (height, width). */
function parseImgsz(s: string | undefined): { width: number; height: number } | null {
  const m = s ? /\[\s*(\d+)\s*,\s*(\d+)\s*\]/.exec(s) : null;
  return m ? { height: Number(m[1]), width: Number(m[2]) } : null;
}

function fmt(dims: readonly TensorDim[]): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

const num = (d: TensorDim | undefined): number | null => (typeof d === 'number' && d > 0 ? d : null);

/** Anchor cells of strides 8, 16, 32 for an input. */
export function yoloCells(width: number, height: number): number {
  return YOLO_STRIDES.reduce((s, st) => s + Math.floor(width / st) * Math.floor(height / st), 0);
}

export interface DetectedModel {
  /** A complete manifest but for name and files (which the importer fills in). */
  manifest: Omit<ModelManifest, 'name' | 'files' | 'fovea' | 'version'>;
  from: 'manifest' | 'model-card' | 'graph';
  /** Output classes the model has (from its output shape); the class list has this many names. */
  outputClasses: number;
  notes: string[];
}

const OUTPUT_EXPECTATIONS =
  'one of: [batch, classes] (a classifier), [batch, 4 + classes, anchors] (YOLOv8 / YOLO11), [batch, anchors, 5 + classes] (YOLOv5, YOLOX), ' +
  '[batch, classes, height, width] or [batch, height, width, classes] (per-pixel class scores)';

/**
 * Works out what the model is (see the file header). `given` is the user's manifest (wins over
 * everything), `card` a Fovea model card found beside the file, `classes` a --classes list.
 * Throws UNSUPPORTED (with what was expected and found) when the model does not fit.
 */
export function detectModel(graph: OnnxGraphInfo, given: PartialManifest | null, card: FoveaCardView | null, classes: string[] | null): DetectedModel {
  const notes: string[] = [];
  const refuse = (what: string): never => {
    throw new FoveaException('UNSUPPORTED', `This model does not fit: ${what}`);
  };

  // ---- input
  if (graph.inputs.length !== 1) {
    refuse(`Fovea feeds one image tensor; the model has ${graph.inputs.length} inputs (${graph.inputs.map((i) => `${i.name} ${fmt(i.dims)}`).join(', ') || 'none'}).`);
  }
  const input = graph.inputs[0]!;
  if (input.type !== 'float32') refuse(`expected a float32 image input; "${input.name}" is ${input.type}.`);
  if (input.dims.length !== 4) refuse(`expected an image input [batch, channels, height, width] or [batch, height, width, channels]; "${input.name}" is ${fmt(input.dims)}.`);
  const [, d1, d2, d3] = input.dims;
  let layout: 'NCHW' | 'NHWC';
  if (given?.input?.layout) layout = given.input.layout;
  else if (card) layout = 'NHWC';
  else if ((d1 === 1 || d1 === 3) && d3 !== 1 && d3 !== 3) layout = 'NCHW';
  else if ((d3 === 1 || d3 === 3) && d1 !== 1 && d1 !== 3) layout = 'NHWC';
  else if (d1 === 3 || d1 === 1) layout = 'NCHW';
  else return refuse(`expected 1 or 3 colour channels in the input [batch, 3, height, width] or [batch, height, width, 3]; "${input.name}" is ${fmt(input.dims)}.`);
  const channels = num(layout === 'NCHW' ? d1 : d3);
  if (channels !== 1 && channels !== 3) return refuse(`expected 1 or 3 input channels; "${input.name}" ${fmt(input.dims)} has ${channels ?? 'an unnamed number of'} in its ${layout} channel axis.`);
  const meta = parseImgsz(graph.metadata['imgsz']);
  const height = given?.input?.height ?? num(layout === 'NCHW' ? d2 : d1) ?? meta?.height ?? null;
  const width = given?.input?.width ?? num(layout === 'NCHW' ? d3 : d2) ?? meta?.width ?? null;
  if (width === null || height === null) {
    return refuse(`the input size is not fixed in the graph ("${input.name}" is ${fmt(input.dims)}): give it in a manifest (input.width, input.height).`);
  }

  // ---- output
  const out = graph.outputs[0];
  if (!out) return refuse('the model has no output.');
  if (out.type !== 'float32') refuse(`expected float32 outputs; "${out.name}" is ${out.type}.`);
  const producer = graph.outputProducers[out.name] ?? '';
  const probabilities = producer === 'Softmax' || producer === 'Sigmoid';
  const od = out.dims;
  type Found = { task: 'classification' | 'detection' | 'segmentation'; decoder: ModelManifest['output']['decoder']; k: number | null; multiLabel?: boolean };
  let found: Found | null = null;
  const forced = given?.output?.decoder ?? (card ? 'fovea' : undefined);
  if (forced === 'fovea') {
    if (!card && !given?.task) refuse('Fovea\'s decoding needs the Fovea model card (model-card.json beside the file) or a task in the manifest.');
    found = { task: card?.task ?? (given!.task as Found['task']), decoder: 'fovea', k: null };
  } else if (forced !== undefined && forced !== 'sam') {
    const task = forced.startsWith('classifier') ? 'classification' : forced.startsWith('segmentation') ? 'segmentation' : 'detection';
    const k =
      forced === 'yolov8' ? (num(od[1]) !== null ? (num(od[1]) as number) - 4 : null)
      : forced === 'yolov5' || forced === 'yolox' ? (num(od[2]) !== null ? (num(od[2]) as number) - 5 : null)
      : task === 'classification' ? num(od[1])
      : num(layout === 'NCHW' ? od[1] : od[3]);
    found = { task, decoder: forced, k };
  } else if (forced === 'sam') {
    refuse('Segment Anything packs are made by hand (an encoder and a decoder file), not imported as one ONNX file.');
  } else if (od.length === 2) {
    found = { task: 'classification', decoder: probabilities ? 'classifier-probabilities' : 'classifier-logits', k: num(od[1]), ...(producer === 'Sigmoid' ? { multiLabel: true } : {}) };
  } else if (od.length === 3) {
    const cells = yoloCells(width, height);
    const [, a, b] = od;
    if (num(b) === cells && num(a) !== null && (num(a) as number) > 4) found = { task: 'detection', decoder: 'yolov8', k: (num(a) as number) - 4 };
    else if (num(a) === 3 * cells && num(b) !== null && (num(b) as number) > 5) found = { task: 'detection', decoder: 'yolov5', k: (num(b) as number) - 5 };
    else if (num(a) === cells && num(b) !== null && (num(b) as number) > 5) {
      const decoded = graph.operators.includes('Exp');
      found = { task: 'detection', decoder: decoded ? 'yolov5' : 'yolox', k: (num(b) as number) - 5 };
      notes.push(decoded ? 'YOLOX-style output with boxes decoded in the graph (it has an Exp): read like YOLOv5, one box per cell.' : 'YOLOX raw output (no Exp in the graph): boxes decoded on strides 8, 16, 32.');
    }
  } else if (od.length === 4) {
    const k = num(layout === 'NCHW' ? od[1] : od[3]);
    if (k !== null) found = { task: 'segmentation', decoder: probabilities ? 'segmentation-probabilities' : 'segmentation-logits', k };
  }
  if (!found) {
    return refuse(`its output "${out.name}" is ${fmt(od)}; Fovea reads ${OUTPUT_EXPECTATIONS} for a ${width}x${height} input (${yoloCells(width, height)} anchor cells of strides 8, 16, 32). Name the layout in a manifest (output.decoder) if it is one of these.`);
  }
  if (given?.task && given.task !== found.task) refuse(`the manifest says ${given.task}, but the output "${out.name}" ${fmt(od)} with ${found.decoder} decoding gives ${found.task}.`);

  // ---- classes
  let classNames = given?.classes ?? classes ?? card?.classes ?? parseUltralyticsNames(graph.metadata['names']) ?? null;
  if (!classNames) {
    if (found.k === null) return refuse('it names no classes: give them with --classes NAMES.txt (one per line) or in a manifest.');
    classNames = Array.from({ length: found.k }, (_, i) => `class ${i}`);
    notes.push(`The model names no classes: they are called "class 0".."class ${found.k - 1}"; give names with --classes to map them onto a dataset's classes.`);
  }
  const outputClasses = found.k ?? classNames.length;
  if (found.decoder !== 'fovea' && found.k !== null && classNames.length !== found.k) {
    refuse(`its output "${out.name}" ${fmt(od)} has ${found.k} class${found.k === 1 ? '' : 'es'} (${found.decoder}); ${classNames.length} class name${classNames.length === 1 ? ' was' : 's were'} given.`);
  }
  if (found.decoder === 'fovea' && card && card.input.shape.length === 4) {
    const S = card.input.shape[1];
    if (S !== width || S !== height) refuse(`the model card says a ${S}x${S} input; the graph's is ${width}x${height}.`);
  }

  // ---- preprocessing
  let preprocessing: ModelManifest['preprocessing'];
  if (given?.preprocessing) preprocessing = given.preprocessing;
  else if (found.decoder === 'fovea') {
    const n = card?.preprocessing.normalization;
    preprocessing = {
      resize: 'fovea',
      normalization: n?.kind === 'window' ? { kind: 'window', center: Number(n.center), width: Number(n.width) } : { kind: (n?.kind ?? 'unit') as 'file-window' | 'per-image' | 'unit' | 'zscore' },
      // A 2.5-D model is fed [below, slice, above] of the image's series (model-predict.ts, slice-neighbours.ts).
      ...(card?.preprocessing.slices?.mode === '2.5d' ? { slices: '2.5d' as const } : {}),
    };
  } else if (found.decoder === 'yolov5' || found.decoder === 'yolov8') {
    preprocessing = { resize: 'letterbox', pad: 114, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' };
  } else if (found.decoder === 'yolox') {
    preprocessing = { resize: 'letterbox-top-left', pad: 114, scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'BGR' };
  } else {
    preprocessing = { resize: 'stretch', pad: 0, scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, channelOrder: 'RGB' };
  }

  const multiLabel = given?.output && 'multiLabel' in given.output ? given.output.multiLabel : found.multiLabel ?? (found.decoder === 'classifier-sigmoid' ? true : undefined);
  const output: ModelManifest['output'] =
    found.decoder === 'fovea' ? { decoder: 'fovea', multiLabel: card?.multiLabel ?? false } : found.decoder === 'sam' ? refuse('unreachable') : { decoder: found.decoder, ...(multiLabel !== undefined ? { multiLabel } : {}) };
  const from: DetectedModel['from'] = given && (given.output || given.input || given.task) ? 'manifest' : card ? 'model-card' : 'graph';
  return {
    manifest: {
      title: given?.title ?? (card ? `Fovea ${card.task} model${card.training?.runId ? ` (run ${card.training.runId}${card.training.dataset ? ` on ${card.training.dataset}` : ''})` : ''}` : `${found.task} model (${found.decoder})`),
      task: found.task,
      classes: classNames,
      input: { name: input.name, layout, width, height, channels },
      preprocessing,
      output,
      license: given?.license ?? { name: 'unknown', notes: 'Imported by a user; Fovea does not know its licence. Record it with --manifest (license).' },
      ...(given?.card ? { card: given.card } : {}),
    },
    from,
    outputClasses,
    notes,
  };
}
