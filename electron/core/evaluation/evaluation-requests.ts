/**
 * The contract's evaluation and prediction requests (contract/evaluation.ts),
 * bound to the core: long work (predict, evaluate) runs as a job that
 * returns its id at once and reports through events, at most a few times a
 * second, then once when it ends.
 */
import type { EvaluationResponses, EvaluationSplit } from '../../contract/evaluation';
import type { RequestPayload } from '../../contract/api';
import { FoveaException, type FoveaError } from '../../contract/result';
import type { Core } from '../composition-root';
import { galleryImages, runPredict } from '../predict/predict-service';
import { evaluateRun, readStoredEvaluation } from './evaluate-run';
import { headlineOf, listEvaluations } from '../store/evaluation-repo';

type EvalRequest = keyof EvaluationResponses;
type EvalHandlers = { [K in EvalRequest]: (payload: RequestPayload<K>) => Promise<EvaluationResponses[K]> | EvaluationResponses[K] };

/** Requests that write to the library (refused on a read-only one). */
export const EVALUATION_WRITES: readonly EvalRequest[] = ['predict.start', 'evaluation.run'];

function asError(e: unknown): FoveaError {
  if (e instanceof FoveaException) return { code: e.code, message: e.message };
  console.error('[fovea] internal error:', e);
  return { code: 'INTERNAL', message: `Internal error: ${(e as Error)?.message ?? String(e)}` };
}

/** A progress emitter that speaks at most every `ms`, and always for the last step. */
function throttled(ms: number, emit: (done: number, total: number) => void): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last < ms && done < total) return;
    last = now;
    emit(done, total);
  };
}

export function evaluationHandlers(core: Core): EvalHandlers {
  return {
    'predict.start': ({ runId, datasetId, onlyUnlabeled, minScore, uncertainty }) => {
      // Refuse at once what cannot start (unknown run, no checkpoint): the UI shows it by the button.
      const run = core.runs.get(runId);
      const target = datasetId ?? run.datasetId;
      core.datasets.get(target);
      const job = core.jobs.start('predict');
      void runPredict(core, runId, {
        datasetId: target,
        ...(onlyUnlabeled !== undefined ? { onlyUnlabeled } : {}),
        ...(minScore !== undefined ? { minScore } : {}),
        ...(uncertainty !== undefined ? { uncertainty } : {}),
        signal: job.controller.signal,
        onProgress: throttled(200, (done, total) => core.events.emit('predict.progress', { jobId: job.id, runId, done, total })),
      })
        .then(
          (report) => {
            core.events.emit('predict.finished', { jobId: job.id, runId, report, error: null });
            core.events.emit('datasets.changed', { datasetId: target });
          },
          (e: unknown) => core.events.emit('predict.finished', { jobId: job.id, runId, report: null, error: asError(e) }),
        )
        .finally(() => core.jobs.finish(job.id));
      return { jobId: job.id };
    },
    'evaluation.run': ({ runId, split, datasetId }) => {
      core.runs.get(runId);
      const job = core.jobs.start('evaluation');
      const wanted: EvaluationSplit = split ?? (datasetId === undefined || datasetId === core.runs.get(runId).datasetId ? 'test' : 'all');
      void evaluateRun(core, runId, {
        split: wanted,
        ...(datasetId !== undefined ? { datasetId } : {}),
        signal: job.controller.signal,
        onProgress: throttled(200, (done, total) => core.events.emit('evaluation.progress', { jobId: job.id, runId, done, total })),
      })
        .then(
          (report) => {
            const s = report.source;
            const summary = { runId, datasetId: s.datasetId, split: s.split, task: report.task, createdAt: s.evaluatedAt, n: report.n, headline: headlineOf(report) };
            core.events.emit('evaluation.finished', { jobId: job.id, runId, split: s.split, datasetId: s.datasetId, summary, error: null });
          },
          (e: unknown) => core.events.emit('evaluation.finished', { jobId: job.id, runId, split: wanted, datasetId: datasetId ?? null, summary: null, error: asError(e) }),
        )
        .finally(() => core.jobs.finish(job.id));
      return { jobId: job.id };
    },
    'evaluation.get': ({ runId, split, datasetId }) => readStoredEvaluation(core, runId, split ?? 'test', datasetId),
    'evaluation.list': ({ runId }) => {
      core.runs.get(runId);
      return listEvaluations(core.db, runId);
    },
    'evaluation.gallery': ({ runId, datasetId, images }) => galleryImages(core, runId, datasetId ?? core.runs.get(runId).datasetId, images),
  };
}
