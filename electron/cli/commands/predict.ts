/**
 * `fovea predict --run ID [--dataset NAME] [--only-unlabeled] [--min-score S] [--uncertainty entropy|margin] [--json]`
 *   stores a run's predictions as proposed, model-sourced annotations (which
 *   the viewer shows for a person to accept, edit or reject) and an
 *   uncertainty score per item (the browser's 'uncertainty' sort, the
 *   active-learning queue). Running it again for the same run replaces that
 *   run's earlier proposals; human labels are never touched.
 *
 * A progress bar on a terminal; with --json, JSON lines: {"type":"progress",
 * "done":n,"total":n} then the report {"type":"done", runId, datasetId, task,
 * images, items, proposed, replaced, onlyUnlabeled, uncertaintyMethod,
 * failures, seconds}. Ctrl-C stops after the current batch (what was written
 * stays; run it again to complete). Exit 1 when some images could not be read.
 */
import { ttaText } from '../../contract/evaluation';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { interruptible } from '../interrupt';
import { ProgressBar } from '../progress-bar';
import { runPredict } from '../../core/predict/predict-service';
import { runPredictModel } from './models';
import { withItemNames } from '../../core/store/item-names';

export const predictHelp =
  'fovea predict --run ID [--dataset NAME] [--only-unlabeled] [--min-score 0.25] [--uncertainty entropy|margin] [--tta] [--json] | fovea predict --model NAME --dataset NAME [--map MODEL=DATASET]... [--only-unlabeled] [--min-score S] [--json]';
export const predictOptions = {
  run: { type: 'string' },
  model: { type: 'string' },
  map: { type: 'string', multiple: true },
  dataset: { type: 'string' },
  'only-unlabeled': { type: 'boolean', default: false },
  'min-score': { type: 'string' },
  uncertainty: { type: 'string' },
  /** Classification runs: probabilities averaged over the image and its flips (test-time augmentation). */
  tta: { type: 'boolean' },
} as const;

export async function runPredictCommand(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values['model'] !== undefined) {
    if (values['run'] !== undefined || values['uncertainty'] !== undefined || values['tta'] !== undefined) throw new UsageError('--model goes without --run, --uncertainty and --tta');
    return runPredictModel(ctx, values);
  }
  if (values['map'] !== undefined) throw new UsageError('--map goes with --model');
  const runId = Number(values['run']);
  if (values['run'] === undefined || !Number.isInteger(runId) || runId < 1) throw new UsageError('--run ID is required');
  const minScoreArg = values['min-score'] as string | undefined;
  const minScore = minScoreArg === undefined ? undefined : Number(minScoreArg);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 1)) throw new UsageError('--min-score must be a number from 0 to 1');
  const uncertainty = values['uncertainty'] as string | undefined;
  if (uncertainty !== undefined && uncertainty !== 'entropy' && uncertainty !== 'margin') throw new UsageError('--uncertainty must be entropy or margin');
  const core = ctx.core();
  const name = values['dataset'] as string | undefined;
  const dataset = name === undefined ? undefined : core.datasets.findByName(name);
  if (name !== undefined && !dataset) throw new UsageError(`there is no dataset named "${name}"`);

  const interrupt = interruptible(ctx, 'Stopping after the current batch');
  const bar = !ctx.json && ctx.isTty ? new ProgressBar() : null;
  let lastLine = 0;
  try {
    const report = await runPredict(core, runId, {
      ...(dataset ? { datasetId: dataset.id } : {}),
      onlyUnlabeled: values['only-unlabeled'] === true,
      ...(minScore !== undefined ? { minScore } : {}),
      ...(uncertainty ? { uncertainty } : {}),
      ...(values['tta'] === true ? { tta: true } : {}),
      signal: interrupt.signal,
      onProgress: (done, total) => {
        if (ctx.json) {
          const now = Date.now();
          if (now - lastLine < 500 && done < total) return;
          lastLine = now;
          ctx.jsonLine({ type: 'progress', done, total });
        } else bar?.update(total ? done / total : 1, `${done}/${total} images`);
      },
    });
    bar?.done();
    if (ctx.json) ctx.jsonLine({ type: 'done', ...report });
    else {
      ctx.out(
        `Run ${report.runId} predicted ${report.images} image(s) of ${report.items} item(s) in ${report.seconds.toFixed(1)} s: ` +
          `${report.proposed} proposed annotation(s), ${report.replaced} earlier proposal(s) replaced; uncertainty by ${report.uncertaintyMethod}${report.tta ? `; ${ttaText(report.tta)}` : ''}.`,
      );
      for (const f of withItemNames(core.db, report.failures.slice(0, 20))) ctx.out(`  could not read ${f.name} (item ${f.itemId}) frame ${f.frameIndex}: ${f.message}`);
      if (report.failures.length > 20) ctx.out(`  ... and ${report.failures.length - 20} more`);
    }
    return report.failures.length ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    bar?.done();
    interrupt.release();
  }
}
