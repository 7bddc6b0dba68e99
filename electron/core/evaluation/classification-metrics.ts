/**
 * Classification metrics, computed exactly as scikit-learn computes them
 * (checked against scikit-learn by test/reference/sklearn_metrics.py to 1e-6).
 *
 * Single-label (softmax outputs), from the true class index of each image and
 * its probability row:
 * - Predicted class = the highest probability; ties go to the LOWEST class
 *   index (numpy.argmax).
 * - accuracy = sklearn.metrics.accuracy_score.
 * - Per class precision / recall / F1 / support and their macro averages =
 *   sklearn.metrics.precision_recall_fscore_support(labels=range(K),
 *   zero_division=0): labels are ALL classes of the model, so a class absent
 *   from the predictions gets precision 0, a class absent from the truth gets
 *   recall 0, a class absent from both gets 0 / 0 / 0, and every one of them
 *   counts in the macro average (sklearn's rule with zero_division=0).
 *   F1 = 2PR / (P + R), 0 when P + R = 0 (sklearn's formula).
 * - Confusion matrix = sklearn.metrics.confusion_matrix(labels=range(K)):
 *   rows the true class, columns the predicted class.
 * - ROC curve per class, one-vs-rest = sklearn.metrics.roc_curve(y == k,
 *   p[:, k]) (drop_intermediate=True); AUC = sklearn.metrics.auc of it, which
 *   is roc_auc_score of that column. Macro AUC = roc_auc_score(
 *   multi_class='ovr', average='macro') = the mean of the per-class values.
 *   Binary (K = 2): the macro value is the AUC of the positive class (index
 *   1), as roc_auc_score(y, p[:, 1]).
 *   DIFFERENCE FROM SKLEARN: a class with no positive (absent from the truth)
 *   or no negative example has no ROC AUC; scikit-learn raises ValueError
 *   ("Only one class present in y_true"). Here its AUC is null and the macro
 *   value is the mean over the classes that have one (null if none has).
 *   The first ROC point's threshold is null: "above every score"
 *   (scikit-learn writes max + 1 before 1.3 and inf since).
 * - Precision-recall curve per class = sklearn.metrics.precision_recall_curve
 *   (no point dropped), average precision = average_precision_score (step
 *   integral, no interpolation); macro AP = the mean over classes.
 *   DIFFERENCE FROM SKLEARN: a class with no positive example has no PR curve
 *   and no AP (null, left out of the macro mean); scikit-learn 1.2 sets its
 *   recall to 1 and scores its AP 0, with a warning.
 *
 * Multi-label (independent sigmoids), from multi-hot truth rows: a class is
 * predicted when its probability is >= threshold (0.5, the training
 * metric's rule). accuracy = accuracy_score on indicator matrices (exact
 * match of the whole row, "subset accuracy"); precision / recall / F1 as
 * above on the indicator matrices; multilabel_confusion_matrix per class
 * ([[tn, fp], [fn, tp]]); AUC and AP per class as above (roc_auc_score /
 * average_precision_score with average=None, macro = mean of the defined).
 */
import { FoveaException } from '../../contract/result';

export interface PrfSupport {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Score thresholds, decreasing; the first (the (0, 0) point) is null: above every score. */
  thresholds: (number | null)[];
}

export interface PrCurve {
  /** sklearn order: recall decreasing, ending with precision 1 at recall 0. */
  precision: number[];
  recall: number[];
  /** Increasing; one fewer than the points (the last point has no threshold). */
  thresholds: number[];
}

export interface ClassificationMetrics {
  task: 'classification';
  multiLabel: boolean;
  /** Images scored. */
  n: number;
  accuracy: number;
  macro: { precision: number; recall: number; f1: number };
  perClass: Record<string, PrfSupport>;
  /** Single-label: rows true class, columns predicted. Multi-label: null (see multilabelConfusion). */
  confusionMatrix: { labels: string[]; matrix: number[][] } | null;
  /** Multi-label only: per class [[tn, fp], [fn, tp]] (sklearn multilabel_confusion_matrix). */
  multilabelConfusion?: Record<string, [[number, number], [number, number]]>;
  auc: { macro: number | null; perClass: Record<string, number | null> };
  averagePrecision: { macro: number | null; perClass: Record<string, number | null> };
  curves: { roc: Record<string, RocCurve | null>; pr: Record<string, PrCurve | null> };
}

