/**
 * `fovea evaluate --run ID [--dataset NAME] [--split train|val|test|all] [--json]`
 *   scores a run's best checkpoint on a split of its dataset (default: test),
 *   or on another dataset with the same classes (default there: all its
 *   labelled images), and stores the result with the run.
 * `fovea evaluate --dataset NAME --predictions FILE|FOLDER [--split S] [--coco-gt FILE] [--format csv|coco|masks] [--json]`
 *   scores another tool's predictions against the dataset's labels.
 * `fovea evaluate --model NAME --dataset NAME [--split S] [--map MODEL=DATASET]... [--json]`
 *   scores an imported model (or pack) on the dataset's labels, in image pixels (models.ts).
 *
 * --json prints one JSON object: the metrics (classification: task,
 * accuracy, macro, perClass, confusionMatrix, auc, ...; detection: mAP50,
 * mAP, perClass; segmentation: dice, iou, perClass) with a `source` block;
 * per-image results are left out (they are in the stored file named by
 * source.storedAt). Without --json: a compact table.
 */
import { ttaText } from '../../contract/evaluation';
import type { SplitName } from '../../contract/ml';
import { evaluatePredictions, type PredictionFormat, type PredictionsEvaluation } from '../../core/evaluation/evaluate-predictions';
import { evaluateRun, type EvaluationSplit, type RunEvaluation } from '../../core/evaluation/evaluate-run';
import type { ModelEvaluation } from '../../core/assist/model-predict';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';
import { runEvaluateModel } from './models';

export const evaluateHelp = [
  'fovea evaluate --run ID [--dataset NAME] [--split train|val|test|all] [--tta] [--json] | fovea evaluate --dataset NAME --predictions FILE|FOLDER [--split S] [--coco-gt FILE] [--json] | fovea evaluate --model NAME --dataset NAME [--split S] [--map MODEL=DATASET]... [--json]',
  '      --tta (classification runs): probabilities averaged over the image and its left-right flip (and up-down flip where the run trained with vertical flips);',
  "      scores in each image's own pixels (a run's boxes mapped back through the letterbox, its masks resampled to the image);",
  '      scored: every labelled image, and for detection every image marked labelled without boxes (detections there are false positives);',
  "      detection: COCO's 12-number summary (AP, AP50, AP75, AP/AR small/medium/large, AR@1/10/100) and Pascal VOC all-point AP@0.5",
].join('\n');
export const evaluateOptions = {
  run: { type: 'string' },
  model: { type: 'string' },
  map: { type: 'string', multiple: true },
  dataset: { type: 'string' },
  split: { type: 'string' },
  predictions: { type: 'string' },
  'coco-gt': { type: 'string' },
  format: { type: 'string' },
  tta: { type: 'boolean' },
} as const;

const SPLITS: readonly EvaluationSplit[] = ['train', 'val', 'test', 'all'];
const FORMATS: readonly PredictionFormat[] = ['csv', 'coco', 'masks'];

type Report = RunEvaluation | PredictionsEvaluation | ModelEvaluation;

function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return 'n/a';
  if (v === -1) return 'n/a';
  return v.toFixed(digits);
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(head), ...rows.map(line)];
}

/** The compact human summary of a report. */
export function formatEvaluation(report: Report): string {
  const s = report.source;
  const lines: string[] = [];
  const where = s.kind === 'run' ? `Run ${s.runId} on "${s.datasetName}"` : s.kind === 'model' ? `Model ${s.model} on "${s.datasetName}"` : `Predictions ${s.path} against "${s.datasetName}"`;
  const split = s.split === 'all' ? 'all labelled images' : `${s.split} split`;
  const space = s.coordinates === 'image' ? ', in image pixels' : ` from the model's ${s.kind === 'run' ? s.inputSize : ''} px input`;
  lines.push(`${where}, ${split}: ${report.n} image(s)${space}${s.labelledEmpty ? ` (${s.labelledEmpty} labelled without objects: negatives)` : ''}`);
  if (report.task !== 'classification' && s.imageRule) lines.push(s.imageRule);
  if (s.kind === 'run' && s.tta && s.tta.length > 1) lines.push(`${ttaText(s.tta)[0]?.toUpperCase()}${ttaText(s.tta).slice(1)}.`);
  if (report.task === 'classification') {
    lines.push(
      `accuracy ${fmt(report.accuracy)}   macro precision ${fmt(report.macro.precision)}  recall ${fmt(report.macro.recall)}  F1 ${fmt(report.macro.f1)}   macro AUC ${fmt(report.auc.macro)}${report.multiLabel ? '   (multi-label, threshold 0.5)' : ''}`,
    );
    lines.push(
      ...table(
        ['class', 'precision', 'recall', 'F1', 'support', 'AUC', 'AP'],
        Object.entries(report.perClass).map(([name, m]) => [name, fmt(m.precision), fmt(m.recall), fmt(m.f1), String(m.support), fmt(report.auc.perClass[name]), fmt(report.averagePrecision.perClass[name])]),
      ),
    );
    if (report.confusionMatrix) {
      lines.push('confusion matrix (rows: true class, columns: predicted):');
      const { labels, matrix } = report.confusionMatrix;
      lines.push(...table(['', ...labels], labels.map((l, i) => [l, ...(matrix[i] ?? []).map(String)])));
    }
  } else if (report.task === 'detection') {
    // Evaluations stored before the COCO summary and VOC AP existed have neither.
    const c = report.cocoSummary as typeof report.cocoSummary | undefined;
    lines.push(`mAP@0.5 ${fmt(report.mAP50)}   mAP@[.5:.95] ${fmt(report.mAP)}   mAR@100 ${fmt(report.mAR100)}   VOC AP@0.5 (all-point) ${fmt(report.vocAP50)}`);
    if (c) {
      lines.push(
        `COCO: AP ${fmt(c.AP)} AP50 ${fmt(c.AP50)} AP75 ${fmt(c.AP75)} APs ${fmt(c.APsmall)} APm ${fmt(c.APmedium)} APl ${fmt(c.APlarge)}   ` +
          `AR1 ${fmt(c.AR1)} AR10 ${fmt(c.AR10)} AR100 ${fmt(c.AR100)} ARs ${fmt(c.ARsmall)} ARm ${fmt(c.ARmedium)} ARl ${fmt(c.ARlarge)}`,
      );
    }
    lines.push(
      ...table(
        ['class', 'AP50', 'AP', 'AR100', 'VOC AP50', 'boxes', 'detections'],
        Object.entries(report.perClass).map(([name, m]) => [name, fmt(m.ap50), fmt(m.ap), fmt(m.ar100), fmt(m.vocAp50), String(m.groundTruth), String(m.detections)]),
      ),
    );
  } else {
    lines.push(`Dice ${fmt(report.dice)}   IoU ${fmt(report.iou)}   (foreground classes; per image: Dice ${fmt(report.meanImageDice)}, IoU ${fmt(report.meanImageIou)})`);
    lines.push(
      ...table(
        ['class', 'Dice', 'IoU'],
        Object.entries(report.perClass).map(([name, m]) => [name, fmt(m.dice), fmt(m.iou)]),
      ),
    );
    if (report.perSeries.length) lines.push(`${report.perSeries.length} series: Dice ${report.perSeries.map((x) => fmt(x.dice, 2)).join(' ')}`);
  }
  if (s.kind === 'predictions') {
    const missing = report.task === 'detection' ? 'without a detection (scored as misses)' : 'without a prediction (not scored)';
    lines.push(`matched ${s.matched} prediction entr${s.matched === 1 ? 'y' : 'ies'}; ${s.unmatchedCount} unmatched; ${s.missingPredictions} labelled image(s) ${missing}`);
  }
  if (s.kind === 'run' && s.storedAt) lines.push(`stored: ${s.storedAt}`);
  for (const w of s.warnings) lines.push(`note: ${w}`);
  return lines.join('\n');
}

