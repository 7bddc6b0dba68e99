/**
 * `npm run bench -- clsrecipe [--epochs N] [--seeds N]`: does label smoothing, mixup, CutMix or
 * test-time augmentation raise held-out scores? PneumoniaMNIST (../shared/testdata, its own
 * train/val/test split, 28x28 grey) imported into a temporary library like a user's; one run per
 * variant and seed through the core's training service (32 px, the plan's choice for 28 px images;
 * batch 32; the task's default augmentation; wasm), each scored on the test split by
 * evaluateRun with and without TTA. Prints accuracy and macro AUC per variant (mean over seeds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClassificationReport } from '../../electron/contract/evaluation';
import { evaluateRun } from '../../electron/core/evaluation/evaluate-run';
import type { TrainRequest } from '../../electron/core/training/training-service';
import { tempCore } from '../helpers/temp-library';
import { writePneumoniaMnist } from '../helpers/pneumoniamnist';
import { report } from './bench-util';

const VARIANTS: { name: string; request: Partial<TrainRequest> }[] = [
  { name: 'baseline', request: {} },
  { name: 'label smoothing 0.1', request: { labelSmoothing: 0.1 } },
  { name: 'mixup 0.2', request: { mixup: 0.2 } },
  { name: 'cutmix 1', request: { cutmix: 1 } },
];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

export async function runClassificationRecipeBench(): Promise<void> {
  const epochs = option('epochs', 6);
  const seeds = option('seeds', 1);
  const dir = mkdtempSync(join(tmpdir(), 'fovea-clsrecipe-bench-'));
  const { core, cleanup } = tempCore();
  try {
    const files = await writePneumoniaMnist(dir);
    const ds = core.datasets.create('PneumoniaMNIST', '');
    await core.importFiles({ datasetId: ds.id, paths: [files.imagesDir] });
    await core.importLabels(ds.id, files.labelsCsv, 'csv', 'bench');
    const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ?').all(ds.id) as { id: number; source_name: string }[];
    for (const s of ['train', 'val', 'test'] as const) core.splits.setSplit(ds.id, items.filter((i) => files.split.get(i.source_name) === s).map((i) => i.id), s);
    process.stdout.write(`PneumoniaMNIST: ${files.counts.train} train, ${files.counts.val} val, ${files.counts.test} test; ${epochs} epochs, ${seeds} seed(s)\n`);

    for (const v of VARIANTS) {
      const sums = { acc: 0, auc: 0, accTta: 0, aucTta: 0, seconds: 0 };
      for (let seed = 1; seed <= seeds; seed++) {
        const t0 = performance.now();
        const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs, inputSize: 32, batchSize: 32, backend: 'wasm', seed, earlyStoppingPatience: 0, ...v.request });
        sums.seconds += (performance.now() - t0) / 1000;
        if (outcome.status === 'failed') throw new Error(`${v.name}: ${outcome.error?.message}`);
        const plain = (await evaluateRun(core, runId, { split: 'test', store: false })) as ClassificationReport;
        const tta = (await evaluateRun(core, runId, { split: 'test', store: false, tta: true })) as ClassificationReport;
        sums.acc += plain.accuracy;
        sums.auc += plain.auc.macro ?? NaN;
        sums.accTta += tta.accuracy;
        sums.aucTta += tta.auc.macro ?? NaN;
      }
      const note = `PneumoniaMNIST test (${files.counts.test}), ${epochs} epochs, 32 px, mean of ${seeds} seed(s), ${(sums.seconds / seeds).toFixed(0)} s per run`;
      report({ bench: 'clsrecipe', metric: `${v.name}: accuracy`, value: sums.acc / seeds, unit: '', note });
      report({ bench: 'clsrecipe', metric: `${v.name}: accuracy with TTA`, value: sums.accTta / seeds, unit: '' });
      report({ bench: 'clsrecipe', metric: `${v.name}: macro AUC`, value: sums.auc / seeds, unit: '' });
      report({ bench: 'clsrecipe', metric: `${v.name}: macro AUC with TTA`, value: sums.aucTta / seeds, unit: '' });
    }
  } finally {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
