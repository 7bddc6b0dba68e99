/**
 * Recognising out-of-memory failures (every backend reports them
 * differently) and telling a person what to change. No tfjs import: the
 * engine uses this on the calling thread for a worker that died.
 */
import type { BackendName } from '../../electron/contract/domain';
import type { TrainConfig } from '../../electron/contract/ml';

const OOM_PATTERN =
  /out of memory|\bOOM\b|memory access out of bounds|cannot allocate|failed to allocate|allocation failed|Aborted\(|Cannot enlarge memory|Invalid typed array length|Array buffer allocation failed|ResourceExhausted|ERR_WORKER_OUT_OF_MEMORY/i;

const WasmRuntimeError = (globalThis as { WebAssembly?: { RuntimeError?: abstract new (...a: never[]) => Error } }).WebAssembly?.RuntimeError;

/**
 * Whether an error thrown by tfjs (any backend) or V8 means memory ran out.
 * On wasm, a failed allocation surfaces as whatever trap the code that got
 * no memory hits next ('memory access out of bounds', 'null function or
 * function signature mismatch', 'Aborted()'), so any WebAssembly.RuntimeError
 * from the wasm backend counts as running out of memory.
 */
export function isOutOfMemory(e: unknown, backend?: BackendName): boolean {
  if (backend === 'wasm' && WasmRuntimeError && e instanceof WasmRuntimeError) return true;
  const msg = e instanceof Error ? `${e.name}: ${e.message} ${(e as NodeJS.ErrnoException).code ?? ''}` : String(e);
  return OOM_PATTERN.test(msg);
}

/** The message for a person: what ran out and what to change. */
export function outOfMemoryMessage(config: TrainConfig, detail: string): string {
  const smallerBatch = Math.max(1, Math.floor(config.batchSize / 2));
  const smallerInput = Math.max(32, Math.round(config.inputSize / 2 / 16) * 16);
  return (
    `Out of memory while training (batch size ${config.batchSize}, input ${config.inputSize}x${config.inputSize}x${config.channels}). ` +
    `Try a smaller batch size (e.g. ${smallerBatch}) or a smaller input size (e.g. ${smallerInput}). (${detail.split('\n')[0]?.slice(0, 200) ?? ''})`
  );
}
