/**
 * The contract's model-help requests (contract/assist.ts) bound to the services of this folder.
 * Long work (propagation, a model's pass over a dataset) runs as a job that answers its id at once
 * and reports through events, at most a few times a second, then once when it ends; it is
 * cancelled with jobs.cancel. The services get what they need (narrow deps), never the core.
 */
import type { AssistResponses } from '../../contract/assist';
import type { RequestPayload } from '../../contract/api';
import type { Events } from '../../contract/api';
import { FoveaException, type FoveaError } from '../../contract/result';
import type { JobRegistry } from '../jobs/job-registry';
import type { ClickSegmentService } from './click-segment';
import { importModel, type ModelImportDeps } from './model-import';
import { predictWithModel, type ModelPredictDeps } from './model-predict';
import type { ModelRegistry } from './model-registry';
import { propagate, type PropagationDeps } from './propagation';

type AssistRequest = keyof AssistResponses;
type AssistHandlers = { [K in AssistRequest]: (payload: RequestPayload<K>) => Promise<AssistResponses[K]> | AssistResponses[K] };

export interface AssistRequestDeps {
  registry: Pick<ModelRegistry, 'list'>;
  clickSegment: ClickSegmentService;
  propagation: PropagationDeps;
  modelImport: ModelImportDeps;
  modelPredict: ModelPredictDeps;
  jobs: JobRegistry;
  emit<E extends keyof Events>(name: E, payload: Events[E]): void;
  /** The dataset or series whose labels changed (the viewer reloads). */
  labelsChanged(change: { datasetId: number; itemId: number | null; seriesId: number | null }): void;
}

function asError(e: unknown): FoveaError {
  if (e instanceof FoveaException) return { code: e.code, message: e.message };
  console.error('[fovea] internal error:', e);
  return { code: 'INTERNAL', message: `Internal error: ${(e as Error)?.message ?? String(e)}` };
}

function throttled<A extends unknown[]>(ms: number, emit: (...a: A) => void, last: (...a: A) => boolean): (...a: A) => void {
  let at = 0;
  return (...a) => {
    const now = Date.now();
    if (now - at < ms && !last(...a)) return;
    at = now;
    emit(...a);
  };
}

export function assistHandlers(deps: AssistRequestDeps): AssistHandlers {
  return {
    'models.list': () => deps.registry.list(),
    'assist.prepare': (p) => deps.clickSegment.prepare(p),
    'assist.segment': (p) => deps.clickSegment.segment({ ...p, points: p.points, refine: p.refine }),
    'assist.outline': ({ rle }) => deps.clickSegment.outline(rle),
    'assist.propagate': async (p) => {
      // What cannot start is the request's answer: no such mask, no model.
      const seed = deps.propagation.annotations.get(p.annotationId);
      if (!seed || seed.kind !== 'mask' || seed.itemId === null) throw new FoveaException('VALIDATION', `Annotation ${p.annotationId} is not a mask on an image: propagation starts from one.`);
      await deps.clickSegment.model(p.model);
      deps.clickSegment.engine();
      const job = deps.jobs.start('propagate');
      const progress = throttled(150, (done: number, direction: 'forward' | 'backward', itemId: number, frame: number) => deps.emit('assist.propagate.progress', { jobId: job.id, done, direction, itemId, frame }), () => false);
      void propagate(deps.propagation, p, { signal: job.controller.signal, onSlice: (s) => progress(s.done, s.direction, s.itemId, s.frame) })
        .then(
          (report) => {
            deps.emit('assist.propagate.finished', { jobId: job.id, report, error: null });
            deps.labelsChanged({ datasetId: seed.datasetId, itemId: null, seriesId: null });
          },
          (e: unknown) => {
            deps.emit('assist.propagate.finished', { jobId: job.id, report: null, error: asError(e) });
            deps.labelsChanged({ datasetId: seed.datasetId, itemId: null, seriesId: null });
          },
        )
        .finally(() => deps.jobs.finish(job.id));
      return { jobId: job.id };
    },
    'models.import': (p) => importModel(deps.modelImport, p),
    'models.predict': async (p) => {
      deps.modelPredict.datasets.get(p.datasetId);
      await deps.modelPredict.registry.get(p.model);
      const job = deps.jobs.start('model-predict');
      const progress = throttled(200, (done: number, total: number) => deps.emit('models.predict.progress', { jobId: job.id, model: p.model, done, total }), (done, total) => done >= total);
      void predictWithModel(deps.modelPredict, p.model, {
        datasetId: p.datasetId,
        ...(p.classMap ? { classMap: p.classMap } : {}),
        ...(p.onlyUnlabeled !== undefined ? { onlyUnlabeled: p.onlyUnlabeled } : {}),
        ...(p.minScore !== undefined ? { minScore: p.minScore } : {}),
        signal: job.controller.signal,
        onProgress: progress,
      })
        .then(
          (report) => {
            deps.emit('models.predict.finished', { jobId: job.id, model: p.model, report, error: null });
            deps.labelsChanged({ datasetId: p.datasetId, itemId: null, seriesId: null });
          },
          (e: unknown) => deps.emit('models.predict.finished', { jobId: job.id, model: p.model, report: null, error: asError(e) }),
        )
        .finally(() => deps.jobs.finish(job.id));
      return { jobId: job.id };
    },
  };
}
