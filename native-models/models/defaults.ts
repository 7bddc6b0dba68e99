/**
 * Default training settings: a person who only picks a dataset and a task
 * should get a good model without touching anything. Why these values:
 *
 * - Classification 64 px, batch 32, 15 epochs, Adam 1e-3. 64 px keeps most
 *   of what small medical and road crops carry (MedMNIST-style sets are 28-64
 *   px) while the CNN trains at ~160 images/s on one CPU core (wasm); 15
 *   epochs with early stopping (patience 5) is enough for a from-scratch
 *   CNN with batch norm to converge on a few thousand images.
 * - Detection 256 px, batch 8, 30 epochs. Objects must stay several pixels
 *   wide on the stride-4 heatmap (64x64 at 256 px); CenterNet-style heads
 *   converge slower than a classifier, hence more epochs; batch 8 bounds
 *   memory at that size.
 * - Segmentation 128 px, batch 8, 30 epochs: the U-Net's cost grows with
 *   pixels; 128 px keeps organ/lesion outlines while a CPU epoch over a few
 *   hundred slices stays in minutes.
 * - Adam 1e-3 everywhere: robust from scratch with batch norm.
 * - Augmentation on: horizontal flips, small rotations (10 degrees) and
 *   scale/intensity jitter (10%), which hold for most medical and road
 *   images; vertical flips off (anatomy and roads have an up); no rotation
 *   for detection (it would loosen the axis-aligned boxes).
 * - Detection augments harder (CenterNet trains with scale 0.6-1.4 and shifts): scale ±30% with
 *   shifts of up to 15% of the input (random crops that keep their boxes, clipped; a box less than
 *   40% visible becomes a region to ignore), brightness/contrast ±20% and saturation ±30%.
 *   Measured on Penn-Fudan (128 px, batch 4, seed 42, 24 held-out images, class-agnostic AP@0.5,
 *   default decoding; test/bench/detection-recipe.bench.ts): 40 epochs 0.638 with these vs 0.600
 *   with the former scale ±20% / intensity ±20% (mean over the 2 classes 0.355 vs 0.309); 20
 *   epochs 0.452 vs 0.465 (the harder task is learnt later; validation AP still rose at epoch 20).
 *   Multi-scale training (augment.multiScale, `--augment multi-scale=0.25`) is off by default:
 *   on Penn-Fudan, 20 epochs at 128 px, seed 42, it lowered held-out AP@0.5 from 0.474 to 0.385
 *   (test/bench/detection-recipe.bench.ts); a short run learns the one scale it is scored at faster.
 *   Copy-paste (augment.copyPaste, `--copy-paste P`) is on for detection at p 0.25: objects with an
 *   instance mask or polygon are pasted; a dataset of boxes only trains without it (a warning says
 *   so). Penn-Fudan labelled with its PedMasks (one class, one mask per person), 128 px, batch 4,
 *   wasm, 24 held-out images, class-agnostic AP@0.5 (`npx tsx test/bench/detection-recipe.bench.ts
 *   EPOCHS 128 copy-paste=P masks SEED`, on and off interleaved on a shared 2-core machine, load
 *   6-17), per seed 42 / 7 / 13 [/ 1 / 2 / 3]:
 *     40 epochs: off 0.720 / 0.577 / 0.488 / 0.556 / 0.560 / 0.620 (mean 0.587);
 *                p 0.25 0.670 / 0.619 / 0.641 / 0.576 / 0.607 / 0.705 (mean 0.636, 5 of 6 seeds higher);
 *                p 0.5 0.669 / 0.517 / 0.537 (mean 0.574 vs 0.595 off on those 3 seeds).
 *     20 epochs: off 0.532 / 0.388 / 0.415 (mean 0.445); p 0.25 0.441 / 0.489 / 0.457 (mean 0.462);
 *                p 0.5 0.648 / 0.490 / 0.384 (mean 0.507).
 *   The seeds spread about as much as copy-paste moves AP; p 0.25 is the one setting that raised the
 *   mean at both lengths. Not measured at the default 256 px / 30 epochs. Pasting onto the
 *   letterbox padding too (before objects were kept inside the image) lowered it: 20 epochs, p 0.5,
 *   0.501 / 0.254 / 0.361 (mean 0.372).
 * - Early stopping on the validation loss: patience 5 epochs, 10 for detection (the CenterNet
 *   heatmap loss plateaus for several epochs while box quality still improves; with 5 the
 *   Penn-Fudan learning run stopped while its AP was still rising).
 * - Normalisation: greyscale (DICOM or grey images) per-image (zero mean,
 *   unit variance: robust to unknown windows and scanners); colour to [0, 1].
 * - backend 'auto' (the fastest that preflight found), seed 42.
 * - Classification regularisation off (labelSmoothing, mixup, cutmix absent = 0). On
 *   PneumoniaMNIST's test split (`npm run bench -- clsrecipe --seeds 2`, 6 epochs at 32 px, mean
 *   of 2 seeds) accuracy at 0.5 rose (baseline 0.874; label smoothing 0.1: 0.889; mixup 0.2:
 *   0.907; CutMix 1: 0.884) but macro AUC did not (0.964; 0.959; 0.960; 0.951): the models rank
 *   no better, their threshold moved. Not a gain to make a default of; a choice per run.
 *   Except under a time budget of 3 minutes or more (the recipe plan, BUDGET_MIXUP and the
 *   schedule decision in electron/core/training/recipe-plan.ts), where early stopping after 5 still
 *   epochs used 48-84 s of a 15-minute budget: there mixup 0.2 and a patience of 15. PneumoniaMNIST,
 *   planned 32 px, 15-minute budget, 468 test images, interleaved seed by seed (`npm run bench --
 *   targets --sets pneumonia --seeds 1 --first-seed S`, with and without `--override
 *   '{"mixup":0,"earlyStoppingPatience":5}'`): seeds 1/2/3 accuracy 0.897/0.891/0.887 (35-63 epochs,
 *   152-278 s) against 0.897/0.883/0.848 (14-22 epochs): never lower, median 0.891 vs 0.883.
 *   Patience 15 still ended those runs at 152-278 s of 900, so since session 10 the plan trains a
 *   classifier to the end of the budget with the rate along a cosine (no early stopping; the best
 *   checkpoint kept): seeds 1/2/3 0.910/0.885/0.919 (median 0.910; 85-163 epochs, macro AUC
 *   0.973-0.978), against 0.897/0.891/0.887 with patience 15 at a constant rate (seed 1 measured
 *   again in session 10: 0.897, AUC 0.967). The cosine runs ran at idle priority beside the other
 *   targets, so with fewer epochs than alone (test/scratch exploration, the same evaluation as the bench).
 * - Planned runs (the recipe plan, electron/core/training/recipe-plan.ts) of colour photographs,
 *   segmentation and detection, build the network on the frozen ImageNet MobileNetV2 encoder
 *   (imagenet-encoder.ts): only the decoder or the detector's top-down path and heads train, and a
 *   step costs less (no gradient through the encoder), so more epochs fit a budget. Measured with
 *   `npm run bench -- targets --minutes 15 --seeds 1 --sets S` (seed 1, the planned recipe with
 *   early stopping off, wasm on this 2-core machine, held-out images; one seed each, so the size of
 *   each gain is uncertain):
 *     CamVid mean Dice over 11 classes: 0.583 on the encoder (constant rate, 10 epochs) against 0.357
 *       from scratch in session 8 (constant rate, 10 epochs);
 *     Penn-Fudan AP@0.5: 0.762 on the encoder (104 epochs) against 0.409 from scratch (99 epochs),
 *       both with the cosine rate below, run alone one after the other;
 *     DRIVE vessel Dice in the field of view: 0.794 on the encoder (cosine rate, 57 epochs) against
 *       0.756 from scratch in session 7 (constant rate, 17 epochs).
 *   Over 3 seeds on the encoder with the plan's constant rate (session 10, seeds 1-3, an idle-priority
 *   job beside most runs, so epochs a little fewer than alone): DRIVE 0.802 / 0.804 / 0.798 (47-51
 *   epochs); CamVid 0.583 (session 9) / 0.604 (13 epochs) / 0.578 (15 epochs, alone); Penn-Fudan 0.851 / 0.649 /
 *   0.555 (74-120 epochs): the seeds spread far more than the schedule's effect, median 0.649.
 *   Session 11, alone, with the best epoch chosen by validation AP@0.5 (trainer.ts, monitorFor):
 *   Penn-Fudan 0.851 / 0.732 / 0.685 (105-112 epochs), median 0.732; the same runs' loss-best
 *   epochs 0.721 / 0.705 / 0.555.
 *   Greyscale and DICOM images train from scratch (the encoder learned from photographs; not
 *   measured on them). `--encoder none` or the Training screen's choice overrides the plan.
 * - The learning rate is constant by default; `--lr-schedule cosine` lowers it along a half cosine
 *   over the time budget (or the epochs). On CamVid on the encoder, seed 1, 15 minutes, one after the
 *   other: 0.533 with the cosine against 0.583 constant, 10 epochs each (with ~10 epochs in a CPU
 *   budget the cosine lowers the rate before the model has learnt); Penn-Fudan from scratch: 0.409
 *   with the cosine (99 epochs) against 0.456 constant in session 8 (83 epochs, stopped early).
 */