/** Index of the largest value; the first one on ties (numpy.argmax). NaN wins like numpy's. */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  let bestValue = row[0] as number;
  if (Number.isNaN(bestValue)) return 0;
  for (let i = 1; i < row.length; i++) {
    const v = row[i] as number;
    if (Number.isNaN(v)) return i;
    if (v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** tp, predicted and true counts per class -> sklearn's precision, recall, F1 (zero_division=0). */
function prfFromCounts(tp: number, predicted: number, truth: number): { precision: number; recall: number; f1: number } {
  const precision = predicted === 0 ? 0 : tp / predicted;
  const recall = truth === 0 ? 0 : tp / truth;
  const denom = precision + recall;
  const f1 = (2 * precision * recall) / (denom === 0 ? 1 : denom);
  return { precision, recall, f1 };
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length === 0 ? 0 : s / values.length;
}

function meanDefined(values: readonly (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length === 0 ? null : mean(defined);
}

interface BinaryCurvePoints {
  /** Cumulative false / true positives at each distinct score, from the highest score down. */
  fps: number[];
  tps: number[];
  thresholds: number[];
}

/**
 * sklearn.metrics._ranking._binary_clf_curve: scores sorted decreasing,
 * one point per distinct score value (ties together).
 */
function binaryClfCurve(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): BinaryCurvePoints {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  // Any order within a run of equal scores gives the same points.
  order.sort((a, b) => (scores[b] as number) - (scores[a] as number));
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j] as number;
    if (positive[i]) tp++;
    else fp++;
    const s = scores[i] as number;
    const next = j + 1 < n ? (scores[order[j + 1] as number] as number) : NaN;
    if (j === n - 1 || next !== s) {
      tps.push(tp);
      fps.push(fp);
      thresholds.push(s);
    }
  }
  return { fps, tps, thresholds };
}

function checkScores(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): void {
  if (positive.length !== scores.length) throw new FoveaException('VALIDATION', `${positive.length} labels but ${scores.length} scores.`);
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i] as number)) throw new FoveaException('VALIDATION', `Score ${i} is not a finite number (${String(scores[i])}).`);
  }
}

/**
 * sklearn.metrics.roc_curve(positive, scores) with drop_intermediate=True.
 * null when the labels hold no positive or no negative (the curve is undefined).
 */
export function rocCurve(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): RocCurve | null {
  checkScores(positive, scores);
  if (scores.length === 0) return null;
  let { fps, tps, thresholds } = binaryClfCurve(positive, scores);
  const P = tps[tps.length - 1] as number;
  const N = fps[fps.length - 1] as number;
  if (P <= 0 || N <= 0) return null;
  if (fps.length > 2) {
    // Keep the ends and every corner (np.diff(_, 2) != 0 in fps or tps).
    const keep: number[] = [0];
    for (let i = 1; i < fps.length - 1; i++) {
      const d2f = (fps[i + 1] as number) - 2 * (fps[i] as number) + (fps[i - 1] as number);
      const d2t = (tps[i + 1] as number) - 2 * (tps[i] as number) + (tps[i - 1] as number);
      if (d2f !== 0 || d2t !== 0) keep.push(i);
    }
    keep.push(fps.length - 1);
    fps = keep.map((i) => fps[i] as number);
    tps = keep.map((i) => tps[i] as number);
    thresholds = keep.map((i) => thresholds[i] as number);
  }
  return {
    fpr: [0, ...fps.map((f) => f / N)],
    tpr: [0, ...tps.map((t) => t / P)],
    thresholds: [null, ...thresholds],
  };
}

/** Trapezoidal area under a curve (sklearn.metrics.auc; x must be monotonic). */
export function trapezoid(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] as number) - (x[i - 1] as number)) * (((y[i] as number) + (y[i - 1] as number)) / 2);
  return area;
}

