/**
 * The training worker's messages: one discriminated union each way, handled
 * with exhaustive switches on both sides (svelte.dev's REPL workers do the
 * same). Plain data only: everything here crosses `postMessage`
 * (structured clone); batch pixel buffers are transferred, not copied.
 *
 * The conversation:
 *   calling thread -> worker   start
 *   worker -> calling thread   started            (the backend it trains on)
 *   worker -> calling thread   phase*             (building the model, ..., the first step)
 *   worker -> calling thread   need-batch*        (the BatchProvider lives on the
 *   calling thread -> worker   batch*              calling thread: it decodes images)
 *   worker -> calling thread   progress*, epoch*, checkpoint*
 *   calling thread -> worker   cancel?            (stops at the next batch boundary)
 *   worker -> calling thread   done | error       (then the worker is terminated)
 *
 * The same entry also runs as the long-lived INFERENCE worker (workerData { mode: 'inference' }):
 *   calling thread -> worker   predict*           (a checkpoint, its config and one batch)
 *   worker -> calling thread   predictions | predict-error, per request id
 * and the model-assistance requests (native-models/assist/assist-protocol.ts: encode and decode
 * prompts for Segment Anything, inspect and run imported ONNX models), per request id.
 */
import type { BackendName } from '../../electron/contract/domain';
import type { Batch, BatchProgress, EpochResult, Prediction, TrainConfig, TrainOutcome, TrainPhase, WarmStartSourceRef } from '../../electron/contract/ml';
import type { AssistWorkerConfig, FromAssistWorker, ToAssistWorker } from '../assist/assist-protocol';
import type { InferenceEngineUse } from './onnx-inference';

/** What the worker needs of TrainOptions (callbacks and the signal stay on the calling thread). */
export interface WorkerTrainOptions {
  checkpointDir: string;
  resumeAfterEpoch?: number;
  warmStart?: WarmStartSourceRef;
}

export type ToWorker =
  | {
      type: 'start';
      config: TrainConfig;
      options: WorkerTrainOptions;
      /**
       * BatchProvider.batchesPerEpoch is synchronous, which a worker cannot
       * ask across threads: the calling thread answers it once, up front.
       */
      batchesPerEpoch: { train: number; val: number };
    }
  | { type: 'batch'; requestId: number; batch: Batch }
  /** The provider failed to produce a batch: the run fails with this message. */
  | { type: 'batch-error'; requestId: number; message: string }
  | { type: 'cancel' };

/** workerData of the inference worker (the training worker gets none). */
export interface InferenceWorkerData {
  mode: 'inference';
  /** A model-assistance worker's settings (native-models/assist/assist-engine.ts starts those). */
  assist?: AssistWorkerConfig;
}

/** `x` is a copy of the batch's pixels (transferred); the caller keeps its Batch intact. */
export type ToInferenceWorker = { type: 'predict'; requestId: number; backend: BackendName; checkpoint: string; config: TrainConfig; x: Float32Array; n: number } | ToAssistWorker;

export type FromInferenceWorker =
  /** `engine`: which engine ran the checkpoint (ONNX Runtime or TF.js) and why. */
  | { type: 'predictions'; requestId: number; predictions: Prediction[]; engine: InferenceEngineUse | null }
  | { type: 'predict-error'; requestId: number; message: string; outOfMemory: boolean }
  | FromAssistWorker;

export type FromWorker =
  /** The backend is up (before the first batch): which one trains. */
  | { type: 'started'; backend: BackendName }
  | { type: 'need-batch'; requestId: number; split: 'train' | 'val'; epoch: number; index: number }
  /** What the run does before its first batch has trained (building the model, the first step). */
  | { type: 'phase'; phase: TrainPhase }
  | ({ type: 'progress' } & BatchProgress)
  | ({ type: 'epoch' } & EpochResult)
  | { type: 'checkpoint'; epoch: number; path: string }
  | { type: 'done'; outcome: TrainOutcome }
  /** Something escaped the trainer (it reports training failures as a 'done' outcome). */
  | { type: 'error'; message: string; stack?: string };

/** For exhaustive switches: a compile error when a message type is not handled. */
export function assertNever(x: never): never {
  throw new Error(`unhandled worker message: ${JSON.stringify(x)}`);
}

/**
 * The buffers of a batch to transfer with postMessage. A typed array that is
 * a view into a larger buffer is copied first, so the transfer moves exactly
 * its bytes (and never detaches memory the provider still uses elsewhere).
 */
export function transferableBatch(batch: Batch): { batch: Batch; transfer: ArrayBuffer[] } {
  const own = <T extends Float32Array | Uint8Array>(a: T): T =>
    a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a : (a.slice() as T);
  const x = own(batch.x);
  const transfer: ArrayBuffer[] = [x.buffer as ArrayBuffer];
  let targets = batch.targets;
  if (targets.task === 'classification') {
    const labels = own(targets.labels);
    transfer.push(labels.buffer as ArrayBuffer);
    targets = { task: 'classification', labels };
  } else if (targets.task === 'segmentation') {
    const masks = own(targets.masks);
    transfer.push(masks.buffer as ArrayBuffer);
    targets = { task: 'segmentation', masks };
  }
  return { batch: { ...batch, x, targets }, transfer };
}
