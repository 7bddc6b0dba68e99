/**
 * ONNX Runtime sessions for model help: onnxruntime-node loaded once per thread (train/onnx-inference.ts
 * loadOnnxRuntime), and sessions created from VERIFIED bytes, never from a path (verified-file.ts).
 */
import type * as OrtTypes from 'onnxruntime-node';
import type { OnnxFileRef } from '../../electron/contract/assist-engine';
import { loadOnnxRuntime } from '../train/onnx-inference';
import { readVerified } from './verified-file';

type Ort = typeof OrtTypes;
type Session = OrtTypes.InferenceSession;

/** onnxruntime-node, or an Error saying why it does not load. */
export async function requireOrt(): Promise<Ort> {
  const loaded = await loadOnnxRuntime();
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.ort;
}

/** A CPU session on the file's verified bytes. */
export async function verifiedSession(ort: Ort, ref: OnnxFileRef, threads: number): Promise<Session> {
  const bytes = await readVerified(ref);
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
}
