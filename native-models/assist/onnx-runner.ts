/**
 * Runs an imported single-file ONNX model (a model pack or `fovea import-model`) on ONNX Runtime's
 * CPU provider and decodes its outputs (decoders.ts). Sessions come from verified bytes
 * (verified-file.ts); the last few stay open.
 *
 * A model exported by Fovea (decoder 'fovea') is decoded by the very hooks that decode Fovea's
 * runs (native-models/models taskHooks on TF.js's cpu backend: softmax/sigmoid probabilities,
 * argmax maps, CenterNet peak decoding), so a run exported and imported again predicts what the
 * run predicts.
 */
import type * as OrtTypes from 'onnxruntime-node';
import type { DecodeOptions, ModelOutput, OnnxModelRef } from '../../electron/contract/assist-engine';
import type { Prediction } from '../../electron/contract/ml';
import { decodeOutputs, type RawOutput } from './decoders';
import { requireOrt, verifiedSession } from './ort-session';

type Session = OrtTypes.InferenceSession;

const MAX_OPEN = 2;

function foveaOutputs(preds: Prediction[], model: OnnxModelRef): ModelOutput[] {
  const S = model.fovea?.inputSize ?? model.inputWidth;
  return preds.map((p) => (p.task === 'segmentation' ? { task: 'segmentation', width: S, height: S, classes: p.classes, confidence: p.confidence } : p));
}

async function decodeFovea(model: OnnxModelRef, outs: RawOutput[], n: number): Promise<ModelOutput[]> {
  const f = model.fovea;
  if (!f) throw new Error(`model ${model.id} uses Fovea's decoding but has no Fovea model card`);
  const [tf, models, defaults] = await Promise.all([import('@tensorflow/tfjs'), import('../models/index'), import('../models/defaults')]);
  await tf.ready();
  const config = { ...defaults.defaultTrainConfig(f.task, f.classNames, f.channels), inputSize: f.inputSize, multiLabel: f.multiLabel };
  const hooks = models.taskHooks(config);
  const tensors = outs.map((o) => tf.tensor(o.data, o.dims, 'float32'));
  try {
    return foveaOutputs(await hooks.decode(tensors, n), model);
  } finally {
    tf.dispose(tensors);
  }
}

export class OnnxRunner {
  readonly #threads: number;
  /** Open sessions by model id and file hash, least recently used first. */
  readonly #open = new Map<string, Session>();

  constructor(threads: number) {
    this.#threads = threads;
  }

  async #session(model: OnnxModelRef): Promise<Session> {
    const key = `${model.id}:${model.file.sha256}`;
    const hit = this.#open.get(key);
    if (hit) {
      this.#open.delete(key);
      this.#open.set(key, hit);
      return hit;
    }
    const ort = await requireOrt();
    const s = await verifiedSession(ort, model.file, this.#threads);
    this.#open.set(key, s);
    for (const [k, old] of this.#open) {
      if (this.#open.size <= MAX_OPEN) break;
      this.#open.delete(k);
      void old.release().catch(() => undefined);
    }
    return s;
  }

  async run(model: OnnxModelRef, x: Float32Array, n: number, options: DecodeOptions = {}): Promise<ModelOutput[]> {
    const ort = await requireOrt();
    const session = await this.#session(model);
    const C = model.channels;
    const dims = model.layout === 'NCHW' ? [n, C, model.inputHeight, model.inputWidth] : [n, model.inputHeight, model.inputWidth, C];
    const want = n * C * model.inputHeight * model.inputWidth;
    if (x.length !== want) throw new Error(`${n} image(s) for a ${dims.slice(1).join('x')} input are ${want} values, not ${x.length}`);
    const result = await session.run({ [model.inputName]: new ort.Tensor('float32', x, dims) });
    const outs: RawOutput[] = session.outputNames.map((name) => {
      const t = result[name];
      if (!t || t.type !== 'float32') throw new Error(`the model returned no float32 output "${name}"`);
      return { name, dims: t.dims.map(Number), data: t.data as Float32Array };
    });
    if (model.decoder === 'fovea') return decodeFovea(model, outs, n);
    return decodeOutputs({ decoder: model.decoder, layout: model.layout, inputWidth: model.inputWidth, inputHeight: model.inputHeight, numClasses: model.numClasses }, outs, n, options);
  }

  async dispose(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(all.map((s) => s.release().catch(() => undefined)));
  }
}
