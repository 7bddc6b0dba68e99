/**
 * Issue 13's learning targets, measured as the issue states them: each set trained with the recipe
 * Fovea plans from its data under a time budget (default 15 minutes; the plan fits input or patch
 * size, batch and epochs to it), for several seeds, on the wasm backend with every core, and scored
 * by Fovea's own evaluation of the best checkpoint (evaluateRun: each image at its own size, sliding
 * windows for patch models) on images held out from training.
 *
 *   npm run bench -- targets [--minutes 15] [--seeds 3] [--first-seed 1] [--sets drive,camvid,pennfudan,pneumonia]
 *                            [--override '{"mixup":0,"earlyStoppingPatience":5}']
 *
 * --override puts training fields on top of the plan, as the Training screen's fields do (to compare
 * a plan decision with what it replaced, seed by seed).
 *
 * - DRIVE: vessel Dice inside the field of view (the field-of-view masks imported as DontCare), the
 *   5 test images pooled (target >= 0.75);
 * - CamVid: mean Dice over its 11 classes, void ignored, on the 26 images of the test data's val folder, held out (>= 0.55);
 * - Penn-Fudan: AP@0.5 of one class, pedestrian (its PedMasks as instances), on 24 held-out images (>= 0.70);
 * - PneumoniaMNIST: accuracy on its test split as test/helpers/pneumoniamnist.ts writes it (>= 0.90).
 * Splits: test/helpers/learning.ts (the first three) and PneumoniaMNIST's own. Each figure is
 * printed per seed, then the median and the range, with the plan's size, batch, epochs and time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClassificationReport, DetectionReport, EvaluationReport, SegmentationReport } from '../../electron/contract/evaluation';
import type { TaskKind } from '../../electron/contract/ml';
import type { Core } from '../../electron/core/composition-root';
import { evaluateRun } from '../../electron/core/evaluation/evaluate-run';
import { buildLearningLibrary, CAMVID_CLASSES } from '../helpers/learning';
import { writePneumoniaMnist } from '../helpers/pneumoniamnist';
import { tempCore } from '../helpers/temp-library';
import { report } from './bench-util';

type SetName = 'drive' | 'camvid' | 'pennfudan' | 'pneumonia';
const ALL: SetName[] = ['drive', 'camvid', 'pennfudan', 'pneumonia'];

interface Library {
  core: Core;
  datasetId: number;
  task: TaskKind;
  cleanup(): void;
}

const GOALS: Record<SetName, { metric: string; goal: number; score(r: EvaluationReport): number }> = {
  drive: { metric: 'vessel Dice inside the field of view', goal: 0.75, score: (r) => (r as SegmentationReport).perClass['vessel']?.dice ?? NaN },
  camvid: {
    metric: 'mean Dice over the 11 classes',
    goal: 0.55,
    score: (r) => {
      const per = (r as SegmentationReport).perClass;
      const dice = CAMVID_CLASSES.slice(0, 11).map((c) => per[c]?.dice ?? 0);
      return dice.reduce((a, b) => a + b, 0) / dice.length;
    },
  },
  pennfudan: { metric: 'AP@0.5 (pedestrian)', goal: 0.7, score: (r) => (r as DetectionReport).mAP50 },
  pneumonia: { metric: 'test accuracy', goal: 0.9, score: (r) => (r as ClassificationReport).accuracy },
};

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function pneumoniaLibrary(): Promise<Library> {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-targets-pneumonia-'));
  const { core, cleanup } = tempCore();
  try {
    const files = await writePneumoniaMnist(dir);
    const ds = core.datasets.create('PneumoniaMNIST', '');
    await core.importFiles({ datasetId: ds.id, paths: [files.imagesDir] });
    await core.importLabels(ds.id, files.labelsCsv, 'csv', 'bench');
    const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ?').all(ds.id) as { id: number; source_name: string }[];
    for (const s of ['train', 'val', 'test'] as const) core.splits.setSplit(ds.id, items.filter((i) => files.split.get(i.source_name) === s).map((i) => i.id), s);
    return {
      core,
      datasetId: ds.id,
      task: 'classification',
      cleanup: () => {
        cleanup();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function library(name: SetName): Promise<Library> {
  if (name === 'pneumonia') return pneumoniaLibrary();
  // Penn-Fudan with its masks (one class, pedestrian): what a user with PedMasks has, and what copy-paste cuts out.
  return buildLearningLibrary(name, { fovAsDontCare: true, pennfudanLabels: 'masks' });
}

export async function runLearningTargetsBench(): Promise<void> {
  const minutes = Number(option('minutes') ?? 15);
  const seeds = Number(option('seeds') ?? 3);
  const firstSeed = Number(option('first-seed') ?? 1);
  const override = JSON.parse(option('override') ?? '{}') as Record<string, unknown>;
  const sets = (option('sets')?.split(',') ?? ALL) as SetName[];
  if (!(minutes > 0) || !Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(firstSeed) || sets.some((s) => !ALL.includes(s))) {
    throw new Error(`usage: npm run bench -- targets [--minutes M] [--seeds N] [--first-seed K] [--sets ${ALL.join(',')}] [--override JSON]`);
  }
  for (const name of sets) {
    const lib = await library(name);
    const goal = GOALS[name];
    const scores: number[] = [];
    try {
      for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
        const t0 = performance.now();
        const { runId, outcome } = await lib.core.training.train(lib.datasetId, lib.task, { backend: 'wasm', seed, timeBudgetSeconds: Math.round(minutes * 60), recipe: 'planned', ...override });
        const seconds = (performance.now() - t0) / 1000;
        if (outcome.status !== 'done' && outcome.status !== 'stopped-early') throw new Error(`${name} seed ${seed}: run ${runId} ended ${outcome.status}: ${outcome.error?.message ?? ''}`);
        const config = lib.core.runs.get(runId).config;
        const evaluation = await evaluateRun(lib.core, runId, { split: 'test', store: false });
        const score = goal.score(evaluation);
        scores.push(score);
        const input = config.patch ? `${config.inputSize} px patches at native resolution` : `${config.inputSize} px`;
        report({
          bench: 'targets',
          metric: `${name} seed ${seed}: ${goal.metric}`,
          value: score,
          unit: '',
          note: `${Object.keys(override).length ? `override ${JSON.stringify(override)}, ` : ''}${input}, batch ${config.batchSize}, ${config.encoder ? `encoder ${config.encoder}, ` : ''}lr ${config.lrSchedule ?? 'constant'}, mixup ${config.mixup ?? 0}, patience ${config.earlyStoppingPatience}, ${outcome.epochsCompleted} epochs (best ${outcome.bestEpoch}), ${seconds.toFixed(0)} s of a ${minutes}-minute budget, ${evaluation.n} held-out images`,
        });
      }
    } finally {
      lib.cleanup();
    }
    const sorted = [...scores].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] as number;
    report({
      bench: 'targets',
      metric: `${name}: ${goal.metric}, median of ${seeds}`,
      value: median,
      unit: '',
      goal: `>= ${goal.goal}`,
      note: `range ${(sorted[0] as number).toFixed(3)}-${(sorted.at(-1) as number).toFixed(3)}; ${median >= goal.goal ? 'met' : 'NOT met'}`,
    });
  }
}
