/**
 * The training loop's numbers against scikit-learn (issue 19):
 * - the decision-threshold metrics of contract/runs.ts (confusion matrix, sensitivity,
 *   specificity, precision, F1, accuracy) at thresholds that fall on scores, between them, at 0
 *   and above every score, with tied scores;
 * - classification grouped per series / patient (core/evaluation/grouped-classification.ts):
 *   mean probabilities, most-frequent truth, and the metrics on the groups.
 * test/reference/sklearn_threshold.py computes the references; every number agrees to 1e-9.
 * Plus hand-checked cases that need no Python.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { thresholdMetrics } from '../../../../electron/contract/runs';
import { groupedClassification } from '../../../../electron/core/evaluation/grouped-classification';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { REPO_ROOT } from '../../../helpers/paths';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';

const SCRIPT = join(REPO_ROOT, 'test', 'reference', 'sklearn_threshold.py');
const TOL = 1e-9;

test('threshold metrics by hand: score >= threshold is positive', () => {
  const positive = [true, true, true, false, false, false, false];
  const scores = [0.9, 0.6, 0.3, 0.6, 0.2, 0.1, 0.05];
  const m = thresholdMetrics(positive, scores, 0.6);
  // 0.9 and 0.6 (pos) are tp; the negative at 0.6 is fp (>= ties count positive); 0.3 is fn.
  assert.deepEqual([m.tp, m.fp, m.fn, m.tn], [2, 1, 1, 3]);
  assert.equal(m.sensitivity, 2 / 3);
  assert.equal(m.specificity, 3 / 4);
  assert.equal(m.precision, 2 / 3);
  assert.equal(m.f1, 2 / 3);
  assert.equal(m.fpr, 1 / 4);
  const none = thresholdMetrics(positive, scores, 1.5);
  assert.deepEqual([none.tp, none.fp, none.precision, none.f1, none.specificity], [0, 0, 0, 0, 1]);
  assert.throws(() => thresholdMetrics([true], [0.5, 0.2], 0.5), RangeError);
  assert.throws(() => thresholdMetrics([true], [Number.NaN], 0.5), RangeError);
});

test('grouped classification by hand: mean probabilities, most frequent truth, ungrouped left out', () => {
  const images = [
    { itemId: 1, truth: [1], probabilities: [0.8, 0.2] },
    { itemId: 2, truth: [1], probabilities: [0.2, 0.8] },
    { itemId: 3, truth: [0], probabilities: [0.1, 0.9] },
    { itemId: 4, truth: [0], probabilities: [0.7, 0.3] },
    { itemId: 5, truth: [0], probabilities: [0.9, 0.1] },
    { itemId: 9, truth: [1], probabilities: [0.5, 0.5] },
  ];
  const group: Record<number, string> = { 1: 'a', 2: 'a', 3: 'a', 4: 'b', 5: 'b' };
  const g = groupedClassification('series', images, ['no', 'yes'], (id) => group[id] ?? null, (k) => `series ${k}`);
  assert.ok(g);
  assert.equal(g.groups, 2);
  assert.equal(g.ungrouped, 1);
  assert.equal(g.mixedTruth, 1);
  const [a, b] = g.rows;
  assert.ok(a && b);
  // Group a: truths 1, 1, 0 -> 1; mean [(0.8+0.2+0.1)/3, (0.2+0.8+0.9)/3] -> predicted 1.
  assert.equal(a.truth, 1);
  assert.ok(Math.abs((a.probabilities[1] as number) - 1.9 / 3) < 1e-12);
  assert.equal(a.predicted, 1);
  assert.equal(b.truth, 0);
  assert.equal(b.predicted, 0);
  assert.equal(g.accuracy, 1);
  assert.equal(g.auc.macro, 1);
  assert.equal(groupedClassification('patient', images, ['no', 'yes'], () => null, (k) => k), null);
});

test('threshold and grouped metrics equal scikit-learn', () => {
  requireTool('sklearn', 'numpy');
  const r = createRandom(19);
  const thresholdCases = [0, 1, 2].map((c) => {
    const n = 40 + 20 * c;
    const positive = Array.from({ length: n }, () => (r.uniform(0, 1) < 0.4 ? 1 : 0));
    // Case 1 rounds scores to 0.1 steps: many ties, thresholds exactly on scores.
    const scores = positive.map((p) => {
      const s = Math.min(1, Math.max(0, r.normal(p ? 0.65 : 0.4, 0.2)));
      return c === 1 ? Math.round(s * 10) / 10 : s;
    });
    const thresholds = [0, 0.05, 0.3, 0.5, 0.6, 0.7, 0.999, 1.01, scores[0] as number, scores[3] as number];
    return { positive, scores, thresholds };
  });
  const groupedCases = [2, 3].map((K) => {
    const n = 90;
    const groups = Array.from({ length: n }, () => `g${Math.floor(r.uniform(0, 25))}`);
    const yTrue = Array.from({ length: n }, () => Math.floor(r.uniform(0, K)));
    const probabilities = yTrue.map((y) => {
      const row = Array.from({ length: K }, () => r.uniform(0, 1));
      row[y] = (row[y] as number) + r.uniform(0, 1);
      const s = row.reduce((a, b) => a + b, 0);
      return row.map((v) => v / s);
    });
    return { numClasses: K, yTrue, probabilities, groups };
  });
  const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify({ threshold: thresholdCases, grouped: groupedCases }), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  assert.equal(run.status, 0, run.stderr);
  const ref = JSON.parse(run.stdout) as {
    threshold: { threshold: number; tn: number; fp: number; fn: number; tp: number; sensitivity: number; specificity: number; precision: number; f1: number; accuracy: number }[][];
    grouped: { truth: number[]; probabilities: number[][]; predicted: number[]; accuracy: number; precision: number[]; recall: number[]; f1: number[]; support: number[]; confusion: number[][]; aucBinary: number | null }[];
  };
  let compared = 0;
  thresholdCases.forEach((c, ci) => {
    for (const want of ref.threshold[ci] ?? []) {
      const got = thresholdMetrics(c.positive.map((p) => p === 1), c.scores, want.threshold);
      const at = `case ${ci} threshold ${want.threshold}`;
      assert.deepEqual([got.tn, got.fp, got.fn, got.tp], [want.tn, want.fp, want.fn, want.tp], at);
      for (const k of ['sensitivity', 'specificity', 'precision', 'f1', 'accuracy'] as const) {
        assert.ok(Math.abs(got[k] - want[k]) < TOL, `${at} ${k}: ${got[k]} vs sklearn ${want[k]}`);
        compared++;
      }
    }
  });
  groupedCases.forEach((c, ci) => {
    const want = ref.grouped[ci];
    assert.ok(want);
    const names = Array.from({ length: c.numClasses }, (_, k) => `c${k}`);
    const images = c.yTrue.map((y, i) => ({ itemId: i + 1, truth: [y], probabilities: c.probabilities[i] as number[] }));
    const g = groupedClassification('patient', images, names, (id) => c.groups[id - 1] ?? null, (k) => k);
    assert.ok(g);
    assert.deepEqual(g.rows.map((row) => row.truth), want.truth, `grouped ${ci} truth`);
    assert.deepEqual(g.rows.map((row) => row.predicted), want.predicted, `grouped ${ci} predicted`);
    g.rows.forEach((row, i) => row.probabilities.forEach((p, k) => assert.ok(Math.abs(p - (want.probabilities[i]?.[k] ?? NaN)) < TOL, `grouped ${ci} row ${i} p${k}`)));
    assert.ok(Math.abs(g.accuracy - want.accuracy) < TOL);
    names.forEach((n, k) => {
      const pc = g.perClass[n];
      assert.ok(pc);
      assert.ok(Math.abs(pc.precision - (want.precision[k] as number)) < TOL, `grouped ${ci} precision ${n}`);
      assert.ok(Math.abs(pc.recall - (want.recall[k] as number)) < TOL);
      assert.ok(Math.abs(pc.f1 - (want.f1[k] as number)) < TOL);
      assert.equal(pc.support, want.support[k]);
      compared += 4;
    });
    assert.deepEqual(g.confusionMatrix?.matrix, want.confusion);
    if (want.aucBinary !== null) assert.ok(Math.abs((g.auc.macro ?? NaN) - want.aucBinary) < TOL, `grouped ${ci} AUC`);
  });
  assert.ok(compared > 100, `only ${compared} numbers compared`);
});
