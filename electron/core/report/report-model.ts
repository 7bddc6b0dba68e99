/**
 * The evaluation report as plain data: headline metrics, tables and charts
 * (svg-charts.ts drawings), built from a run's stored evaluation
 * (core/evaluation evaluate-run.ts) and a few facts about the run. The HTML
 * and PDF renderers only lay this model out, so both carry the same numbers.
 *
 * Privacy: reports leave the workstation, so a report NEVER names a patient.
 * An image is named by its series description and instance number ("Axial
 * CT 2.5mm · Im 12", frame added for multi-frame images; report-export.ts
 * reads them from the store), else by its library item id (and frame); never
 * a source file name or path, a patient name or ID, a study or series UID;
 * series and patients in grouped tables by their library ids ("series 12",
 * "patient 3"). The run is named by its name and number ("baseline #4"). Per-image failure messages of the evaluation are left out (they may
 * quote a file path); only their count and item ids are kept. The library
 * and checkpoint paths of the evaluation are left out too.
 *
 * Numbers are formatted with three decimals (`fmt`), as `fovea evaluate`
 * prints them; "n/a" where a metric is undefined (null, or -1 for COCO
 * metrics without ground truth).
 */
import type { ClassificationReport, DetectionReport, EvaluationReport, SegmentationReport } from '../../contract/evaluation';
import { ttaText } from '../../contract/evaluation';
import { binaryScores, runLabel, thresholdMetrics } from '../../contract/runs';
import { barChart, confusionMatrixChart, curveChart, type Drawing } from './svg-charts';

export interface ReportTable {
  title: string;
  columns: string[];
  /** Cells as shown; numeric columns are right-aligned. */
  rows: string[][];
  numeric: boolean[];
  note?: string;
}

export type ReportBlock = { kind: 'table'; table: ReportTable } | { kind: 'chart'; drawing: Drawing; caption?: string } | { kind: 'text'; text: string };

export interface ReportSection {
  title: string;
  blocks: ReportBlock[];
}

export interface ReportMetric {
  label: string;
  /** Formatted. */
  value: string;
  raw: number | null;
}

export interface ReportModel {
  title: string;
  subtitle: string;
  task: EvaluationReport['task'];
  generatedAt: string;
  /** Run and evaluation facts (label, value). */
  facts: [string, string][];
  metrics: ReportMetric[];
  sections: ReportSection[];
  /** Things a reader should know (evaluation warnings, left-out images). */
  notes: string[];
}

/** What the report shows about the run besides its evaluation (all optional). */
export interface RunFacts {
  /** The run's name, when it has one. */
  name?: string | null;
  /**
   * Images named without patient data: item id -> series description and instance number (see
   * the file header); an item not in it is named by its id.
   */
  itemNames?: ReadonlyMap<number, string>;
  status?: string;
  backend?: string | null;
  epochs?: number;
  epochsCompleted?: number;
  bestEpoch?: number | null;
  batchSize?: number;
  channels?: number;
  createdAt?: string;
  /** Per-epoch losses for the training-curve chart. */
  epochCurve?: { epoch: number; trainLoss: number; valLoss: number }[];
  /** The dataset-aware plan's decisions with their reasons (planned runs only). */
  plan?: { label: string; reason: string }[];
  /** Where a warm-started run began: "started from run 4 (12 layers loaded, head new)". */
  warmStart?: string;
}

/** A metric value with three decimals; "n/a" for null, undefined, NaN and COCO's -1. */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v) || v === -1) return 'n/a';
  return v.toFixed(digits);
}

function raw(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) || v === -1 ? null : v;
}

/** Names images without patient data (RunFacts.itemNames); an item not in `names` by its id. */
type ItemRef = (itemId: number | undefined, frameIndex: number | undefined, index: number) => string;

function itemRefs(names: ReadonlyMap<number, string>): ItemRef {
  return (itemId, frameIndex, index) => {
    if (itemId === undefined) return `image #${index + 1}`;
    const name = names.get(itemId) ?? `item ${itemId}`;
    return frameIndex ? `${name}, frame ${frameIndex}` : name;
  };
}

