/**
 * native-models/train/fused-adam.ts: the fused wasm Adam update against tfjs-core's Adam (on wasm
 * and on cpu) on a fixed seed: the same weights and moments after several steps to float
 * tolerance, the same optimizer weights (names, order: checkpoints), and resume through
 * getWeights/setWeights continues identically.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { adam } from '../../../native-models/train/fused-adam';

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

const SHAPES = [[3, 3, 4, 8], [8], [5, 7], [1]];
const STEPS = 7;

/** Runs STEPS Adam steps on fixed variables and gradients; returns the variables and optimizer weights. */
async function run(backend: 'cpu' | 'wasm', make: () => tf.Optimizer, resumeAt = -1): Promise<{ vars: Float32Array[]; weights: { name: string; values: Float32Array }[] }> {
  await tf.setBackend(backend);
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(values(s.reduce((a, b) => a * b, 1), 10 + i), s), true, `fa_${backend}_${i}_${Math.random()}`));
  let opt = make();
  for (let step = 0; step < STEPS; step++) {
    if (step === resumeAt) {
      const w = await opt.getWeights();
      const copy = w.map((x) => ({ name: x.name, tensor: x.tensor.clone() }));
      opt.dispose();
      opt = make();
      await opt.setWeights(copy);
    }
    const grads: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      // Gradients that change sign and scale from step to step (including exact zeros).
      grads[v.name] = tf.tidy(() => tf.mul(tf.tensor(values(v.size, 100 + 7 * step + i), v.shape), step % 3 === 2 ? 0 : 1 + step));
    });
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const weights = (await opt.getWeights()).map((w) => ({ name: w.name.replace(/^fa_\w+?_(\d+)_[\d.e-]+/, 'v$1'), values: w.tensor.dataSync() as Float32Array }));
  const out = vars.map((v) => v.dataSync() as Float32Array);
  opt.dispose();
  tf.dispose(vars);
  return { vars: out, weights };
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    s = Math.max(s, Math.abs(a[i] as number));
  }
  return d === 0 ? 0 : d / s;
}

describe('fused Adam (wasm)', () => {
  before(async () => {
    await initWasmBackend();
  });

  it('takes the fused path on wasm only', async () => {
    await tf.setBackend('wasm');
    assert.equal(adam(1e-3).fused(), true);
    await tf.setBackend('cpu');
    assert.equal(adam(1e-3).fused(), false);
  });

  it('matches tf.train.adam on wasm and on cpu (weights, moments, iterations), and resumes through getWeights/setWeights', async () => {
    const ref = await run('wasm', () => tf.train.adam(1e-2));
    const cpu = await run('cpu', () => tf.train.adam(1e-2));
    const fused = await run('wasm', () => adam(1e-2));
    const resumed = await run('wasm', () => adam(1e-2), 4);
    for (const [label, got] of [['fused', fused], ['fused resumed', resumed], ['cpu', cpu]] as const) {
      assert.deepEqual(got.weights.map((w) => w.name), ref.weights.map((w) => w.name), `${label}: optimizer weight names`);
      got.vars.forEach((v, i) => assert.ok(maxRel(ref.vars[i] as Float32Array, v) <= 1e-6, `${label}: variable ${i} ${maxRel(ref.vars[i] as Float32Array, v)}`));
      got.weights.forEach((w, i) => assert.ok(maxRel((ref.weights[i] as { values: Float32Array }).values, w.values) <= 1e-6, `${label}: ${w.name} ${maxRel((ref.weights[i] as { values: Float32Array }).values, w.values)}`));
    }
  });
});
