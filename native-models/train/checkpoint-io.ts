/**
 * Checkpoints on disk without tfjs-node (whose file:// handler is the usual
 * way and cannot be installed everywhere): a tf.io.IOHandler over node:fs.
 *
 * A checkpoint folder:
 *   model.json       standard TF.js "layers-model" JSON (topology + weights
 *                    manifest pointing at weights.bin): loadable by
 *                    tf.loadLayersModel with any handler, and what model
 *                    export ships as the TF.js format
 *   weights.bin      the weights, as tf.io.encodeWeights lays them out
 *   optimizer.json   optional: the optimizer's class, config and weight specs
 *   optimizer.bin    optional: its weights (Adam: iterations, first and second moments)
 *   state.json       optional: Fovea's run bookkeeping (epoch, config, best, patience)
 *
 * Writes are atomic: everything goes into `<dir>.tmp`, is fsynced, and the
 * folder is then renamed into place. A folder cannot be renamed over a
 * non-empty one, so an existing checkpoint is first renamed to `<dir>.old`
 * and removed after; a crash between those two renames leaves `<dir>.old`,
 * which the readers fall back to.
 */
import { closeSync, cpSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const OPTIMIZER_JSON = 'optimizer.json';
export const OPTIMIZER_BIN = 'optimizer.bin';
export const STATE_JSON = 'state.json';

function writeFileDurable(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data == null) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/** The folder to read: `dir`, or `<dir>.old` when a crash interrupted a swap. */
export function resolveCheckpointDir(dir: string): string {
  if (existsSync(join(dir, MODEL_JSON))) return dir;
  const old = `${dir}.old`;
  if (existsSync(join(old, MODEL_JSON))) return old;
  return dir;
}

export function checkpointExists(dir: string): boolean {
  return existsSync(join(resolveCheckpointDir(dir), MODEL_JSON));
}

/** Writes model.json and weights.bin into `dir` (which must exist). */
function writeModelArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): void {
  if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology ?? {},
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
  writeFileDurable(join(dir, WEIGHTS_BIN), weightBytes(artifacts.weightData));
  writeFileDurable(join(dir, MODEL_JSON), JSON.stringify(modelJson));
}

function readModelArtifacts(dir: string): tf.io.ModelArtifacts {
  const src = resolveCheckpointDir(dir);
  const modelJson = JSON.parse(readFileSync(join(src, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of modelJson.weightsManifest ?? []) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const b = readFileSync(join(src, p));
      buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    }
  }
  return tf.io.getModelArtifactsForJSONSync(modelJson, specs, tf.io.CompositeArrayBuffer.join(buffers));
}