/** Binary classification: the counts and rates at the default threshold 0.5 (contract thresholdMetrics). */
function operatingPointSection(r: ClassificationReport): ReportSection | null {
  const names = r.source.classNames;
  const data = binaryScores(r.images, names.length, r.multiLabel);
  if (!data || !data.scores.length) return null;
  const m = thresholdMetrics(data.positive, data.scores, 0.5);
  const positive = names[1] ?? 'positive';
  return {
    title: 'Operating point',
    blocks: [
      table(
        `At the default threshold 0.5 ("${positive}" when its probability is at least 0.5)`,
        ['Threshold', 'Sensitivity', 'Specificity', 'Precision', 'F1', 'TP', 'FP', 'FN', 'TN'],
        [[fmt(m.threshold, 2), fmt(m.sensitivity), fmt(m.specificity), fmt(m.precision), fmt(m.f1), String(m.tp), String(m.fp), String(m.fn), String(m.tn)]],
        [true, true, true, true, true, true, true, true, true],
        `Positive class: ${positive}; ${m.positives} positive and ${m.negatives} negative image(s).`,
      ),
    ],
  };
}

/** Single-label classification scored per series and per patient, when the evaluation has them. */
function groupedSections(r: ClassificationReport): ReportSection[] {
  const out: ReportSection[] = [];
  for (const g of [r.perSeries, r.perPatient]) {
    if (!g || !g.groups) continue;
    const what = g.by === 'series' ? 'series' : 'patient';
    const names = Object.keys(g.perClass);
    const notes = [
      `Each ${what}'s probabilities are the mean of its images'; its truth is their most frequent true class.`,
      g.mixedTruth ? `${g.mixedTruth} ${what === 'series' ? 'series' : 'patient(s)'} with more than one true class.` : '',
      g.ungrouped ? `${g.ungrouped} image(s) in no ${what} left out.` : '',
      what === 'patient' ? 'Patients are named by their library id, never by name or Patient ID.' : '',
    ].filter(Boolean);
    out.push({
      title: g.by === 'series' ? 'Per series' : 'Per patient',
      blocks: [
        table(
          `Scored per ${what}: ${g.groups} ${what === 'series' ? 'series' : 'patient(s)'}`,
          ['Accuracy', 'Macro precision', 'Macro recall', 'Macro F1', 'Macro ROC AUC', 'Macro AP'],
          [[fmt(g.accuracy), fmt(g.macro.precision), fmt(g.macro.recall), fmt(g.macro.f1), fmt(g.auc.macro), fmt(g.averagePrecision.macro)]],
          [true, true, true, true, true, true],
          notes.join(' '),
        ),
        table(
          `Per-class metrics per ${what}`,
          ['Class', 'Precision', 'Recall', 'F1', 'Support'],
          names.map((n) => {
            const c = g.perClass[n] as { precision: number; recall: number; f1: number; support: number };
            return [n, fmt(c.precision), fmt(c.recall), fmt(c.f1), String(c.support)];
          }),
          [false, true, true, true, true],
        ),
      ],
    });
  }
  return out;
}

const MAX_CURVE_CLASSES = 10;
const WORST = 10;

function table(title: string, columns: string[], rows: string[][], numeric: boolean[], note?: string): ReportBlock {
  return { kind: 'table', table: { title, columns, rows, numeric, ...(note ? { note } : {}) } };
}

