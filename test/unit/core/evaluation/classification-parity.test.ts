/**
 * Classification metrics against scikit-learn: generated cases (seeded) are
 * written to test/reference/sklearn_metrics.py, which prints scikit-learn's
 * values; every number must agree to 1e-6 (curves point for point). Cases
 * cover random multi-class and binary data, ties in scores (within a column
 * and within a row, i.e. argmax ties), a class never predicted, a class
 * absent from the truth (where sklearn raises for ROC AUC and Fovea reports
 * null), and multi-label sigmoid outputs.
 *
 * Skipped with a message when /usr/bin/python3 has no scikit-learn
 * (CI installs python3-sklearn).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  classificationMetrics,
  multiLabelClassificationMetrics,
  type ClassificationMetrics,
  type PrCurve,
  type RocCurve,
} from '../../../../electron/core/evaluation/classification-metrics';
import { createRandom, type SeededRandom } from '../../../../electron/core/samples/seeded-random';
import { REPO_ROOT } from '../../../helpers/paths';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';

const SCRIPT = join(REPO_ROOT, 'test', 'reference', 'sklearn_metrics.py');
const TOL = 1e-6;

interface Case {
  name: string;
  multiLabel: boolean;
  numClasses: number;
  yTrue: number[] | number[][];
  probabilities: number[][];
}

interface Reference {
  name: string;
  accuracy: number;
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  macro: { precision: number; recall: number; f1: number };
  confusion: number[][] | number[][][];
  auc: (number | null)[];
  aucMacro: number | null;
  aucMacroSource: string;
  roc: ({ fpr: number[]; tpr: number[]; thresholds: (number | null)[] } | null)[];
  pr: ({ precision: number[]; recall: number[]; thresholds: number[] } | null)[];
  ap: (number | null)[];
}

function softmaxRow(r: SeededRandom, K: number, sharp: number): number[] {
  const z = Array.from({ length: K }, () => Math.exp(r.normal(0, sharp)));
  const s = z.reduce((a, b) => a + b, 0);
  return z.map((v) => v / s);
}

/** Probabilities that point at the true class with some noise. */
function informative(r: SeededRandom, y: number, K: number): number[] {
  const row = softmaxRow(r, K, 1);
  row[y] = (row[y] as number) + r.uniform(0, 1.2);
  const s = row.reduce((a, b) => a + b, 0);
  return row.map((v) => v / s);
}

/** Rows from a small set of patterns: many ties in every column, and argmax ties. */
const TIE_PATTERNS = [
  [0.5, 0.25, 0.25],
  [0.25, 0.5, 0.25],
  [0.25, 0.25, 0.5],
  [0.4, 0.4, 0.2],
  [0.2, 0.4, 0.4],
  [1 / 3, 1 / 3, 1 / 3],
  [0.5, 0.5, 0],
  [0, 0.5, 0.5],
];

