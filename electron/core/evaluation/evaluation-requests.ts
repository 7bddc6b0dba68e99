/**
 * The contract's evaluation and prediction requests (contract/evaluation.ts),
 * bound to the core: long work (predict, evaluate) runs as a job that
 * returns its id at once and reports through events, at most a few times a
 * second, then once when it ends.
 */
import type { EvaluationResponses, EvaluationSplit } from '../../contract/evaluation';
import type { RequestPayload } from '../../contract/api';
import type { CoreParts } from '../core-parts';
import { galleryImages, runPredict, type PredictCore } from '../predict/predict-service';
import { evaluateRun, readStoredEvaluation, type EvaluationCore } from './evaluate-run';
import { headlineOf, listEvaluations } from '../store/evaluation-repo';
import { checkTta } from '../predict/tta';

type EvalRequest = keyof EvaluationResponses;
type EvalHandlers = { [K in EvalRequest]: (payload: RequestPayload<K>) => Promise<EvaluationResponses[K]> | EvaluationResponses[K] };

/** Requests that write to the library (refused on a read-only one). */
export const EVALUATION_WRITES: readonly EvalRequest[] = ['predict.start', 'evaluation.run'];

/** What the evaluation requests need: the services they call, the job runner and the events. */
export type EvaluationRequestsCore = PredictCore & EvaluationCore & Pick<CoreParts, 'jobs' | 'events'>;

export function evaluationHandlers(core: EvaluationRequestsCore): EvalHandlers {
  return {
    'predict.start': ({ runId, datasetId, onlyUnlabeled, minScore, uncertainty, tta }) => {
      // Refuse at once what cannot start (unknown run, no checkpoint): the UI shows it by the button.
      const run = core.runs.get(runId);
      if (tta) checkTta(run.config);
      const target = datasetId ?? run.datasetId;
      core.datasets.get(target);
      const { jobId } = core.jobs.run({
        kind: 'predict',
        subject: { datasetId: target, runId },
        task: (job) =>
          runPredict(core, runId, {
            datasetId: target,
            ...(onlyUnlabeled !== undefined ? { onlyUnlabeled } : {}),
            ...(minScore !== undefined ? { minScore } : {}),
            ...(uncertainty !== undefined ? { uncertainty } : {}),
            ...(tta ? { tta } : {}),
            signal: job.signal,
            onProgress: (done, total) => job.progress({ done, total }, () => core.events.emit('predict.progress', { jobId, runId, done, total })),
          }),
        finished: (r) => {
          core.events.emit('predict.finished', r.ok ? { jobId, runId, report: r.value, error: null } : { jobId, runId, report: null, error: r.error });
          if (r.ok) core.events.emit('datasets.changed', { datasetId: target });
        },
      });
      return { jobId };
    },
    'evaluation.run': ({ runId, split, datasetId, tta }) => {
      const run = core.runs.get(runId);
      if (tta) checkTta(run.config);
      const wanted: EvaluationSplit = split ?? (datasetId === undefined || datasetId === run.datasetId ? 'test' : 'all');
      const { jobId } = core.jobs.run({
        kind: 'evaluation',
        subject: { datasetId: datasetId ?? run.datasetId, runId },
        task: (job) =>
          evaluateRun(core, runId, {
            split: wanted,
            ...(datasetId !== undefined ? { datasetId } : {}),
            ...(tta ? { tta } : {}),
            signal: job.signal,
            onProgress: (done, total, phase) => job.progress({ done, total, phase }, () => core.events.emit('evaluation.progress', { jobId, runId, done, total, phase }), done === 0),
          }),
        finished: (r) => {
          if (!r.ok) {
            core.events.emit('evaluation.finished', { jobId, runId, runName: run.name, split: wanted, datasetId: datasetId ?? null, summary: null, error: r.error });
            return;
          }
          const report = r.value;
          const s = report.source;
          const summary = { runId, datasetId: s.datasetId, split: s.split, task: report.task, createdAt: s.evaluatedAt, n: report.n, headline: headlineOf(report) };
          core.events.emit('evaluation.finished', { jobId, runId, runName: run.name, split: s.split, datasetId: s.datasetId, summary, error: null });
        },
      });
      return { jobId };
    },
    'evaluation.get': ({ runId, split, datasetId }) => readStoredEvaluation(core, runId, split ?? 'test', datasetId),
    'evaluation.list': ({ runId }) => {
      core.runs.get(runId);
      return listEvaluations(core.db, runId);
    },
    'evaluation.gallery': ({ runId, datasetId, images }) => galleryImages(core, runId, datasetId ?? core.runs.get(runId).datasetId, images),
  };
}