/** Begins an atomic write: an empty `<dir>.tmp`. */
function beginWrite(dir: string): string {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

/** Ends an atomic write: `<dir>.tmp` becomes `dir`. */
function commitWrite(dir: string, tmp: string): void {
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Removes a checkpoint folder and any leftovers of an interrupted write. */
export function removeCheckpoint(dir: string): void {
  for (const p of [dir, `${dir}.tmp`, `${dir}.old`]) rmSync(p, { recursive: true, force: true });
}

/**
 * An IOHandler over a folder: `model.save(fileSystemHandler(dir))` writes
 * model.json + weights.bin atomically; `tf.loadLayersModel(fileSystemHandler(dir))`
 * reads them.
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const tmp = beginWrite(dir);
      writeModelArtifacts(tmp, artifacts);
      commitWrite(dir, tmp);
      return { modelArtifactsInfo: modelArtifactsInfo(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return readModelArtifacts(dir);
    },
  };
}

function modelArtifactsInfo(artifacts: tf.io.ModelArtifacts): tf.io.ModelArtifactsInfo {
  return {
    dateSaved: new Date(),
    modelTopologyType: 'JSON',
    modelTopologyBytes: JSON.stringify(artifacts.modelTopology ?? {}).length,
    weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
    weightDataBytes: weightBytes(artifacts.weightData).byteLength,
  };
}

/** A save handler that only captures the artifacts (written by saveCheckpoint itself). */
function captureHandler(): { handler: tf.io.IOHandler; artifacts: () => tf.io.ModelArtifacts } {
  let captured: tf.io.ModelArtifacts | null = null;
  return {
    handler: {
      async save(a: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
        captured = a;
        return { modelArtifactsInfo: modelArtifactsInfo(a) };
      },
    },
    artifacts: () => {
      if (captured == null) throw new Error('model.save did not produce artifacts');
      return captured;
    },
  };
}

interface OptimizerJson {
  className: string;
  config: tf.serialization.ConfigDict;
  weights: tf.io.WeightsManifestEntry[];
}

export interface SaveCheckpointOptions {
  /** Also save the optimizer's state (needed to resume, not to predict or export). */
  optimizer?: tf.Optimizer;
  /** Fovea's bookkeeping, written as state.json. */
  state?: unknown;
}

/** Saves model (+ optimizer, + state) to `dir` atomically. */
export async function saveCheckpoint(dir: string, model: tf.LayersModel, opts: SaveCheckpointOptions = {}): Promise<void> {
  const capture = captureHandler();
  await model.save(capture.handler);
  const tmp = beginWrite(dir);
  try {
    writeModelArtifacts(tmp, capture.artifacts());
    if (opts.optimizer) {
      const named = await opts.optimizer.getWeights();
      const { data, specs } = await tf.io.encodeWeights(named);
      const cls = opts.optimizer.constructor as unknown as { className?: string };
      const json: OptimizerJson = { className: cls.className ?? opts.optimizer.getClassName(), config: opts.optimizer.getConfig(), weights: specs };
      writeFileDurable(join(tmp, OPTIMIZER_BIN), new Uint8Array(data));
      writeFileDurable(join(tmp, OPTIMIZER_JSON), JSON.stringify(json));
      // getWeights wraps the iteration count in a fresh scalar: free it.
      for (const w of named) if (w.name === 'iter') w.tensor.dispose();
    }
    if (opts.state !== undefined) writeFileDurable(join(tmp, STATE_JSON), JSON.stringify(opts.state, null, 1));
    commitWrite(dir, tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Copies a checkpoint folder to `dst` atomically, without the optimizer state unless asked. */
export function copyCheckpoint(src: string, dst: string, opts: { optimizer?: boolean } = {}): void {
  const from = resolveCheckpointDir(src);
  const tmp = `${dst}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(from, tmp, { recursive: true, filter: (p) => opts.optimizer === true || !/optimizer\.(json|bin)$/.test(p) });
  commitWrite(dst, tmp);
}

/** Loads the model of a checkpoint folder. */
export async function loadCheckpointModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystemHandler(dir));
}

/**
 * Restores the optimizer state saved with the checkpoint into `optimizer`
 * (same class and the same variables, in the same order). Returns false when
 * the checkpoint has no optimizer state.
 */
export async function loadOptimizerState(dir: string, optimizer: tf.Optimizer): Promise<boolean> {
  const src = resolveCheckpointDir(dir);
  if (!existsSync(join(src, OPTIMIZER_JSON))) return false;
  const json = JSON.parse(readFileSync(join(src, OPTIMIZER_JSON), 'utf8')) as OptimizerJson;
  const cls = optimizer.constructor as unknown as { className?: string };
  const name = cls.className ?? optimizer.getClassName();
  if (json.className !== name) throw new Error(`checkpoint optimizer is ${json.className}, not ${name}`);
  const b = readFileSync(join(src, OPTIMIZER_BIN));
  const tensors = tf.io.decodeWeights(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, json.weights);
  const named = json.weights.map((s) => ({ name: s.name, tensor: tensors[s.name] as tf.Tensor }));
  // Names repeat across checkpoints of one process (m/v per variable name), so
  // decodeWeights's map is keyed by name: check nothing was lost.
  if (Object.keys(tensors).length !== json.weights.length) throw new Error('optimizer weights have duplicate names');
  await optimizer.setWeights(named);
  // setWeights wraps each tensor in a new variable (sharing its data): drop ours.
  tf.dispose(Object.values(tensors));
  return true;
}

/** Reads state.json of a checkpoint folder, or null when it has none. */
export function readCheckpointState<T>(dir: string): T | null {
  const p = join(resolveCheckpointDir(dir), STATE_JSON);
  if (!existsSync(p)) return null;
  return JSON.parse(readFileSync(p, 'utf8')) as T;
}