function classificationSections(r: ClassificationReport, itemRef: ItemRef): { metrics: ReportMetric[]; sections: ReportSection[]; notes: string[] } {
  const names = Object.keys(r.perClass);
  const metrics: ReportMetric[] = [
    { label: r.multiLabel ? 'Subset accuracy' : 'Accuracy', value: fmt(r.accuracy), raw: raw(r.accuracy) },
    { label: 'Macro precision', value: fmt(r.macro.precision), raw: raw(r.macro.precision) },
    { label: 'Macro recall', value: fmt(r.macro.recall), raw: raw(r.macro.recall) },
    { label: 'Macro F1', value: fmt(r.macro.f1), raw: raw(r.macro.f1) },
    { label: 'Macro ROC AUC', value: fmt(r.auc.macro), raw: raw(r.auc.macro) },
    { label: 'Macro average precision', value: fmt(r.averagePrecision.macro), raw: raw(r.averagePrecision.macro) },
  ];
  const sections: ReportSection[] = [];
  const notes: string[] = [];
  const op = operatingPointSection(r);
  if (op) sections.push(op);
  sections.push(...groupedSections(r));
  sections.push({
    title: 'Per class',
    blocks: [
      table(
        'Per-class metrics',
        ['Class', 'Precision', 'Recall', 'F1', 'Support', 'ROC AUC', 'AP'],
        names.map((n) => {
          const m = r.perClass[n] as { precision: number; recall: number; f1: number; support: number };
          return [n, fmt(m.precision), fmt(m.recall), fmt(m.f1), String(m.support), fmt(r.auc.perClass[n]), fmt(r.averagePrecision.perClass[n])];
        }),
        [false, true, true, true, true, true, true],
        r.multiLabel ? 'Multi-label: a class is predicted when its probability is at least 0.5.' : 'Support: images whose true class it is.',
      ),
      {
        kind: 'chart',
        drawing: barChart({
          title: 'Precision, recall and F1 per class',
          categories: names,
          groups: [
            { name: 'Precision', values: names.map((n) => raw(r.perClass[n]?.precision)) },
            { name: 'Recall', values: names.map((n) => raw(r.perClass[n]?.recall)) },
            { name: 'F1', values: names.map((n) => raw(r.perClass[n]?.f1)) },
          ],
          yLabel: 'score',
        }),
      },
    ],
  });
  if (r.confusionMatrix) {
    const { labels, matrix } = r.confusionMatrix;
    sections.push({
      title: 'Confusion matrix',
      blocks: [
        { kind: 'chart', drawing: confusionMatrixChart(labels, matrix) },
        table(
          'Confusion matrix (rows: true class, columns: predicted class)',
          ['True \\ predicted', ...labels],
          labels.map((l, i) => [l, ...(matrix[i] ?? []).map(String)]),
          [false, ...labels.map(() => true)],
        ),
      ],
    });
  } else if (r.multilabelConfusion) {
    sections.push({
      title: 'Confusion per class',
      blocks: [
        table(
          'One-vs-rest counts per class (threshold 0.5)',
          ['Class', 'TN', 'FP', 'FN', 'TP'],
          Object.entries(r.multilabelConfusion).map(([n, [[tn, fp], [fn, tp]]]) => [n, String(tn), String(fp), String(fn), String(tp)]),
          [false, true, true, true, true],
        ),
      ],
    });
  }
  const curveNames = names.filter((n) => r.curves.roc[n] || r.curves.pr[n]);
  const shown = curveNames.slice(0, MAX_CURVE_CLASSES);
  const curveBlocks: ReportBlock[] = [];
  const rocSeries = shown.flatMap((n) => {
    const c = r.curves.roc[n];
    return c ? [{ name: `${n} (AUC ${fmt(r.auc.perClass[n])})`, points: c.fpr.map((x, i) => [x, c.tpr[i] as number] as [number, number]) }] : [];
  });
  if (rocSeries.length) {
    curveBlocks.push({ kind: 'chart', drawing: curveChart({ title: 'ROC curves (one class vs the rest)', xLabel: 'False positive rate', yLabel: 'True positive rate', series: rocSeries, diagonal: true }) });
  }
  const prSeries = shown.flatMap((n) => {
    const c = r.curves.pr[n];
    return c ? [{ name: `${n} (AP ${fmt(r.averagePrecision.perClass[n])})`, points: c.recall.map((x, i) => [x, c.precision[i] as number] as [number, number]) }] : [];
  });
  if (prSeries.length) {
    curveBlocks.push({ kind: 'chart', drawing: curveChart({ title: 'Precision-recall curves (one class vs the rest)', xLabel: 'Recall', yLabel: 'Precision', series: prSeries }) });
  }
  if (curveNames.length > shown.length) curveBlocks.push({ kind: 'text', text: `Curves of the first ${shown.length} of ${curveNames.length} classes; every class's AUC and AP are in the per-class table.` });
  const undefinedCurves = names.filter((n) => !r.curves.roc[n]);
  if (undefinedCurves.length) curveBlocks.push({ kind: 'text', text: `No ROC curve for ${undefinedCurves.join(', ')}: the evaluated images hold only one of positive and negative examples of it.` });
  if (curveBlocks.length) sections.push({ title: 'ROC and precision-recall curves', blocks: curveBlocks });

  // The most confident mistakes: where a reviewer should look first.
  const mistakes = r.images
    .map((img, index) => ({ img, index }))
    .filter(({ img }) => img.truth.slice().sort().join(',') !== img.predicted.slice().sort().join(','))
    .map(({ img, index }) => ({ img, index, confidence: Math.max(0, ...img.predicted.map((k) => img.probabilities[k] ?? 0)) }))
    .sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  const className = (k: number) => r.source.classNames[k] ?? String(k);
  sections.push({
    title: 'Misclassified images',
    blocks: mistakes.length
      ? [
          table(
            `The ${Math.min(WORST, mistakes.length)} most confident of ${mistakes.length} misclassified image(s)`,
            ['Image', 'True', 'Predicted', 'Probability'],
            mistakes.slice(0, WORST).map(({ img, index, confidence }) => [
              itemRef(img.itemId, img.frameIndex, index),
              img.truth.map(className).join(', ') || '(none)',
              img.predicted.map(className).join(', ') || '(none)',
              fmt(confidence),
            ]),
            [false, false, false, true],
            'Images are named by their library item id.',
          ),
        ]
      : [{ kind: 'text', text: 'Every evaluated image was classified correctly.' }],
  });
  return { metrics, sections, notes };
}