function makeCases(): Case[] {
  const r = createRandom('classification-parity');
  const cases: Case[] = [];
  for (let c = 0; c < 4; c++) {
    const K = 3 + c;
    const n = 40 + 15 * c;
    const y = Array.from({ length: n }, () => r.int(0, K - 1));
    cases.push({ name: `random-${K}class`, multiLabel: false, numClasses: K, yTrue: y, probabilities: y.map((t) => informative(r, t, K)) });
  }
  {
    const n = 60;
    const y = Array.from({ length: n }, () => r.int(0, 2));
    cases.push({ name: 'ties', multiLabel: false, numClasses: 3, yTrue: y, probabilities: y.map(() => [...r.pick(TIE_PATTERNS)]) });
  }
  {
    // Class 2 is never the argmax: precision 0 by zero_division=0.
    const n = 50;
    const y = Array.from({ length: n }, () => r.int(0, 2));
    const p = y.map(() => {
      const a = r.uniform(0.3, 0.6);
      const b = r.uniform(0.2, 1 - a - 0.01);
      return [a, b, 1 - a - b].map((v, k) => (k === 2 ? Math.min(v, Math.max(a, b) - 0.01) : v));
    });
    const norm = p.map((row) => {
      const s = row.reduce((x, z) => x + z, 0);
      return row.map((v) => v / s);
    });
    cases.push({ name: 'class-never-predicted', multiLabel: false, numClasses: 3, yTrue: y, probabilities: norm });
  }
  {
    // Class 3 of 4 never occurs in the truth: its recall is 0, its ROC AUC undefined.
    const n = 45;
    const y = Array.from({ length: n }, () => r.int(0, 2));
    cases.push({ name: 'class-absent-from-truth', multiLabel: false, numClasses: 4, yTrue: y, probabilities: y.map((t) => informative(r, t, 4)) });
  }
  {
    const n = 70;
    const y = Array.from({ length: n }, () => (r.bool(0.35) ? 1 : 0));
    cases.push({ name: 'binary', multiLabel: false, numClasses: 2, yTrue: y, probabilities: y.map((t) => informative(r, t, 2)) });
  }
  {
    // Binary with coarse scores: ties everywhere, including p = 0.5 argmax ties.
    const n = 40;
    const y = Array.from({ length: n }, () => (r.bool(0.5) ? 1 : 0));
    const p = y.map((t) => {
      const q = Math.round(Math.min(1, Math.max(0, (t ? 0.65 : 0.35) + r.normal(0, 0.25))) * 4) / 4;
      return [1 - q, q];
    });
    cases.push({ name: 'binary-ties', multiLabel: false, numClasses: 2, yTrue: y, probabilities: p });
  }
  {
    // Binary where the truth holds only the negative class: AUC undefined everywhere.
    const n = 20;
    const y = new Array<number>(n).fill(0);
    cases.push({ name: 'binary-one-class-in-truth', multiLabel: false, numClasses: 2, yTrue: y, probabilities: y.map(() => softmaxRow(r, 2, 1)) });
  }
  {
    const K = 4;
    const n = 60;
    const Y = Array.from({ length: n }, () => Array.from({ length: K }, (_, k) => (k === 3 ? 0 : r.bool(0.4) ? 1 : 0)));
    const P = Y.map((row) => row.map((t) => Math.round(Math.min(1, Math.max(0, (t ? 0.65 : 0.3) + r.normal(0, 0.2))) * 20) / 20));
    // Class 3 is never true: its AUC is undefined (sklearn raises for the macro value).
    cases.push({ name: 'multilabel', multiLabel: true, numClasses: K, yTrue: Y, probabilities: P });
  }
  {
    const K = 3;
    const n = 50;
    const Y = Array.from({ length: n }, (_, i) => Array.from({ length: K }, (_, k) => (i === k ? 1 : i === k + K ? 0 : r.bool(0.5) ? 1 : 0)));
    const P = Y.map((row) => row.map((t) => Math.min(1, Math.max(0, (t ? 0.6 : 0.4) + r.normal(0, 0.25)))));
    cases.push({ name: 'multilabel-all-present', multiLabel: true, numClasses: K, yTrue: Y, probabilities: P });
  }
  return cases;
}

function ours(c: Case): ClassificationMetrics {
  const names = Array.from({ length: c.numClasses }, (_, k) => `class ${k}`);
  return c.multiLabel
    ? multiLabelClassificationMetrics(c.yTrue as number[][], c.probabilities, names)
    : classificationMetrics(c.yTrue as number[], c.probabilities, names);
}

class Diff {
  max = 0;
  where = '';
  num(a: number | null | undefined, b: number | null | undefined, where: string): void {
    if (a === null || a === undefined || b === null || b === undefined) {
      assert.equal(a ?? null, b ?? null, `${where}: ${String(a)} vs ${String(b)}`);
      return;
    }
    const d = Math.abs(a - b);
    if (d > this.max) {
      this.max = d;
      this.where = where;
    }
    assert.ok(d <= TOL, `${where}: Fovea ${a}, sklearn ${b} (|diff| ${d})`);
  }
  arr(a: readonly (number | null)[], b: readonly (number | null)[], where: string): void {
    assert.equal(a.length, b.length, `${where}: ${a.length} points vs sklearn's ${b.length}`);
    a.forEach((v, i) => this.num(v, b[i], `${where}[${i}]`));
  }
}