/** sklearn.metrics.roc_auc_score for binary labels; null where sklearn raises (one class only). */
export function rocAuc(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): number | null {
  const c = rocCurve(positive, scores);
  return c ? trapezoid(c.fpr, c.tpr) : null;
}

/** sklearn.metrics.precision_recall_curve(positive, scores); null when there is no positive. */
export function precisionRecallCurve(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): PrCurve | null {
  checkScores(positive, scores);
  if (scores.length === 0) return null;
  const { fps, tps, thresholds } = binaryClfCurve(positive, scores);
  const P = tps[tps.length - 1] as number;
  if (P <= 0) return null;
  const precision: number[] = [];
  const recall: number[] = [];
  for (let i = tps.length - 1; i >= 0; i--) {
    const t = tps[i] as number;
    const s = t + (fps[i] as number);
    precision.push(s === 0 ? 0 : t / s);
    recall.push(t / P);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds: thresholds.slice().reverse() };
}

/** sklearn.metrics.average_precision_score for binary labels (step integral); null when there is no positive. */
export function averagePrecision(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): number | null {
  const c = precisionRecallCurve(positive, scores);
  if (!c) return null;
  let s = 0;
  for (let i = 0; i + 1 < c.recall.length; i++) s += ((c.recall[i + 1] as number) - (c.recall[i] as number)) * (c.precision[i] as number);
  return -s;
}

function checkShape(n: number, probabilities: readonly (readonly number[])[], K: number): void {
  if (K < 1) throw new FoveaException('VALIDATION', 'Classification metrics need at least one class.');
  if (probabilities.length !== n) throw new FoveaException('VALIDATION', `${n} true labels but ${probabilities.length} probability rows.`);
  probabilities.forEach((row, i) => {
    if (row.length !== K) throw new FoveaException('VALIDATION', `Probability row ${i} has ${row.length} values; the model has ${K} classes.`);
    for (const v of row) if (!Number.isFinite(v)) throw new FoveaException('VALIDATION', `Probability row ${i} holds a value that is not a finite number.`);
  });
}

/** Per-class ROC / PR curves, AUC and AP, one-vs-rest over the columns of `probabilities`. */
function rankingMetrics(
  positives: (k: number) => boolean[],
  probabilities: readonly (readonly number[])[],
  classNames: readonly string[],
  binaryMacroFromPositive: boolean,
): Pick<ClassificationMetrics, 'auc' | 'averagePrecision' | 'curves'> {
  const K = classNames.length;
  const aucPer: Record<string, number | null> = {};
  const apPer: Record<string, number | null> = {};
  const roc: Record<string, RocCurve | null> = {};
  const pr: Record<string, PrCurve | null> = {};
  const aucs: (number | null)[] = [];
  const aps: (number | null)[] = [];
  for (let k = 0; k < K; k++) {
    const name = classNames[k] as string;
    const pos = positives(k);
    const scores = probabilities.map((row) => row[k] as number);
    const r = rocCurve(pos, scores);
    const p = precisionRecallCurve(pos, scores);
    const a = r ? trapezoid(r.fpr, r.tpr) : null;
    const ap = p ? averagePrecision(pos, scores) : null;
    roc[name] = r;
    pr[name] = p;
    aucPer[name] = a;
    apPer[name] = ap;
    aucs.push(a);
    aps.push(ap);
  }
  const macroAuc = binaryMacroFromPositive && K === 2 ? (aucs[1] ?? null) : meanDefined(aucs);
  const macroAp = binaryMacroFromPositive && K === 2 ? (aps[1] ?? null) : meanDefined(aps);
  return { auc: { macro: macroAuc, perClass: aucPer }, averagePrecision: { macro: macroAp, perClass: apPer }, curves: { roc, pr } };
}

/**
 * Single-label metrics (see the file header). `yTrue[i]` is the true class
 * index of image i, `probabilities[i]` its K class probabilities.
 */
