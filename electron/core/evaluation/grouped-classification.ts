/**
 * Per-series and per-patient classification metrics (issue 19).
 *
 * A clinician decides per patient (or per series), not per slice. The rule,
 * the usual one for a slice-level classifier:
 * - A group is the images of one DICOM series (per series) or of one patient
 *   (per patient; Patient ID as the library stores it). Plain images belong
 *   to no series or patient and are left out (counted as `ungrouped`).
 * - The group's probabilities are the MEAN of its images' probability rows
 *   (numpy `probs[group].mean(axis=0)`); its predicted class is their argmax
 *   (ties: the lowest index, numpy.argmax).
 * - The group's true class is the most frequent true class of its images
 *   (ties: the lowest index). Groups whose images disagree are counted in
 *   `mixedTruth` so the screen can say so.
 * - The metrics are then exactly the image-level ones (classificationMetrics,
 *   scikit-learn's rules) on the groups' (truth, mean probabilities).
 * Single-label only: a multi-label report has no grouped view.
 */
import type { GroupedClassificationView } from '../../contract/evaluation';
import type { Db } from '../store/library-db';
import { listTrainingItems } from '../store/items-repo';
import { argmax, classificationMetrics, type ClassificationMetrics } from './classification-metrics';

export interface GroupableImage {
  itemId: number;
  truth: number[];
  probabilities: number[];
}

/**
 * Images grouped by `groupOf` (null: no group), scored as the file header says. Null when no image
 * has a group. `label(key, index)` names a group for the screen (index: its order, by first image).
 */
export function groupedClassification(
  by: 'series' | 'patient',
  images: readonly GroupableImage[],
  classNames: readonly string[],
  groupOf: (itemId: number) => string | null,
  label: (key: string, index: number) => string,
): GroupedClassificationView | null {
  const K = classNames.length;
  const groups = new Map<string, GroupableImage[]>();
  let ungrouped = 0;
  for (const im of images) {
    const key = groupOf(im.itemId);
    if (key === null || im.truth.length !== 1) {
      ungrouped++;
      continue;
    }
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(im);
  }
  if (groups.size === 0) return null;
  const rows: GroupedClassificationView['rows'] = [];
  let mixedTruth = 0;
  let index = 0;
  for (const [key, members] of groups) {
    const mean = new Array<number>(K).fill(0);
    const votes = new Array<number>(K).fill(0);
    for (const m of members) {
      for (let k = 0; k < K; k++) mean[k] = (mean[k] as number) + (m.probabilities[k] ?? 0);
      const t = m.truth[0] as number;
      votes[t] = (votes[t] as number) + 1;
    }
    for (let k = 0; k < K; k++) mean[k] = (mean[k] as number) / members.length;
    const truth = argmax(votes);
    if (votes.filter((c) => c > 0).length > 1) mixedTruth++;
    rows.push({ label: label(key, index++), firstItemId: members[0]?.itemId ?? 0, images: members.length, truth, predicted: argmax(mean), probabilities: mean });
  }
  const m = classificationMetrics(
    rows.map((r) => r.truth),
    rows.map((r) => r.probabilities),
    classNames,
  );
  return {
    by,
    groups: rows.length,
    mixedTruth,
    ungrouped,
    accuracy: m.accuracy,
    macro: m.macro,
    perClass: m.perClass,
    confusionMatrix: m.confusionMatrix,
    auc: m.auc,
    averagePrecision: m.averagePrecision,
    rows,
  };
}

/** Single-label classification per series and per patient (grouped-classification.ts); none for multi-label. */
export function groupedViews(
  db: Db,
  datasetId: number,
  metrics: ClassificationMetrics,
  images: readonly GroupableImage[],
): { perSeries: GroupedClassificationView | null; perPatient: GroupedClassificationView | null } {
  if (metrics.multiLabel) return { perSeries: null, perPatient: null };
  const rows = new Map(listTrainingItems(db, datasetId).map((r) => [r.id, r]));
  const names = metrics.confusionMatrix?.labels ?? Object.keys(metrics.perClass);
  const series = (id: number): string | null => {
    const s = rows.get(id)?.series_id;
    return s === null || s === undefined ? null : String(s);
  };
  const patient = (id: number): string | null => rows.get(id)?.patient_key ?? null;
  return {
    perSeries: groupedClassification('series', images, names, series, (key) => `series ${key}`),
    perPatient: groupedClassification('patient', images, names, patient, (_key, i) => `patient ${i + 1}`),
  };
}
