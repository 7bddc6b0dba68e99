/**
 * The contract's model-help requests (contract/assist.ts) bound to the services of this folder.
 * Long work (propagation, a model's pass over a dataset) runs as a job that answers its id at once
 * and reports through events, at most a few times a second, then once when it ends; it is
 * cancelled with jobs.cancel. The services get what they need (narrow deps), never the core.
 */
import type { AssistResponses } from '../../contract/assist';
import type { RequestPayload } from '../../contract/api';
import type { Events } from '../../contract/api';
import { FoveaException } from '../../contract/result';
import type { StartJob } from '../jobs/job-runner';
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
  startJob: StartJob;
  emit<E extends keyof Events>(name: E, payload: Events[E]): void;
  /** The dataset or series whose labels changed (the viewer reloads). */
  labelsChanged(change: { datasetId: number; itemId: number | null; seriesId: number | null }): void;
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
      const { jobId } = deps.startJob({
        kind: 'propagate',
        subject: { datasetId: seed.datasetId },
        throttleMs: 150,
        task: (job) =>
          propagate(deps.propagation, p, {
            signal: job.signal,
            onSlice: (sl) =>
              job.progress({ done: sl.done, total: null, phase: sl.direction }, () =>
                deps.emit('assist.propagate.progress', { jobId, done: sl.done, direction: sl.direction, itemId: sl.itemId, frame: sl.frame }),
              ),
          }),
        finished: (r) => {
          deps.emit('assist.propagate.finished', r.ok ? { jobId, report: r.value, error: null } : { jobId, report: null, error: r.error });
          // Slices written before a failure or cancel are kept: the viewer reloads either way.
          deps.labelsChanged({ datasetId: seed.datasetId, itemId: null, seriesId: null });
        },
      });
      return { jobId };
    },
    'models.import': (p) => importModel(deps.modelImport, p),
    'models.predict': async (p) => {
      deps.modelPredict.datasets.get(p.datasetId);
      await deps.modelPredict.registry.get(p.model);
      const { jobId } = deps.startJob({
        kind: 'model-predict',
        subject: { datasetId: p.datasetId },
        task: (job) =>
          predictWithModel(deps.modelPredict, p.model, {
            datasetId: p.datasetId,
            ...(p.classMap ? { classMap: p.classMap } : {}),
            ...(p.onlyUnlabeled !== undefined ? { onlyUnlabeled: p.onlyUnlabeled } : {}),
            ...(p.minScore !== undefined ? { minScore: p.minScore } : {}),
            signal: job.signal,
            onProgress: (done, total) => job.progress({ done, total }, () => deps.emit('models.predict.progress', { jobId, model: p.model, done, total })),
          }),
        finished: (r) => {
          deps.emit('models.predict.finished', r.ok ? { jobId, model: p.model, report: r.value, error: null } : { jobId, model: p.model, report: null, error: r.error });
          if (r.ok) deps.labelsChanged({ datasetId: p.datasetId, itemId: null, seriesId: null });
        },
      });
      return { jobId };
    },
  };
}
