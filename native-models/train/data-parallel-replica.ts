/**
 * A data-parallel replica (data-parallel.ts): the training worker's entry runs this when started
 * with workerData { mode: 'replica' }. It builds the leader's model from its topology on its own
 * wasm backend (ONNX Runtime convolutions on 1 thread: FOVEA_ORT_KERNEL_THREADS=1 in its
 * environment), then per step takes the leader's weights and its shard, and sends back the shard's
 * gradients, loss and statistics. Steps run one at a time, in arrival order (each is synchronous).
 */
import type { MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../backends/wasm-setup';
import { taskHooks } from '../models/index';
import { setShardDropoutSeeds, shardGradients, type FromReplica, type ReplicaWorkerData, type ToReplica } from './data-parallel';
import { isOutOfMemory } from './errors';

export async function runReplica(port: MessagePort, data: ReplicaWorkerData): Promise<void> {
  const post = (m: FromReplica, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  let model: tf.LayersModel;
  try {
    await initWasmBackend();
    model = await tf.models.modelFromJSON(data.topology as Parameters<typeof tf.models.modelFromJSON>[0]);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: 'error', step: null, message: `it could not build the model: ${err.message}`, outOfMemory: isOutOfMemory(err, 'wasm') });
    return;
  }
  const hooks = taskHooks(data.config);
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  post({ type: 'ready', shapes: model.weights.map((w) => [...w.read().shape]) });

  port.on('message', (m: ToReplica) => {
    if (m.type !== 'step') return;
    try {
      if (data.fault && data.fault.atStep === m.step) {
        if (data.fault.kind === 'exit') process.exit(3);
        throw new Error(`injected fault at step ${m.step}`);
      }
      if (m.weights.length !== model.weights.length) throw new Error(`the leader sent ${m.weights.length} weights for a model of ${model.weights.length}`);
      tf.tidy(() => model.weights.forEach((w, i) => w.write(tf.tensor(m.weights[i] as Float32Array, w.read().shape, 'float32'))));
      setShardDropoutSeeds(model, m.where);
      const batch = { x: m.x, n: m.n, targets: m.targets, itemIds: [], ...(m.inputSize !== undefined ? { inputSize: m.inputSize } : {}) };
      const r = shardGradients(model, hooks, varList, batch, data.config.inputSize, data.config.channels);
      post({ type: 'grads', step: m.step, grads: r.grads, loss: r.loss, stats: r.stats }, [...r.grads.map((g) => g.buffer as ArrayBuffer), ...(r.stats ? [r.stats.buffer as ArrayBuffer] : [])]);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      post({ type: 'error', step: m.step, message: err.message, outOfMemory: isOutOfMemory(err, 'wasm') });
    }
  });
}
