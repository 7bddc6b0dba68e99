/**
 * Run by webgpu.test.ts in a child process whose environment points Dawn at SwiftShader: training
 * on the webgpu backend in the training worker (the path the app and the CLI take), checkpoints
 * moving between webgpu and wasm both ways, predictions on webgpu, and a GPU fault stopping a run
 * with its last checkpoint intact. SwiftShader is a CPU: sizes are the smallest each model takes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TaskKind } from '../../../../electron/contract/ml';
import { createMlEngine } from '../../../../native-models/engine';
import { readCheckpointState } from '../../../../native-models/train/checkpoint-io';
import type { CheckpointState } from '../../../../native-models/train/trainer';
import { boxes, discs, makeBatch, rng, squares, SyntheticProvider, testConfig, type Generator } from '../synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-webgpu-'));
let dirs = 0;
const newDir = (): string => join(root, `run${++dirs}`);
const engine = createMlEngine();
const local = createMlEngine({ workerless: true });

before(() => {
  assert.ok(process.env['VK_ICD_FILENAMES'], 'run through webgpu.test.ts (it sets SwiftShader for this process only)');
});
after(() => {
  engine.dispose();
  local.dispose();
  rmSync(root, { recursive: true, force: true });
});

const TASKS: { task: TaskKind; gen: Generator; size: number }[] = [
  { task: 'classification', gen: squares, size: 16 },
  { task: 'segmentation', gen: discs, size: 16 },
  { task: 'detection', gen: boxes, size: 32 },
];

test('preflight: SwiftShader is listed as a software webgpu adapter, and auto does not pick it', async () => {
  const pf = await engine.preflight();
  const w = pf.backends.find((b) => b.name === 'webgpu');
  assert.equal(w?.available, true, w?.reason);
  assert.equal(w?.adapter?.software, true);
  assert.match(w?.reason ?? '', /swiftshader/i);
  assert.notEqual(pf.chosen, 'webgpu');
  assert.match(pf.why, /webgpu is unavailable \(software adapter only\)/);
});

for (const { task, gen, size } of TASKS) {
  test(`${task}: one epoch on webgpu in the training worker, with the software-adapter warning; predictions on webgpu`, async () => {
    const config = testConfig(task, { backend: 'webgpu', epochs: 1, batchSize: 4, inputSize: size });
    const checkpointDir = newDir();
    const losses: number[] = [];
    const outcome = await engine.train(config, new SyntheticProvider(config, gen, { trainBatches: 2, valBatches: 1 }), { checkpointDir, onBatch: (p) => losses.push(p.loss) });
    assert.equal(outcome.status, 'done', JSON.stringify(outcome));
    assert.equal(outcome.backend, 'webgpu');
    assert.match(outcome.warning ?? '', /SOFTWARE adapter/);
    assert.equal(losses.length, 2);
    assert.ok(losses.every((l) => Number.isFinite(l) && l > 0), JSON.stringify(losses));
    assert.equal(readCheckpointState<CheckpointState>(join(checkpointDir, 'epoch-1'))?.backend, 'webgpu');
    const samples = Array.from({ length: 2 }, (_, i) => gen(rng(300 + i), size, 1));
    const preds = await engine.predict(join(checkpointDir, 'best'), config, makeBatch(task, samples, size, 1, config.classNames.length));
    assert.equal(preds.length, 2);
    assert.equal(engine.inferenceEngine(join(checkpointDir, 'best'))?.engine, 'tfjs', 'the GPU backend runs its own predictions');
    for (const p of preds) assert.equal(p.task, task);
  });
}

for (const [first, second] of [
  ['webgpu', 'wasm'],
  ['wasm', 'webgpu'],
] as const) {
  test(`a checkpoint trained on ${first} resumes on ${second}: epoch 2 continues from epoch 1's weights and optimizer`, async () => {
    const base = testConfig('classification', { epochs: 2, batchSize: 4, inputSize: 16 });
    const checkpointDir = newDir();
    const provider = (c: typeof base) => new SyntheticProvider(c, squares, { trainBatches: 3, valBatches: 1 });
    const c1 = { ...base, backend: first, epochs: 1 };
    const o1 = await engine.train(c1, provider(c1), { checkpointDir });
    assert.equal(o1.status, 'done', JSON.stringify(o1));
    assert.equal(o1.backend, first);
    const c2 = { ...base, backend: second };
    const epochs: number[] = [];
    const o2 = await engine.train(c2, provider(c2), { checkpointDir, resumeAfterEpoch: 1, onEpoch: (r) => epochs.push(r.epoch) });
    assert.equal(o2.status, 'done', JSON.stringify(o2));
    assert.equal(o2.backend, second);
    assert.deepEqual(epochs, [2]);
    const state = readCheckpointState<CheckpointState>(join(checkpointDir, 'epoch-2'));
    assert.equal(state?.backend, second);
    assert.deepEqual(state?.run.history.map((h) => h.epoch), [1, 2], 'the run history carries over');
    assert.ok(existsSync(join(checkpointDir, 'epoch-2', 'optimizer.bin')));
  });
}

test('a GPU fault during epoch 2 stops the run with a clear message and leaves epoch 1 intact for --resume (never continues on the CPU)', async () => {
  const { injectWebGpuFault } = await import('../../../../native-models/backends/webgpu-setup');
  const config = testConfig('classification', { backend: 'webgpu', epochs: 3, batchSize: 4, inputSize: 16 });
  const checkpointDir = newDir();
  const provider = new SyntheticProvider(config, squares, {
    trainBatches: 2,
    valBatches: 1,
    // Dawn reports a lost device as an event, not as the failing op's exception: raise it as Dawn would.
    onRequest: (split, epoch, index) => {
      if (split === 'train' && epoch === 2 && index === 1) injectWebGpuFault('The GPU device was lost (driver reset, GPU removed or hung): test.');
    },
  });
  const outcome = await local.train(config, provider, { checkpointDir });
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.backend, 'webgpu');
  assert.equal(outcome.error?.code, 'BACKEND_UNAVAILABLE');
  assert.match(outcome.error?.message ?? '', /GPU device was lost.*checkpoint of epoch 1 is intact.*--resume/s);
  assert.equal(outcome.epochsCompleted, 1);
  assert.equal(existsSync(join(checkpointDir, 'epoch-2')), false, 'nothing of the faulted epoch is saved');
  assert.equal(readCheckpointState<CheckpointState>(join(checkpointDir, 'epoch-1'))?.epoch, 1);
  const resumed = await local.train({ ...config, backend: 'wasm' }, new SyntheticProvider(config, squares, { trainBatches: 2, valBatches: 1 }), { checkpointDir, resumeAfterEpoch: 1 });
  assert.equal(resumed.status, 'done', JSON.stringify(resumed));
  assert.equal(resumed.epochsCompleted, 3);
});