function detectionSections(r: DetectionReport, itemRef: ItemRef): { metrics: ReportMetric[]; sections: ReportSection[]; notes: string[] } {
  const names = Object.keys(r.perClass);
  const metrics: ReportMetric[] = [
    { label: 'mAP@0.5', value: fmt(r.mAP50), raw: raw(r.mAP50) },
    { label: 'mAP@0.75', value: fmt(r.mAP75), raw: raw(r.mAP75) },
    { label: 'mAP@[.5:.95]', value: fmt(r.mAP), raw: raw(r.mAP) },
    { label: 'mAR@1', value: fmt(r.mAR1), raw: raw(r.mAR1) },
    { label: 'mAR@10', value: fmt(r.mAR10), raw: raw(r.mAR10) },
    { label: 'mAR@100', value: fmt(r.mAR100), raw: raw(r.mAR100) },
  ];
  const sections: ReportSection[] = [
    {
      title: 'Average precision per class',
      blocks: [
        table(
          'Per-class detection metrics (COCO definitions)',
          ['Class', 'AP@0.5', 'AP@0.75', 'AP@[.5:.95]', 'AR@100', 'Boxes', 'Detections'],
          names.map((n) => {
            const m = r.perClass[n] as DetectionReport['perClass'][string];
            return [n, fmt(m.ap50), fmt(m.ap75), fmt(m.ap), fmt(m.ar100), String(m.groundTruth), String(m.detections)];
          }),
          [false, true, true, true, true, true, true],
          'n/a: the class has no ground-truth box in the evaluated images.',
        ),
        {
          kind: 'chart',
          drawing: barChart({
            title: 'Average precision per class',
            categories: names,
            groups: [
              { name: 'AP@0.5', values: names.map((n) => raw(r.perClass[n]?.ap50)) },
              { name: 'AP@[.5:.95]', values: names.map((n) => raw(r.perClass[n]?.ap)) },
            ],
            yLabel: 'average precision',
          }),
        },
      ],
    },
  ];
  const worst = r.images
    .map((img) => ({ img, errors: img.falsePositives + img.falseNegatives }))
    .filter((x) => x.errors > 0)
    .sort((a, b) => b.errors - a.errors || a.img.index - b.img.index);
  sections.push({
    title: 'Images with the most errors',
    blocks: worst.length
      ? [
          table(
            `The ${Math.min(WORST, worst.length)} of ${worst.length} image(s) with missed boxes or false detections (IoU 0.5)`,
            ['Image', 'True positives', 'False positives', 'Missed boxes'],
            worst.slice(0, WORST).map(({ img }) => [itemRef(img.itemId, img.frameIndex, img.index), String(img.truePositives), String(img.falsePositives), String(img.falseNegatives)]),
            [false, true, true, true],
            'Images are named by their library item id.',
          ),
        ]
      : [{ kind: 'text', text: 'No image has a missed box or a false detection at IoU 0.5.' }],
  });
  return { metrics, sections, notes: [] };
}

