/**
 * Every core by default, `--threads N` (FOVEA_THREADS) otherwise; a run is reproducible for a
 * given seed and thread count (native-models/backends/threads.ts says why).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ortKernelThreads } from '../../../native-models/backends/ort-conv';
import { cpuThreads } from '../../../native-models/backends/threads';
import { createMlEngine } from '../../../native-models/engine';
import { squares, SyntheticProvider, testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-threads-'));
const engine = createMlEngine({ workerless: true });
after(() => {
  engine.dispose();
  rmSync(root, { recursive: true, force: true });
  delete process.env['FOVEA_THREADS'];
});

test('default: every core; FOVEA_THREADS (set by --threads) overrides it, invalid values are ignored', () => {
  assert.equal(cpuThreads({}), availableParallelism());
  assert.equal(cpuThreads({ FOVEA_THREADS: '1' }), 1);
  assert.equal(cpuThreads({ FOVEA_THREADS: '0' }), availableParallelism());
  assert.equal(cpuThreads({ FOVEA_THREADS: 'x' }), availableParallelism());
});

let runs = 0;
async function lossesWith(threads: number): Promise<number[]> {
  process.env['FOVEA_THREADS'] = String(threads);
  assert.equal(ortKernelThreads(), threads);
  const config = testConfig('classification', { epochs: 1, batchSize: 8 });
  const losses: number[] = [];
  const o = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 4, valBatches: 1 }), { checkpointDir: join(root, `r${++runs}`), onBatch: (p) => losses.push(p.loss) });
  assert.equal(o.status, 'done', JSON.stringify(o));
  return losses;
}

test('the same seed and thread count give the same run, bit for bit; 1 and 2 threads agree closely', async () => {
  const two = await lossesWith(2);
  assert.deepEqual(await lossesWith(2), two, '2 threads, twice');
  const one = await lossesWith(1);
  assert.deepEqual(await lossesWith(1), one, '1 thread, twice');
  one.forEach((l, i) => assert.ok(Math.abs(l - (two[i] as number)) <= 1e-4 * Math.max(1, Math.abs(l)), `batch ${i}: ${l} (1 thread) vs ${two[i]} (2 threads)`));
});