test('classification metrics equal scikit-learn on generated cases (to 1e-6)', () => {
  requireTool('sklearn', 'numpy');
  const cases = makeCases();
  const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify({ cases }), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(run.status, 0, run.stderr);
  const ref = JSON.parse(run.stdout) as { sklearn: string; cases: Reference[] };
  const diff = new Diff();
  let compared = 0;
  cases.forEach((c, ci) => {
    const s = ref.cases[ci] as Reference;
    const o = ours(c);
    const names = Object.keys(o.perClass);
    diff.num(o.accuracy, s.accuracy, `${c.name} accuracy`);
    names.forEach((name, k) => {
      const m = o.perClass[name];
      assert.ok(m);
      diff.num(m.precision, s.precision[k], `${c.name} precision ${k}`);
      diff.num(m.recall, s.recall[k], `${c.name} recall ${k}`);
      diff.num(m.f1, s.f1[k], `${c.name} f1 ${k}`);
      assert.equal(m.support, s.support[k], `${c.name} support ${k}`);
      diff.num(o.auc.perClass[name], s.auc[k], `${c.name} auc ${k}`);
      diff.num(o.averagePrecision.perClass[name], s.ap[k], `${c.name} ap ${k}`);
      const roc = o.curves.roc[name] as RocCurve | null;
      const sroc = s.roc[k];
      assert.equal(roc === null, sroc === null || sroc === undefined, `${c.name} roc ${k} defined`);
      if (roc && sroc) {
        diff.arr(roc.fpr, sroc.fpr, `${c.name} roc ${k} fpr`);
        diff.arr(roc.tpr, sroc.tpr, `${c.name} roc ${k} tpr`);
        diff.arr(roc.thresholds, sroc.thresholds, `${c.name} roc ${k} thresholds`);
      }
      const pr = o.curves.pr[name] as PrCurve | null;
      const spr = s.pr[k];
      assert.equal(pr === null, spr === null || spr === undefined, `${c.name} pr ${k} defined`);
      if (pr && spr) {
        diff.arr(pr.precision, spr.precision, `${c.name} pr ${k} precision`);
        diff.arr(pr.recall, spr.recall, `${c.name} pr ${k} recall`);
        diff.arr(pr.thresholds, spr.thresholds, `${c.name} pr ${k} thresholds`);
      }
    });
    diff.num(o.macro.precision, s.macro.precision, `${c.name} macro precision`);
    diff.num(o.macro.recall, s.macro.recall, `${c.name} macro recall`);
    diff.num(o.macro.f1, s.macro.f1, `${c.name} macro f1`);
    diff.num(o.auc.macro, s.aucMacro, `${c.name} macro auc (${s.aucMacroSource})`);
    if (c.multiLabel) {
      assert.equal(o.confusionMatrix, null);
      assert.deepEqual(names.map((n) => o.multilabelConfusion?.[n]), s.confusion);
    } else {
      assert.deepEqual(o.confusionMatrix?.matrix, s.confusion, `${c.name} confusion matrix`);
    }
    compared++;
  });
  // The edge cases behave as documented.
  const absent = ours(cases.find((c) => c.name === 'class-absent-from-truth') as Case);
  assert.equal(absent.auc.perClass['class 3'], null);
  assert.equal(absent.perClass['class 3']?.support, 0);
  assert.equal(ref.cases.find((c) => c.name === 'class-absent-from-truth')?.aucMacroSource, 'mean-of-defined', 'sklearn raises for a class absent from the truth');
  const never = ours(cases.find((c) => c.name === 'class-never-predicted') as Case);
  assert.equal(never.perClass['class 2']?.precision, 0);
  assert.equal(never.confusionMatrix?.matrix.reduce((a, row) => a + (row[2] as number), 0), 0, 'class 2 is never predicted');
  for (const name of ['random-3class', 'random-4class', 'random-5class', 'random-6class', 'ties', 'binary', 'multilabel-all-present']) {
    assert.equal(ref.cases.find((c) => c.name === name)?.aucMacroSource, 'sklearn', `${name}: sklearn's own macro AUC`);
  }
  assert.ok(cases.some((c) => c.name === 'ties'));
  process.stdout.write(`# sklearn ${ref.sklearn}: ${compared} cases, max |Fovea - sklearn| = ${diff.max.toExponential(2)} (at ${diff.where || '-'})\n`);
});

test('argmax ties go to the lowest class index, as numpy.argmax', () => {
  const m = classificationMetrics([1, 2, 0], [[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]], ['a', 'b', 'c']);
  assert.deepEqual(m.confusionMatrix?.matrix, [
    [1, 0, 0],
    [1, 0, 0],
    [0, 1, 0],
  ]);
  assert.equal(m.accuracy, 1 / 3);
});
