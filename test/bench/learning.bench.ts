/**
 * Full-size learning runs on real data, scored on images held out from
 * training (the test split, best checkpoint): the Penn-Fudan detector
 * (AP@0.5), the DRIVE and CamVid U-Nets (Dice and IoU). Set-up, splits and
 * metrics: test/helpers/learning.ts; the short CI versions:
 * test/integration/learning.test.ts.
 *
 *   npx tsx test/bench/learning.bench.ts [pennfudan|drive|camvid ...]   (or runLearningBench() from run.ts)
 *
 * Settings: the task defaults (native-models/models/defaults.ts: Adam 1e-3,
 * augmentation, early stopping patience 5 on the validation loss) with the
 * sizes, batches and epochs below, wasm backend, seed 42. Measured: about
 * 12-13 minutes in all on one CPU core while another process used the other.
 */
import { fileURLToPath } from 'node:url';
import type { TrainOverrides } from '../../electron/core/training/training-service';
import {
  buildLearningLibrary,
  evaluateDetection,
  evaluateSegmentation,
  trainLearning,
  valLossLine,
  type LearningSetName,
  type TrainedRun,
} from '../helpers/learning';
import { report } from './bench-util';

const SEED = 42;

const CASES: { name: LearningSetName; label: string; overrides: TrainOverrides }[] = [
  // The detector on 83 training images: batch 4 (21 steps an epoch), a fixed
  // budget of epochs with no early stopping (the validation loss of 12 images
  // is noisy; the best checkpoint is still the lowest validation loss).
  // 128 px, and the default 256 px (measured: it learns slower per epoch).
  { name: 'pennfudan', label: 'pennfudan@128', overrides: { inputSize: 128, epochs: 60, batchSize: 4, earlyStoppingPatience: 0 } },
  { name: 'pennfudan', label: 'pennfudan@256', overrides: { inputSize: 256, epochs: 40, batchSize: 4, earlyStoppingPatience: 0 } },
  // 12 training images: up to 60 epochs; 192 px keeps the larger vessels a few pixels wide.
  { name: 'drive', label: 'drive@192', overrides: { inputSize: 192, epochs: 60, batchSize: 2 } },
  // The segmentation defaults (128 px, batch 8, 30 epochs).
  { name: 'camvid', label: 'camvid@128', overrides: { inputSize: 128, epochs: 30, batchSize: 8, unlabeledPixels: 'ignore' } },
];

function settings(run: TrainedRun): string {
  return `${run.config.inputSize} px, batch ${run.config.batchSize}, ${run.epochs.length}/${run.config.epochs} epochs (best ${run.outcome.bestEpoch}), seed ${run.config.seed}`;
}

export async function runLearningBench(only: readonly LearningSetName[] = []): Promise<void> {
  const t0 = performance.now();
  for (const c of CASES) {
    if (only.length && !only.includes(c.name)) continue;
    const lib = await buildLearningLibrary(c.name);
    try {
      const run = await trainLearning(lib, { ...c.overrides, seed: SEED });
      const note = settings(run);
      report({ bench: 'learning', metric: `${c.label} training time`, value: run.seconds, unit: 's', note: `${note}; val loss ${valLossLine(run)}` });
      if (lib.task === 'detection') {
        const ev = await evaluateDetection(lib, run);
        const held = `${ev.images} held-out images, ${ev.boxes} boxes`;
        report({ bench: 'learning', metric: `${c.label} AP@0.5 pedestrian (class-agnostic)`, value: ev.agnosticAp50, unit: '', note: held });
        for (const [name, ap] of Object.entries(ev.perClass)) {
          if (ap !== null) report({ bench: 'learning', metric: `${c.label} AP@0.5 ${name}`, value: ap, unit: '' });
        }
        report({ bench: 'learning', metric: `${c.label} mAP@0.5 over ${Object.keys(ev.perClass).length} classes`, value: ev.ap50, unit: '' });
      } else {
        const ev = await evaluateSegmentation(lib, run);
        const held = `${ev.images} held-out images, ${ev.pixels} px ${ev.region}; one class everywhere: Dice ${ev.constantDice.toFixed(3)}`;
        const only1 = ev.perClass.length === 1 ? ev.perClass[0] : undefined;
        if (only1) {
          report({ bench: 'learning', metric: `${c.label} Dice ${only1.name}`, value: only1.dice ?? 0, unit: '', note: held });
          report({ bench: 'learning', metric: `${c.label} IoU ${only1.name}`, value: only1.iou ?? 0, unit: '' });
        } else {
          report({ bench: 'learning', metric: `${c.label} mean Dice (${ev.perClass.length} classes)`, value: ev.meanDice, unit: '', note: held });
          report({ bench: 'learning', metric: `${c.label} mean IoU`, value: ev.meanIou, unit: '' });
          for (const k of ev.perClass) {
            if (k.dice !== null && k.iou !== null) report({ bench: 'learning', metric: `${c.label} Dice ${k.name}`, value: k.dice, unit: '', note: `IoU ${k.iou.toFixed(3)}, ${k.truePixels} px` });
          }
        }
      }
    } finally {
      lib.cleanup();
    }
  }
  report({ bench: 'learning', metric: 'total (import, training, evaluation)', value: (performance.now() - t0) / 1000, unit: 's' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runLearningBench(process.argv.slice(2).filter((a): a is LearningSetName => a === 'pennfudan' || a === 'drive' || a === 'camvid'));
}
