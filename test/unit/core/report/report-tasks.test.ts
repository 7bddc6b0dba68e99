/**
 * Report models, HTML and PDF for detection and segmentation evaluations made
 * by the real metric code (cocoEvaluate, SegmentationAccumulator) from known
 * boxes and masks, and the renderers' handling of hostile or unusual class
 * names (markup, other scripts, many classes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EvaluationReport, EvaluationSourceView } from '../../../../electron/contract/evaluation';
import { classificationMetrics, multiLabelClassificationMetrics } from '../../../../electron/core/evaluation/classification-metrics';
import { cocoEvaluate, type DetectionImage } from '../../../../electron/core/evaluation/detection-metrics';
import { SegmentationAccumulator } from '../../../../electron/core/evaluation/segmentation-metrics';
import { renderHtmlReport } from '../../../../electron/core/report/html-report';
import { pdfSafe, renderPdfReport } from '../../../../electron/core/report/pdf-report';
import { buildReportModel, fmt } from '../../../../electron/core/report/report-model';
import { confusionMatrixChart, niceTicks, thin, toSvg } from '../../../../electron/core/report/svg-charts';
import { parseHtmlStrict, pdfTextFromStreams, remoteReferences } from './report-checks';

function source(classNames: string[], extra: Partial<EvaluationSourceView> = {}): EvaluationSourceView {
  return {
    kind: 'run',
    runId: 7,
    datasetId: 2,
    datasetName: 'Road scenes',
    ownDataset: true,
    split: 'test',
    coordinates: 'input',
    inputSize: 64,
    classNames,
    evaluatedAt: '2026-01-02T03:04:05.000Z',
    storedAt: '/home/someone/library/runs/7/evaluation-test.json',
    failures: [],
    warnings: [],
    ...extra,
  };
}

async function render(evaluation: EvaluationReport): Promise<{ html: string; pdfText: string; svgs: number }> {
  const model = buildReportModel(evaluation, {}, '2026-01-02T03:04:06.000Z');
  const html = renderHtmlReport(model);
  const counts = parseHtmlStrict(html);
  assert.deepEqual(remoteReferences(html), []);
  const pdf = await renderPdfReport(model);
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  return { html, pdfText: pdfTextFromStreams(pdf), svgs: counts.get('svg') ?? 0 };
}

test('detection report: mAP and AP per class as scored, n/a for a class without boxes, images with the most errors', async () => {
  const classes = ['pedestrian', 'car', 'bicycle'];
  const box = (x: number, y: number, classIndex: number) => ({ x, y, width: 10, height: 20, classIndex });
  const images: DetectionImage[] = [
    { itemId: 11, frameIndex: 0, groundTruth: [box(0, 0, 0), box(30, 0, 0), box(0, 30, 1)], detections: [{ ...box(1, 1, 0), score: 0.9 }, { ...box(0, 31, 1), score: 0.8 }, { ...box(50, 50, 0), score: 0.7 }] },
    { itemId: 12, frameIndex: 0, groundTruth: [box(5, 5, 1)], detections: [{ ...box(5, 5, 1), score: 0.95 }] },
    { itemId: 13, frameIndex: 0, groundTruth: [box(10, 10, 0), box(40, 40, 1)], detections: [{ ...box(60, 0, 1), score: 0.6 }] },
  ];
  const metrics = cocoEvaluate(images, classes);
  const evaluation: EvaluationReport = { ...metrics, source: source(classes) };
  const { html, pdfText, svgs } = await render(evaluation);
  assert.equal(svgs, 1, 'the AP bar chart');
  assert.ok(html.includes('<title>Average precision per class</title>'));
  for (const v of [metrics.mAP50, metrics.mAP75, metrics.mAP, metrics.mAR100]) {
    assert.ok(html.includes(fmt(v)), `${fmt(v)} in HTML`);
    assert.ok(pdfText.includes(fmt(v)), `${fmt(v)} in PDF`);
  }
  const ped = metrics.perClass['pedestrian'];
  assert.ok(ped);
  assert.ok(html.includes(`<th scope="row">pedestrian</th><td class="num">${fmt(ped.ap50)}</td><td class="num">${fmt(ped.ap75)}</td><td class="num">${fmt(ped.ap)}</td><td class="num">${fmt(ped.ar100)}</td><td class="num">3</td><td class="num">2</td>`));
  assert.equal(metrics.perClass['bicycle']?.ap50, -1);
  assert.ok(html.includes('<th scope="row">bicycle</th><td class="num">n/a</td>'), 'a class without ground truth shows n/a, not -1');
  assert.ok(!html.includes('-1.000'));
  // Images by item id, most errors first: item 13 (2 missed + 1 false), item 11 (1 missed + 1 false).
  const worst = html.indexOf('<th scope="row">item 13</th>');
  assert.ok(worst > 0 && worst < html.indexOf('<th scope="row">item 11</th>'));
  assert.ok(!html.includes('item 12</th>'), 'an image without errors is not listed');
  assert.ok(pdfText.includes('item 13'));
  // The library path of the stored evaluation is not in the report.
  assert.ok(!html.includes('/home/someone') && !pdfText.includes('/home/someone'));
});

test('segmentation report: Dice and IoU per class, worst images by Dice, per series', async () => {
  const classes = ['background', 'lesion', 'organ'];
  const acc = new SegmentationAccumulator(classes);
  const S = 8;
  const mask = (fill: (x: number, y: number) => number) => Uint8Array.from({ length: S * S }, (_, i) => fill(i % S, Math.floor(i / S)));
  const truth = mask((x, y) => (x < 4 && y < 4 ? 1 : x >= 4 && y >= 4 ? 2 : 0));
  acc.add(truth, truth, { itemId: 21, frameIndex: 0, seriesId: 5 }); // perfect
  acc.add(truth, mask((x, y) => (x < 2 && y < 4 ? 1 : x >= 4 && y >= 4 ? 2 : 0)), { itemId: 22, frameIndex: 1, seriesId: 5 }); // half the lesion
  acc.add(truth, mask(() => 0), { itemId: 23, frameIndex: 0, seriesId: 6 }); // nothing found
  acc.add(mask((x) => (x === 0 ? 255 : 0)), mask(() => 0), { itemId: 24, frameIndex: 0, seriesId: 6 }); // no foreground: no Dice
  const metrics = acc.result();
  const evaluation: EvaluationReport = { ...metrics, source: source(classes) };
  const { html, pdfText, svgs } = await render(evaluation);
  assert.equal(svgs, 2, 'Dice/IoU bars and the per-image Dice histogram');
  for (const v of [metrics.dice, metrics.iou, metrics.meanImageDice, metrics.meanImageIou, metrics.perClass['lesion']?.dice, metrics.perClass['organ']?.iou]) {
    assert.ok(html.includes(fmt(v)), `${fmt(v)} in HTML`);
    assert.ok(pdfText.includes(fmt(v)), `${fmt(v)} in PDF`);
  }
  // Worst first: item 23 (Dice 0), then item 22, then item 21 (1.000); item 24 has no Dice and is not listed.
  const at = (s: string) => html.indexOf(`<th scope="row">${s}</th>`);
  assert.ok(at('item 23') > 0 && at('item 23') < at('item 22, frame 1') && at('item 22, frame 1') < at('item 21'));
  assert.equal(at('item 24'), -1);
  assert.ok(html.includes(`<th scope="row">item 23</th><td class="num">0.000</td>`));
  assert.ok(html.includes('<th scope="row">series 5</th><td class="num">2</td>'));
  assert.ok(html.includes(`${metrics.ignoredPixels} unlabelled or padding pixel(s) were not scored`));
});

test('class names are text, never markup; the PDF gets what its fonts can show; many classes still draw', async () => {
  const classes = ['<script>alert(1)</script>', 'ünïcödé & "quotes"', '肺炎'];
  const y = [0, 1, 2, 0, 1, 2];
  const p = [
    [0.8, 0.1, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.2, 0.6],
    [0.3, 0.6, 0.1],
    [0.1, 0.7, 0.2],
    [0.1, 0.1, 0.8],
  ];
  const m = classificationMetrics(y, p, classes);
  const evaluation: EvaluationReport = {
    ...m,
    images: y.map((t, i) => ({ itemId: i + 1, frameIndex: 0, truth: [t], predicted: [(p[i] as number[]).indexOf(Math.max(...(p[i] as number[])))], probabilities: p[i] as number[] })),
    source: source(classes, { failures: [{ itemId: 99, frameIndex: 0, message: 'Cannot read /data/DOE^JOHN/scan.dcm' }], warnings: ['A note.'] }),
  };
  const { html, pdfText } = await render(evaluation);
  assert.ok(!/<script/iu.test(html));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('ünïcödé &amp; &quot;quotes&quot;'));
  assert.ok(html.includes('肺炎'));
  // Failure messages may quote a file path (patient names): only the count and item ids are kept.
  assert.ok(!html.includes('DOE^JOHN') && !pdfText.includes('DOE^JOHN'));
  assert.ok(html.includes('Images that could not be read, left out of these numbers: item 99.'));
  assert.ok(html.includes('A note.'));
  assert.ok(pdfText.includes('<script>alert(1)</script>'), 'in the PDF the name is plain text');
  assert.ok(pdfText.includes('ünïcödé & "quotes"'));
  assert.ok(pdfText.includes('??'), 'characters outside the standard fonts become ?');
  assert.equal(pdfSafe('a\u202eb\u0007c'), 'a?b c');

  // 30 classes: a confusion matrix still draws, smaller, every cell a rect.
  const names = Array.from({ length: 30 }, (_, i) => `class-${i}`);
  const matrix = names.map((_, i) => names.map((__, j) => (i === j ? 5 : (i + j) % 3)));
  const svg = toSvg(confusionMatrixChart(names, matrix));
  assert.equal((svg.match(/<rect /gu) ?? []).length, 30 * 30 + 1);
  assert.ok(!svg.includes('xmlns'), 'no namespace URL inside an HTML page');

  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(1, 3, 5), [1, 1.5, 2, 2.5, 3]);
  const long = Array.from({ length: 5000 }, (_, i) => [i / 4999, Math.sqrt(i / 4999)] as [number, number]);
  const thinned = thin(long);
  assert.ok(thinned.length <= 601);
  assert.deepEqual(thinned[0], long[0]);
  assert.deepEqual(thinned[thinned.length - 1], long[long.length - 1]);
});

test('multi-label classification report: one-vs-rest counts per class instead of a confusion matrix', async () => {
  const classes = ['effusion', 'nodule'];
  const truth = [
    [1, 0],
    [1, 1],
    [0, 1],
    [0, 0],
    [1, 0],
  ];
  const probs = [
    [0.9, 0.2],
    [0.7, 0.4],
    [0.3, 0.8],
    [0.6, 0.1],
    [0.2, 0.3],
  ];
  const m = multiLabelClassificationMetrics(truth, probs, classes);
  const evaluation: EvaluationReport = {
    ...m,
    images: truth.map((t, i) => ({
      itemId: 31 + i,
      frameIndex: 0,
      truth: t.flatMap((v, k) => (v ? [k] : [])),
      predicted: (probs[i] as number[]).flatMap((v, k) => (v >= 0.5 ? [k] : [])),
      probabilities: probs[i] as number[],
    })),
    source: source(classes),
  };
  const { html, pdfText } = await render(evaluation);
  assert.ok(html.includes('Subset accuracy') && html.includes(fmt(m.accuracy)));
  assert.ok(!html.includes('<title>Confusion matrix</title>'));
  const [[tn, fp], [fn, tp]] = m.multilabelConfusion?.['effusion'] ?? [[-1, -1], [-1, -1]];
  assert.ok(html.includes(`<th scope="row">effusion</th><td class="num">${tn}</td><td class="num">${fp}</td><td class="num">${fn}</td><td class="num">${tp}</td>`));
  // Mistakes (the predicted set differs), most confident first: item 32 (both true, effusion alone predicted at 0.7),
  // item 34 (nothing true, effusion at 0.6), item 35 (effusion true, nothing predicted). Items 31 and 33 are right.
  const at = (id: number) => html.indexOf(`<th scope="row">item ${id}</th>`);
  assert.ok(at(32) > 0 && at(32) < at(34) && at(34) < at(35));
  assert.equal(at(31), -1);
  assert.equal(at(33), -1);
  assert.ok(html.includes('<th scope="row">item 34</th><td>(none)</td><td>effusion</td><td class="num">0.600</td>'));
  assert.ok(pdfText.includes('Subset accuracy'));
});
