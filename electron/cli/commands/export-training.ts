/**
 * `fovea export-training --dataset NAME --task classify|detect|segment --target pytorch --out DIR
 *  [--split-from-run RUN] [--deidentify] [--json]`: the dataset's labelled images, labels, split,
 * classes, training plan, train.py and README in a new folder DIR, for training on a cluster
 * (core/export/training-export.ts). Exit 0 when everything was exported, 1 when images were held
 * back, 2 for bad usage.
 */
import { resolve } from 'node:path';
import { TRAINING_EXPORT_TARGETS, type TrainingExportTarget } from '../../contract/export-formats';
import { exportTraining, MONAI_NOT_OFFERED, TRAINING_EXPORT_TASKS } from '../../core/export/training-export';
import { withItemNames } from '../../core/store/item-names';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { interruptible } from '../interrupt';

export const exportTrainingHelp = [
  'fovea export-training --dataset NAME --task classify|detect|segment --target pytorch --out DIR [--split-from-run RUN] [--deidentify] [--json]   images, labels, split and a train.py for PyTorch (torchrun)',
  `  (multi-label datasets train with sigmoid outputs; ${MONAI_NOT_OFFERED})`,
].join('\n');
export const exportTrainingOptions = {
  dataset: { type: 'string' },
  task: { type: 'string' },
  target: { type: 'string' },
  out: { type: 'string' },
  'split-from-run': { type: 'string' },
  deidentify: { type: 'boolean', default: false },
} as const;

export async function runExportTraining(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const name = values['dataset'] as string | undefined;
  if (!name) throw new UsageError('--dataset NAME is required');
  const task = values['task'] as string | undefined;
  if (!task || !Object.hasOwn(TRAINING_EXPORT_TASKS, task)) throw new UsageError(`--task must be one of ${Object.keys(TRAINING_EXPORT_TASKS).join(', ')}`);
  const target = (values['target'] as string | undefined) ?? 'pytorch';
  if (!(TRAINING_EXPORT_TARGETS as readonly string[]).includes(target)) throw new UsageError(`--target must be one of ${TRAINING_EXPORT_TARGETS.join(', ')}. ${MONAI_NOT_OFFERED}`);
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (a new folder to write into)');
  const runArg = values['split-from-run'] as string | undefined;
  const runId = runArg === undefined ? undefined : Number(runArg);
  if (runId !== undefined && (!Number.isInteger(runId) || runId < 1)) throw new UsageError('--split-from-run takes a run id (see `fovea runs`)');
  const core = ctx.core();
  const dataset = core.datasets.findByName(name);
  if (!dataset) throw new UsageError(`there is no dataset named "${name}" (see \`fovea datasets\`)`);

  const stop = interruptible(ctx, 'Stopping the export');
  try {
    const report = await exportTraining(
      core.trainingExportDeps(),
      {
        datasetId: dataset.id,
        task: TRAINING_EXPORT_TASKS[task as keyof typeof TRAINING_EXPORT_TASKS],
        target: target as TrainingExportTarget,
        outDir: resolve(out),
        ...(runId !== undefined ? { splitFromRun: runId } : {}),
        deidentify: values['deidentify'] === true,
      },
      stop.signal,
    );
    if (ctx.json) ctx.jsonLine(report);
    else {
      ctx.out(`Exported ${report.images.train + report.images.val + report.images.test} ${report.task} image(s) of "${name}" for ${target} to ${report.root}`);
      ctx.out(`  split: train ${report.images.train}, val ${report.images.val}, test ${report.images.test}${report.patients ? ` (patients ${report.patients.train}/${report.patients.val}/${report.patients.test})` : ''}`);
      ctx.out(`  classes: ${report.classes.join(', ')}; input ${report.plan.inputSize} px, ${report.plan.channels} channel(s), ${report.plan.normalization.kind} normalisation, ${report.plan.epochs} epochs`);
      for (const w of report.warnings) ctx.out(`  warning: ${w}`);
      for (const h of withItemNames(core.db, report.heldBack)) ctx.out(`  held back: ${h.name} (item ${h.itemId}): ${h.reason}`);
      ctx.out(`  ${report.files.length} files, ${report.bytes} bytes; manifest ${report.manifest}`);
      ctx.out(`Train with: cd ${report.root} && python train.py   (or torchrun --nproc_per_node G train.py)`);
    }
    return report.heldBack.length > 0 ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    stop.release();
  }
}