/** The report for --json: everything but the per-image lists (those are in the stored file). */
export function jsonReport(report: Report): Record<string, unknown> {
  const { images: _images, ...rest } = report as Report & { images?: unknown };
  return rest;
}

function parseSplit(v: unknown): EvaluationSplit | undefined {
  if (v === undefined) return undefined;
  if (!(SPLITS as readonly unknown[]).includes(v)) throw new UsageError(`--split must be one of ${SPLITS.join(', ')}`);
  return v as EvaluationSplit;
}

export async function runEvaluate(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const runArg = values['run'] as string | undefined;
  const datasetName = values['dataset'] as string | undefined;
  const predictions = values['predictions'] as string | undefined;
  const split = parseSplit(values['split']);
  if (values['model'] !== undefined) {
    if (runArg !== undefined || predictions !== undefined) throw new UsageError('give one of --run, --predictions and --model');
    const report = await runEvaluateModel(ctx, values, split);
    if (!ctx.json && ctx.isTty) process.stderr.write('\n');
    if (ctx.json) ctx.jsonLine(jsonReport(report));
    else ctx.out(formatEvaluation(report));
    return EXIT_OK;
  }
  if (values['map'] !== undefined) throw new UsageError('--map goes with --model');
  if (values['tta'] === true && runArg === undefined) throw new UsageError('--tta goes with --run');
  if (runArg !== undefined && predictions !== undefined) throw new UsageError('give either --run ID or --predictions FILE, not both');
  if (runArg === undefined && predictions === undefined) throw new UsageError('--run ID or --dataset NAME --predictions FILE is required');
  const core = ctx.core();
  const dataset = datasetName === undefined ? undefined : core.datasets.findByName(datasetName);
  if (datasetName !== undefined && !dataset) throw new UsageError(`there is no dataset named "${datasetName}"`);

  let report: Report;
  if (runArg !== undefined) {
    const runId = Number(runArg);
    if (!Number.isInteger(runId) || runId < 1) throw new UsageError('--run takes a run id');
    if (values['coco-gt'] !== undefined || values['format'] !== undefined) throw new UsageError('--coco-gt and --format go with --predictions');
    report = await evaluateRun(core, runId, {
      ...(split ? { split } : {}),
      ...(values['tta'] === true ? { tta: true } : {}),
      ...(dataset ? { datasetId: dataset.id } : {}),
      onProgress: (done, total) => {
        if (!ctx.json && ctx.isTty) process.stderr.write(`\rpredicting batch ${done}/${total}`);
      },
    });
    if (!ctx.json && ctx.isTty) process.stderr.write('\n');
  } else {
    if (!dataset) throw new UsageError('--predictions needs --dataset NAME (the labels to score against)');
    if (split === 'all') throw new UsageError('--split all is the default with --predictions; give train, val or test to restrict');
    const format = values['format'] as string | undefined;
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
    report = await evaluatePredictions(core, dataset.id, predictions as string, {
      ...(format ? { format: format as PredictionFormat } : {}),
      ...(split ? { split: split as SplitName } : {}),
      ...(values['coco-gt'] !== undefined ? { cocoGroundTruth: values['coco-gt'] as string } : {}),
    });
  }
  if (ctx.json) ctx.jsonLine(jsonReport(report));
  else ctx.out(formatEvaluation(report));
  return EXIT_OK;
}
