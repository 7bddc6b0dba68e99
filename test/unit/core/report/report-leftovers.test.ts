/**
 * Issue 19 report leftovers: the run's name in the title and facts; for binary classification the
 * operating point at the default threshold 0.5 (the contract's thresholdMetrics, counted here by
 * hand too); per-series and per-patient tables when the evaluation has them; images named by
 * series description and instance number from the store (real DICOM files imported into a
 * temporary library), never a patient name or ID, rendered in HTML and PDF.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EvaluationReport, EvaluationSourceView } from '../../../../electron/contract/evaluation';
import { classificationMetrics } from '../../../../electron/core/evaluation/classification-metrics';
import { groupedClassification } from '../../../../electron/core/evaluation/grouped-classification';
import { renderHtmlReport } from '../../../../electron/core/report/html-report';
import { renderPdfReport } from '../../../../electron/core/report/pdf-report';
import { buildReportModel, fmt } from '../../../../electron/core/report/report-model';
import { reportItemNames } from '../../../../electron/core/store/report-item-names';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';
import { parseHtmlStrict, pdfTextFromStreams } from './report-checks';

function source(classNames: string[]): EvaluationSourceView {
  return {
    kind: 'run',
    runId: 9,
    datasetId: 2,
    datasetName: 'Chest',
    ownDataset: true,
    split: 'test',
    coordinates: 'input',
    inputSize: 64,
    classNames,
    evaluatedAt: '2026-01-02T03:04:05.000Z',
    storedAt: '/x/evaluation-test.json',
    failures: [],
    warnings: [],
  };
}

const classes = ['normal', 'pneumonia'];
const truth = [0, 0, 0, 1, 1, 1, 1, 0];
const p1 = [0.1, 0.6, 0.4, 0.9, 0.55, 0.3, 0.8, 0.2];
const probs = p1.map((p) => [1 - p, p]);

function evaluation(withGroups: boolean): EvaluationReport {
  const m = classificationMetrics(truth, probs, classes);
  const images = truth.map((t, i) => ({ itemId: 101 + i, frameIndex: 0, truth: [t], predicted: [(probs[i] as number[])[1]! >= 0.5 ? 1 : 0], probabilities: probs[i] as number[] }));
  // Two images a series, two series a patient (item 101..108).
  const series = groupedClassification('series', images, classes, (id) => `s${Math.floor((id - 101) / 2)}`, (_k, i) => `series ${i + 1}`);
  const patients = groupedClassification('patient', images, classes, (id) => `p${Math.floor((id - 101) / 4)}`, (_k, i) => `patient ${i + 1}`);
  return { ...m, images, ...(withGroups ? { perSeries: series, perPatient: patients } : {}), source: source(classes) } as EvaluationReport;
}

test('binary classification report: run name, operating point at 0.5, per-series and per-patient tables', async () => {
  const model = buildReportModel(evaluation(true), { name: 'chest baseline' }, '2026-01-02T03:04:06.000Z');
  assert.equal(model.title, 'Evaluation report: chest baseline #9');
  assert.deepEqual(model.facts[0], ['Run', 'chest baseline #9']);
  const op = model.sections.find((s) => s.title === 'Operating point');
  assert.ok(op);
  const t = op.blocks[0];
  assert.ok(t && t.kind === 'table');
  // By hand at 0.5: positives 3,4,5,6 -> scores .9 .55 .3 .8: TP 3, FN 1; negatives .1 .6 .4 .2: FP 1, TN 3.
  assert.deepEqual(t.table.rows[0], ['0.50', fmt(0.75), fmt(0.75), fmt(0.75), fmt(0.75), '3', '1', '1', '3']);
  assert.ok(model.sections.some((s) => s.title === 'Per series'));
  assert.ok(model.sections.some((s) => s.title === 'Per patient'));
  const html = renderHtmlReport(model);
  parseHtmlStrict(html);
  assert.ok(html.includes('Operating point') && html.includes('Sensitivity') && html.includes('Per patient'));
  assert.ok(html.includes('chest baseline #9'));
  const pdf = pdfTextFromStreams(await renderPdfReport(model));
  assert.ok(pdf.includes('Operating point') && pdf.includes('Per series'));
});

test('no name: "run N" as before; no groups, no grouped sections; multi-class: no operating point', () => {
  const model = buildReportModel(evaluation(false), {}, '2026-01-02T03:04:06.000Z');
  assert.equal(model.title, 'Evaluation report: run 9');
  assert.ok(!model.sections.some((s) => s.title === 'Per series' || s.title === 'Per patient'));
  const three = classificationMetrics([0, 1, 2], [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], ['a', 'b', 'c']);
  const ev = { ...three, images: [0, 1, 2].map((k) => ({ itemId: 1 + k, frameIndex: 0, truth: [k], predicted: [k], probabilities: [0.1, 0.1, 0.1].map((v, j) => (j === k ? 0.8 : v)) })), source: source(['a', 'b', 'c']) } as EvaluationReport;
  assert.ok(!buildReportModel(ev).sections.some((s) => s.title === 'Operating point'));
});

test('images named by series description and instance number from real DICOM files; never the patient', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('Names', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests', '77654033')] });
  const ids = core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(ds.id) as number[];
  const names = reportItemNames(core.db, [...ids, 999_999]);
  assert.equal(names.size, ids.length, 'an unknown id is left out');
  assert.deepEqual([...names.values()].sort(), [
    'Cervical LAT · Im 1',
    'Cervical OBLI 1 · Im 1',
    'Cervical OBLI 2 · Im 1',
    'Routine Brain · Im 18',
    'Routine Brain · Im 180',
    'Routine Brain · Im 181',
    'Routine Brain · Im 182',
  ]);
  const patients = core.db.prepare('SELECT patient_name AS n, patient_key AS k FROM patients').all() as { n: string | null; k: string | null }[];
  const secrets = patients.flatMap((p) => [p.n, p.k]).filter((x): x is string => !!x && x.length > 2);
  assert.ok(secrets.length > 0);
  for (const n of names.values()) for (const secret of secrets) assert.ok(!n.includes(secret), `${n} names the patient`);
  const id = ids[0]!;
  const name = names.get(id)!;
  // In the report: the name replaces "item N" in the mistakes table.
  const ev = evaluation(false);
  ev.images[1]!.itemId = id;
  const model = buildReportModel(ev, { itemNames: names });
  const html = renderHtmlReport(model);
  assert.ok(html.includes(`<th scope="row">${name.replace(/&/g, '&amp;')}</th>`), 'the misclassified image by its series name');
  assert.ok(!html.includes(`item ${id}<`));
});