export function classificationMetrics(
  yTrue: readonly number[],
  probabilities: readonly (readonly number[])[],
  classNames: readonly string[],
): ClassificationMetrics {
  const K = classNames.length;
  const n = yTrue.length;
  checkShape(n, probabilities, K);
  yTrue.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= K) throw new FoveaException('VALIDATION', `True label ${i} is ${t}, not a class index in 0..${K - 1}.`);
  });
  const yPred = probabilities.map(argmax);
  const matrix = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const t = yTrue[i] as number;
    const p = yPred[i] as number;
    (matrix[t] as number[])[p] = ((matrix[t] as number[])[p] as number) + 1;
    if (t === p) correct++;
  }
  const perClass: Record<string, PrfSupport> = {};
  const ps: number[] = [];
  const rs: number[] = [];
  const fs: number[] = [];
  for (let k = 0; k < K; k++) {
    const tp = (matrix[k] as number[])[k] as number;
    let predicted = 0;
    let truth = 0;
    for (let j = 0; j < K; j++) {
      predicted += (matrix[j] as number[])[k] as number;
      truth += (matrix[k] as number[])[j] as number;
    }
    const m = prfFromCounts(tp, predicted, truth);
    perClass[classNames[k] as string] = { ...m, support: truth };
    ps.push(m.precision);
    rs.push(m.recall);
    fs.push(m.f1);
  }
  return {
    task: 'classification',
    multiLabel: false,
    n,
    accuracy: n === 0 ? 0 : correct / n,
    macro: { precision: mean(ps), recall: mean(rs), f1: mean(fs) },
    perClass,
    confusionMatrix: { labels: [...classNames], matrix },
    ...rankingMetrics((k) => yTrue.map((t) => t === k), probabilities, classNames, true),
  };
}

/**
 * Multi-label metrics (see the file header). `yTrue[i]` is image i's
 * multi-hot row (1 = the class applies), `probabilities[i]` its sigmoids.
 */
export function multiLabelClassificationMetrics(
  yTrue: readonly (readonly number[])[],
  probabilities: readonly (readonly number[])[],
  classNames: readonly string[],
  threshold = 0.5,
): ClassificationMetrics {
  const K = classNames.length;
  const n = yTrue.length;
  checkShape(n, probabilities, K);
  yTrue.forEach((row, i) => {
    if (row.length !== K) throw new FoveaException('VALIDATION', `True label row ${i} has ${row.length} values; the model has ${K} classes.`);
  });
  const truth = yTrue.map((row) => row.map((v) => v >= 0.5));
  const pred = probabilities.map((row) => row.map((v) => v >= threshold));
  let exact = 0;
  for (let i = 0; i < n; i++) if ((truth[i] as boolean[]).every((t, k) => t === (pred[i] as boolean[])[k])) exact++;
  const perClass: Record<string, PrfSupport> = {};
  const confusion: Record<string, [[number, number], [number, number]]> = {};
  const ps: number[] = [];
  const rs: number[] = [];
  const fs: number[] = [];
  for (let k = 0; k < K; k++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    for (let i = 0; i < n; i++) {
      const t = (truth[i] as boolean[])[k];
      const p = (pred[i] as boolean[])[k];
      if (t && p) tp++;
      else if (p) fp++;
      else if (t) fn++;
      else tn++;
    }
    const m = prfFromCounts(tp, tp + fp, tp + fn);
    const name = classNames[k] as string;
    perClass[name] = { ...m, support: tp + fn };
    confusion[name] = [
      [tn, fp],
      [fn, tp],
    ];
    ps.push(m.precision);
    rs.push(m.recall);
    fs.push(m.f1);
  }
  return {
    task: 'classification',
    multiLabel: true,
    n,
    accuracy: n === 0 ? 0 : exact / n,
    macro: { precision: mean(ps), recall: mean(rs), f1: mean(fs) },
    perClass,
    confusionMatrix: null,
    multilabelConfusion: confusion,
    ...rankingMetrics((k) => truth.map((row) => row[k] === true), probabilities, classNames, false),
  };
}