import type { AugmentConfig, TaskKind, TrainConfig } from '../../electron/contract/ml';

const AUGMENT: AugmentConfig = { flipHorizontal: true, flipVertical: false, rotateDegrees: 10, scale: 0.1, intensity: 0.1 };

export const DEFAULT_SEED = 42;

export function defaultTrainConfig(task: TaskKind, classNames: string[], channels: 1 | 3): TrainConfig {
  const common = {
    task,
    channels,
    classNames: [...classNames],
    multiLabel: false,
    learningRate: 1e-3,
    seed: DEFAULT_SEED,
    backend: 'auto' as const,
    earlyStoppingPatience: 5,
    classWeights: null,
    normalization: channels === 1 ? ({ kind: 'per-image' } as const) : ({ kind: 'unit' } as const),
  };
  switch (task) {
    case 'classification':
      return { ...common, inputSize: 64, batchSize: 32, epochs: 15, augment: { ...AUGMENT } };
    case 'detection':
      return { ...common, inputSize: 256, batchSize: 8, epochs: 30, earlyStoppingPatience: 10, augment: { ...AUGMENT, rotateDegrees: 0, scale: 0.3, intensity: 0.2, translate: 0.15, saturation: 0.3, minBoxVisibility: 0.4, copyPaste: 0.25 } };
    case 'segmentation':
      return { ...common, inputSize: 128, batchSize: 8, epochs: 30, augment: { ...AUGMENT } };
  }
}
