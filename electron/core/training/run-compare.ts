/**
 * Comparing runs (issue 19): two or more runs of ONE dataset and ONE task,
 * side by side. Runs of other data or another task are refused (VALIDATION):
 * their curves and metrics measure different things.
 */
import type { RunDetail } from '../../contract/domain';
import type { RunComparison } from '../../contract/runs';
import { FoveaException } from '../../contract/result';

export function compareRuns(runs: readonly RunDetail[]): RunComparison {
  const first = runs[0];
  if (!first || runs.length < 2) throw new FoveaException('VALIDATION', 'Choose at least two runs to compare.');
  const ids = new Set<number>();
  for (const r of runs) {
    if (ids.has(r.id)) throw new FoveaException('VALIDATION', `Run ${r.id} is named twice.`);
    ids.add(r.id);
  }
  const otherData = runs.filter((r) => r.datasetId !== first.datasetId);
  if (otherData.length) {
    throw new FoveaException('VALIDATION', `Runs compared must share a dataset: run ${first.id} trained on "${first.datasetName}", run ${otherData.map((r) => `${r.id} on "${r.datasetName}"`).join(', ')}.`);
  }
  const otherTask = runs.filter((r) => r.task !== first.task);
  if (otherTask.length) {
    throw new FoveaException('VALIDATION', `Runs compared must share a task: run ${first.id} is ${first.task}, run ${otherTask.map((r) => `${r.id} ${r.task}`).join(', ')}.`);
  }
  const namesOf = (r: RunDetail): Set<string> => new Set(r.epochCurve.flatMap((e) => Object.keys(e.valMetrics)));
  const shared = [...namesOf(first)].filter((m) => runs.every((r) => namesOf(r).has(m))).sort();
  return { datasetId: first.datasetId, task: first.task, runs: [...runs], metricNames: shared };
}
