/**
 * The detection recipe (issue 13 item 4) on Penn-Fudan with a fixed short budget: 20 epochs at
 * 128 px, batch 4, no early stopping, seed 42, wasm, scored on the 24 held-out test images with the
 * best checkpoint and the run's stored decoding (test/helpers/learning.ts). Prints one JSON line:
 * training seconds, AP@0.5 class-agnostic and per class, the decoding chosen on validation (and
 * the test AP of the same checkpoint with the default decoding), and the validation AP of every epoch. Run it on two commits to compare recipes on the same seed:
 *
 *   npx tsx test/bench/detection-recipe.bench.ts [EPOCHS=20] [SIZE=128] [AUGMENT e.g. none or copy-paste=0.5] [LABELS=boxes|masks] [SEED=42]
 *
 * LABELS masks: Penn-Fudan's PedMasks as one mask per person (one class, "pedestrian") instead of
 * its PASCAL boxes of two classes: what copy-paste needs; compare copy-paste on and off with it.
 * AUGMENT `-` keeps the defaults.
 */
import { parseAugment } from '../../electron/cli/commands/runs';
import { buildLearningLibrary, evaluateDetection, trainLearning } from '../helpers/learning';

const epochs = Number(process.argv[2] ?? 20);
const size = Number(process.argv[3] ?? 128);
const augment = process.argv[4] && process.argv[4] !== '-' ? parseAugment(process.argv[4]) : undefined;
const labels = process.argv[5] === 'masks' ? 'masks' : 'boxes';
const seed = Number(process.argv[6] ?? 42);
const lib = await buildLearningLibrary('pennfudan', { pennfudanLabels: labels });
try {
  const run = await trainLearning(lib, { inputSize: size, epochs, batchSize: 4, earlyStoppingPatience: 0, seed, ...(augment ? { augment } : {}) });
  const ev = await evaluateDetection(lib, run);
  // The same checkpoint with the default decoding: what tuning on validation changed on the test split.
  const untuned = await evaluateDetection(lib, { ...run, config: { ...run.config, decoding: null } });
  const valAp = run.epochs.map((e) => Number((e.valMetrics['ap50'] ?? 0).toFixed(3)));
  console.log(JSON.stringify({ epochs, size, labels, seed, augment: run.config.augment, seconds: Math.round(run.seconds), bestEpoch: run.outcome.bestEpoch, agnosticAp50: ev.agnosticAp50, meanAp50: ev.ap50, perClass: ev.perClass, detections: ev.detections, decoding: run.config.decoding ?? null, defaultDecodingAgnosticAp50: untuned.agnosticAp50, defaultDecodingMeanAp50: untuned.ap50, valAp }));
} finally {
  lib.cleanup();
}
