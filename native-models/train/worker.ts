/**
 * Entry of the training worker thread, and of the inference worker when started with
 * workerData { mode: 'inference' } (see protocol.ts for the messages), and of a data-parallel
 * replica when started with workerData { mode: 'replica' } (data-parallel.ts).
 * The batches come from the calling thread, one request per batch; the
 * trainer prefetches the next batch while it computes the current one, so
 * decoding on the calling thread overlaps training here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Batch } from '../../electron/contract/ml';
import { createAssistHandler } from '../assist/assist-worker';
import { isAssistMessage } from '../assist/assist-protocol';
import { isOutOfMemory } from './errors';
import type { ReplicaWorkerData } from './data-parallel';
import { runReplica } from './data-parallel-replica';
import { createInference, predictionTransfer } from './inference';
import { assertNever, type FromInferenceWorker, type FromWorker, type InferenceWorkerData, type ToInferenceWorker, type ToWorker } from './protocol';
import { runTraining } from './trainer';

const port = parentPort;
if (port == null) throw new Error('native-models/train/worker must run in a worker thread');

const inferenceData = workerData as InferenceWorkerData | ReplicaWorkerData | undefined;
if (inferenceData?.mode === 'replica') {
  // A data-parallel replica of a training run (data-parallel.ts).
  void runReplica(port, inferenceData);
} else if (inferenceData?.mode === 'inference') {
  // Requests run one after another (TF.js on one backend), in arrival order.
  const inference = createInference();
  const assist = createAssistHandler(port, inferenceData.assist);
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (m: ToInferenceWorker) => {
    if (isAssistMessage(m)) {
      assist(m);
      return;
    }
    queue = queue.then(async () => {
      let reply: FromInferenceWorker;
      let transfer: ArrayBuffer[] = [];
      try {
        const predictions = await inference.predict(m.backend, m.checkpoint, m.config, m.x, m.n);
        reply = { type: 'predictions', requestId: m.requestId, predictions, engine: inference.engineFor(m.checkpoint) };
        transfer = predictionTransfer(predictions);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        reply = { type: 'predict-error', requestId: m.requestId, message: err.message, outOfMemory: isOutOfMemory(err, m.backend) };
      }
      port.postMessage(reply, transfer);
    });
  });
} else {
  port.on('message', onTrainingMessage);
}

const post = (m: FromWorker): void => port.postMessage(m);
const pending = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
let nextRequestId = 1;
let cancelled = false;
let started = false;

function requestBatch(split: 'train' | 'val', epoch: number, index: number): Promise<Batch> {
  return new Promise((resolve, reject) => {
    const requestId = nextRequestId++;
    pending.set(requestId, { resolve, reject });
    post({ type: 'need-batch', requestId, split, epoch, index });
  });
}

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  try {
    const outcome = await runTraining(
      m.config,
      { batchesPerEpoch: m.batchesPerEpoch, batch: requestBatch },
      m.options,
      {
        isCancelled: () => cancelled,
        onStarted: (backend) => post({ type: 'started', backend }),
        onPhase: (phase) => post({ type: 'phase', phase }),
        onBatch: (p) => post({ type: 'progress', ...p }),
        onEpoch: (r) => post({ type: 'epoch', ...r }),
        onCheckpoint: (epoch, path) => post({ type: 'checkpoint', epoch, path }),
      },
      // The calling thread discards this worker after a failure: no recovery needed here.
      { recoverWasmAfterAbort: false },
    );
    post({ type: 'done', outcome });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: 'error', message: err.message, ...(err.stack ? { stack: err.stack } : {}) });
  }
}

function onTrainingMessage(m: ToWorker): void {
  switch (m.type) {
    case 'start':
      if (!started) {
        started = true;
        void start(m);
      }
      break;
    case 'batch': {
      const p = pending.get(m.requestId);
      pending.delete(m.requestId);
      p?.resolve(m.batch);
      break;
    }
    case 'batch-error': {
      const p = pending.get(m.requestId);
      pending.delete(m.requestId);
      p?.reject(new Error(`the data pipeline failed to produce a batch: ${m.message}`));
      break;
    }
    case 'cancel':
      cancelled = true;
      break;
    default:
      assertNever(m);
  }
}
