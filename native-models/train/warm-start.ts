/**
 * Warm starts: a new run begins from the weights of an earlier run's checkpoint (or of any TF.js
 * layers model folder: model.json + its weight files), instead of from random weights. An ONNX
 * source (`format: 'onnx'`) is matched by layer order instead: onnx-warm-start.ts.
 *
 * Layers are matched by NAME and weight SHAPE, never by position: Fovea's factories name every
 * layer (stem_conv, block2_bn, probabilities...), and a conv's kernel does not depend on the input
 * size, so a fully convolutional body trained at 64 px fits a run at 96 px when the factory builds
 * the same layers. Every layer with weights in the new model must be found, with every weight of
 * the same shape, and the source must have no weighted layer the new model lacks; the first layer
 * that does not fit is named in the refusal (`WarmStartMismatch`), which the core turns into a
 * VALIDATION error before any run exists.
 *
 * New classes: the head (the layer whose outputs are the classes: `headLayerNames`) is left as
 * initialised, everything else is loaded. The head is new whenever the class lists differ (names
 * or order), even when its shape happens to fit: two other classes are not the old two.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TaskKind, WarmStartSourceRef } from '../../electron/contract/ml';
import { fileSystemHandler, MODEL_JSON, resolveCheckpointDir } from './checkpoint-io';

/** What a warm start loads from (a folder, its classes or null, and "run 4" for messages). */
export type WarmStartSource = WarmStartSourceRef;

export interface WarmStartMatch {
  /** Names of the layers whose weights are loaded from the source. */
  loaded: string[];
  /** Names of the layers left as initialised (the head, for new classes). */
  fresh: string[];
  /**
   * ONNX sources only: batch norms whose statistics the exporter folded into the conv before them
   * (loaded as pass-throughs); calibrateFoldedBatchNorms (onnx-warm-start.ts) measures them on data.
   */
  folded?: string[];
}

/** The source's weights cannot fit the new model: `layer` is the first that does not. */
export class WarmStartMismatch extends Error {
  readonly code = 'VALIDATION';
  constructor(
    readonly layer: string,
    message: string,
  ) {
    super(message);
  }
}

/** The layers whose outputs are the classes, per task (detection's size and offset maps are class-agnostic). */
export function headLayerNames(task: TaskKind): string[] {
  return task === 'detection' ? ['heatmap'] : ['probabilities'];
}

/** Whether two class lists are the same classes in the same output order. */
export function sameClasses(a: readonly string[] | null, b: readonly string[]): boolean {
  return a !== null && a.length === b.length && a.every((n, i) => n === b[i]);
}

const layerOf = (weightName: string): string => {
  const i = weightName.lastIndexOf('/');
  return i < 0 ? weightName : weightName.slice(0, i);
};

/** The weight names and shapes a model folder declares (model.json's weights manifest; no weights read). */
export function readWeightShapes(dir: string): Map<string, number[]> {
  const src = resolveCheckpointDir(dir);
  const path = join(src, MODEL_JSON);
  if (!existsSync(path)) throw new WarmStartMismatch('', `There is no model at ${dir} (no ${MODEL_JSON}).`);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as tf.io.ModelJSON;
  } catch (e) {
    throw new WarmStartMismatch('', `${path} is not a TF.js model: ${(e as Error).message}`);
  }
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new WarmStartMismatch('', `${path} is a TF.js ${json.format}, not a layers model: its weights have no layer names to match.`);
  }
  const shapes = new Map<string, number[]>();
  for (const group of json.weightsManifest ?? []) for (const w of group.weights) shapes.set(w.name, w.shape);
  return shapes;
}

const fmtShape = (s: readonly (number | null)[]): string => `[${s.join(', ')}]`;

/**
 * Which layers of `model` the source's weights fill. Throws WarmStartMismatch naming the first
 * layer (in the new model's order, then the source's extra layers) that does not match.
 */
export function matchWarmStart(model: tf.LayersModel, sourceShapes: Map<string, number[]>, opts: { task: TaskKind; newHead: boolean; label: string }): WarmStartMatch {
  const heads = new Set(headLayerNames(opts.task));
  const loaded: string[] = [];
  const fresh: string[] = [];
  const used = new Set<string>();
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const isHead = heads.has(layer.name);
    if (isHead && opts.newHead) {
      fresh.push(layer.name);
      for (const w of layer.weights) used.add(w.originalName);
      continue;
    }
    for (const w of layer.weights) {
      const shape = sourceShapes.get(w.originalName);
      if (shape === undefined) {
        throw new WarmStartMismatch(layer.name, `layer "${layer.name}" of the new model has no weights in ${opts.label} (no ${w.originalName}): the architecture differs (task, input size or channels).`);
      }
      if (shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i])) {
        const why = isHead ? ' (the classes differ in number: choose the same classes, or other class names for a new head)' : ' (a different architecture, number of input channels or input size)';
        throw new WarmStartMismatch(layer.name, `layer "${layer.name}" does not fit: ${w.originalName} is ${fmtShape(shape)} in ${opts.label} and ${fmtShape(w.shape)} in the new model${why}.`);
      }
      used.add(w.originalName);
    }
    loaded.push(layer.name);
  }
  for (const name of sourceShapes.keys()) {
    if (!used.has(name)) {
      const layer = layerOf(name);
      throw new WarmStartMismatch(layer, `layer "${layer}" of ${opts.label} has no counterpart in the new model (a different architecture or input size): its weights would be left out.`);
    }
  }
  return { loaded, fresh };
}

/**
 * Matches `model` against the source and loads the matched layers' weights into it (the rest keep
 * their initial values). Throws WarmStartMismatch when the source does not fit.
 */
export async function applyWarmStart(model: tf.LayersModel, source: WarmStartSource, config: { task: TaskKind; classNames: string[] }): Promise<WarmStartMatch> {
  if (source.format === 'onnx') {
    const { applyOnnxWarmStart } = await import('./onnx-warm-start');
    return applyOnnxWarmStart(model, source.dir, { task: config.task, newHead: !sameClasses(source.classNames, config.classNames), label: source.label });
  }
  const match = matchWarmStart(model, readWeightShapes(source.dir), { task: config.task, newHead: !sameClasses(source.classNames, config.classNames), label: source.label });
  const artifacts = await fileSystemHandler(resolveCheckpointDir(source.dir)).load!();
  if (artifacts.weightData == null || artifacts.weightSpecs == null) throw new WarmStartMismatch('', `${source.label} has no weights.`);
  const tensors = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  try {
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    for (const name of match.loaded) {
      const layer = byName.get(name) as tf.layers.Layer;
      layer.setWeights(layer.weights.map((w) => tensors[w.originalName] as tf.Tensor));
    }
  } finally {
    // setWeights copies the values into the layer's variables.
    tf.dispose(Object.values(tensors));
  }
  return match;
}