function segmentationSections(r: SegmentationReport, itemRef: ItemRef): { metrics: ReportMetric[]; sections: ReportSection[]; notes: string[] } {
  const names = Object.keys(r.perClass);
  const metrics: ReportMetric[] = [
    { label: 'Dice (foreground mean)', value: fmt(r.dice), raw: raw(r.dice) },
    { label: 'IoU (foreground mean)', value: fmt(r.iou), raw: raw(r.iou) },
    { label: 'Mean per-image Dice', value: fmt(r.meanImageDice), raw: raw(r.meanImageDice) },
    { label: 'Mean per-image IoU', value: fmt(r.meanImageIou), raw: raw(r.meanImageIou) },
  ];
  const sections: ReportSection[] = [
    {
      title: 'Dice and IoU per class',
      blocks: [
        table(
          'Per-class overlap, over all pixels of the evaluated images',
          ['Class', 'Dice', 'IoU', 'TP pixels', 'FP pixels', 'FN pixels'],
          names.map((n) => {
            const m = r.perClass[n] as SegmentationReport['perClass'][string];
            return [n, fmt(m.dice), fmt(m.iou), String(m.truePositives), String(m.falsePositives), String(m.falseNegatives)];
          }),
          [false, true, true, true, true, true],
          `n/a: the class is absent from both the labels and the prediction. ${r.ignoredPixels} unlabelled or padding pixel(s) were not scored.`,
        ),
        {
          kind: 'chart',
          drawing: barChart({
            title: 'Dice and IoU per class',
            categories: names,
            groups: [
              { name: 'Dice', values: names.map((n) => r.perClass[n]?.dice ?? null) },
              { name: 'IoU', values: names.map((n) => r.perClass[n]?.iou ?? null) },
            ],
            yLabel: 'overlap',
          }),
        },
      ],
    },
  ];
  const scored = r.images.map((img, index) => ({ img, index })).filter(({ img }) => img.dice !== null);
  const worst = scored.slice().sort((a, b) => (a.img.dice as number) - (b.img.dice as number) || a.index - b.index);
  const blocks: ReportBlock[] = [];
  if (worst.length) {
    // Per-class columns only while the table stays readable (the per-class numbers are above).
    const cols = names.length - 1 <= 5 ? names.slice(1) : [];
    blocks.push(
      table(
        `The ${Math.min(WORST, worst.length)} image(s) with the lowest Dice, of ${scored.length} scored`,
        ['Image', 'Dice', 'IoU', ...cols.map((n) => `Dice ${n}`)],
        worst.slice(0, WORST).map(({ img, index }) => [itemRef(img.itemId, img.frameIndex, index), fmt(img.dice), fmt(img.iou), ...cols.map((n) => fmt(img.perClass[n]?.dice))]),
        [false, true, true, ...cols.map(() => true)],
        'Images are named by their library item id.',
      ),
    );
    // Distribution of per-image Dice in ten bins.
    const bins = Array.from({ length: 10 }, () => 0);
    for (const { img } of scored) {
      const b = Math.min(9, Math.max(0, Math.floor((img.dice as number) * 10)));
      bins[b] = (bins[b] as number) + 1;
    }
    const most = Math.max(...bins);
    blocks.push({
      kind: 'chart',
      drawing: barChart({
        title: 'Per-image Dice',
        categories: bins.map((_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`),
        groups: [{ name: 'images', values: bins }],
        yLabel: 'images',
        yDomain: [0, Math.max(1, most)],
        counts: true,
      }),
    });
  } else {
    blocks.push({ kind: 'text', text: 'No image has a foreground class in its labels or prediction: there is no per-image Dice.' });
  }
  sections.push({ title: 'Worst images', blocks });
  if (r.perSeries.length) {
    sections.push({
      title: 'Per series',
      blocks: [
        table(
          'Overlap per DICOM series',
          ['Series', 'Images', 'Dice', 'IoU'],
          r.perSeries.map((s) => [`series ${s.seriesId}`, String(s.images), fmt(s.dice), fmt(s.iou)]),
          [false, true, true, true],
          'Series are named by their library id.',
        ),
      ],
    });
  }
  return { metrics, sections, notes: [] };
}

/** Builds the report model of a run's evaluation (see the file header). */
export function buildReportModel(evaluation: EvaluationReport, run: RunFacts = {}, generatedAt = new Date().toISOString()): ReportModel {
  const s = evaluation.source;
  const itemRef = itemRefs(run.itemNames ?? new Map());
  const runName = run.name ? runLabel({ id: s.runId, name: run.name }) : `run ${s.runId}`;
  const taskName = { classification: 'Classification', detection: 'Detection', segmentation: 'Segmentation' }[evaluation.task];
  const splitText = s.split === 'all' ? 'all labelled images' : `${s.split} split`;
  const facts: [string, string][] = [
    ['Run', run.name ? runName : String(s.runId)],
    ['Task', `${taskName}${evaluation.task === 'classification' && evaluation.multiLabel ? ' (multi-label)' : ''}`],
    ['Dataset', `${s.datasetName}${s.ownDataset ? '' : ' (not the dataset the run trained on)'}`],
    ['Evaluated on', `${splitText}, ${evaluation.n} image(s)`],
    ['Classes', s.classNames.join(', ')],
    ['Scored at', s.coordinates === 'input' ? `the model's ${s.inputSize} px input (letterboxed)` : 'original image pixels'],
    ['Evaluated at', s.evaluatedAt],
  ];
  if (evaluation.task === 'classification') facts.push(['Test-time augmentation', s.tta && s.tta.length > 1 ? ttaText(s.tta).replace(/^test-time augmentation: /, '') : 'none (the image alone)']);
  if (run.backend) facts.push(['Backend', run.backend]);
  if (run.epochsCompleted !== undefined) {
    facts.push(['Epochs', `${run.epochsCompleted}${run.epochs !== undefined ? ` of ${run.epochs}` : ''}${run.bestEpoch ? `, best checkpoint: epoch ${run.bestEpoch}` : ''}`]);
  }
  if (run.batchSize !== undefined) facts.push(['Batch size', String(run.batchSize)]);
  if (run.status) facts.push(['Run status', run.status]);
  if (run.warmStart) facts.push(['Weights', run.warmStart]);
  for (const d of run.plan ?? []) facts.push([`Plan: ${d.label}`, d.reason]);

  const body =
    evaluation.task === 'classification' ? classificationSections(evaluation, itemRef) : evaluation.task === 'detection' ? detectionSections(evaluation, itemRef) : segmentationSections(evaluation, itemRef);
  const notes = [...s.warnings, ...body.notes];
  if (s.failures.length) {
    const ids = [...new Set(s.failures.map((f) => f.itemId))];
    notes.push(`Images that could not be read, left out of these numbers: item ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? `, and ${ids.length - 20} more` : ''}.`);
  }
  const sections = body.sections.slice();
  const curve = run.epochCurve?.filter((e) => Number.isFinite(e.trainLoss) || Number.isFinite(e.valLoss)) ?? [];
  if (curve.length) {
    const values = curve.flatMap((e) => [e.trainLoss, e.valLoss]).filter(Number.isFinite);
    const hi = Math.max(...values);
    const lastEpoch = Math.max(...curve.map((e) => e.epoch));
    sections.push({
      title: 'Training',
      blocks: [
        {
          kind: 'chart',
          drawing: curveChart({
            title: 'Loss per epoch',
            xLabel: 'epoch',
            yLabel: 'loss',
            xDomain: [1, Math.max(2, lastEpoch)],
            yDomain: [0, hi > 0 ? hi * 1.05 : 1],
            markers: true,
            integerX: true,
            series: [
              { name: 'training loss', points: curve.map((e) => [e.epoch, e.trainLoss] as [number, number]) },
              { name: 'validation loss', points: curve.map((e) => [e.epoch, e.valLoss] as [number, number]), dash: [6, 3] },
            ],
          }),
        },
      ],
    });
  }
  return {
    title: `Evaluation report: ${runName}`,
    subtitle: `${taskName} on "${s.datasetName}", ${splitText}`,
    task: evaluation.task,
    generatedAt,
    facts,
    metrics: [...body.metrics, { label: 'Images evaluated', value: String(evaluation.n), raw: evaluation.n }],
    sections,
    notes,
  };
}
