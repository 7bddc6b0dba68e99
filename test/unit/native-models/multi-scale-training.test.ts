/**
 * Detection multi-scale training in the trainer: training batches of several sides (each with its
 * own `inputSize`) train the one fully convolutional detector, validation runs at the config's
 * size, and the model still finds the synthetic squares. A side on a non-detection run is refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Batch } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { boxes, makeBatch, rng, squares, SyntheticProvider, testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-multiscale-'));
const engine = createMlEngine({ workerless: true });
before(async () => {
  await initWasmBackend();
});
after(() => {
  try {
    engine.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const SIDES = [32, 48, 64];

/** Training batch i at side SIDES[i % 3]; validation at the config's size. */
class MultiScaleProvider extends SyntheticProvider {
  sides: number[] = [];
  override async batch(split: 'train' | 'val', epoch: number, index: number): Promise<Batch> {
    if (split === 'val') return super.batch(split, epoch, index);
    const side = SIDES[index % SIDES.length] as number;
    this.sides.push(side);
    const r = rng(epoch * 1009 + index);
    const b = makeBatch('detection', Array.from({ length: this.config.batchSize }, () => boxes(r, side, 1)), side, 1, 1);
    return side === this.config.inputSize ? b : { ...b, inputSize: side };
  }
}

test('training batches of 32, 48 and 64 px train one detector that finds squares at 48 px', async () => {
  const config = testConfig('detection', { epochs: 8, batchSize: 8, inputSize: 48 });
  const provider = new MultiScaleProvider(config, boxes, { trainBatches: 9, valBatches: 2 });
  const outcome = await engine.train(config, provider, { checkpointDir: join(root, 'det') });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.deepEqual(new Set(provider.sides), new Set(SIDES));
  assert.ok((outcome.bestValMetrics?.['ap50'] ?? 0) > 0.5, JSON.stringify(outcome.bestValMetrics));
});

test('a batch with its own side on a classification run is refused with a clear message', async () => {
  const config = testConfig('classification', { epochs: 1 });
  class Odd extends SyntheticProvider {
    override async batch(split: 'train' | 'val', epoch: number, index: number): Promise<Batch> {
      const b = await super.batch(split, epoch, index);
      return split === 'train' ? { ...b, inputSize: 48 } : b;
    }
  }
  const outcome = await engine.train(config, new Odd(config, squares, { trainBatches: 2, valBatches: 1 }), { checkpointDir: join(root, 'cls') });
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.error?.message ?? '', /only detection trains at other sides/);
});
