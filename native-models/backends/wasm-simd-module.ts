/**
 * Loading the generated SIMD module: validated, compiled once, instantiated per backend against
 * its memory. Split from wasm-kernels.ts.
 */
import { type WasmBackendLike } from './wasm-heap';
import { encodeModule } from './wasm-asm';
import { buildAtb, buildMaxPoolGradRow, buildColSum, buildConvRow, buildCopy2d, buildScatterAddRow, buildBnGradSums, buildAffineChannels, buildMaxPool2x2Grad, buildChanOp } from './wasm-kernel-builders';

/**
 * The slice of the WebAssembly JS API used here. Declared locally because
 * this runtime's type libraries (ES2023 + @types/node 20) do not declare it.
 */
export interface WasmJsApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<object>;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => object;
}
export const WasmJs = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

export interface SimdKernels {
  atb(x: number, xs: number, xRow: number, dy: number, dys: number, dyRow: number, out: number, outRow: number, runLen: number, nRuns: number, m: number, co: number): void;
  maxPoolGradRow(x0: number, dy0: number, dx0: number, rows: number, w: number, c: number, ow: number, sw: number, fw: number, pl: number): void;
  colSum(x: number, rows: number, c: number, out: number): void;
  bnGradSums(x: number, dy: number, mean: number, rows: number, c: number, s1: number, s2: number): void;
  maxPoolGradRowSet(x0: number, dy0: number, dx0: number, rows: number, w: number, c: number, ow: number, sw: number, fw: number, pl: number): void;
  copy2d(dst: number, dstStride: number, src: number, srcStride: number, rowBytes: number, nRows: number): void;
  scatterAddRow(dst: number, src: number, colMap: number, nCols: number, c: number): void;
  affineChannels(x: number, out: number, rows: number, c: number, mean: number, scale: number, offset: number): void;
  maxPool2x2Grad(x0: number, dy0: number, dx0: number, w: number, c: number, ow: number): void;
  chanAdd(a: number, v: number, out: number, rows: number, c: number): void;
  chanSub(a: number, v: number, out: number, rows: number, c: number): void;
  chanRsub(a: number, v: number, out: number, rows: number, c: number): void;
  chanMul(a: number, v: number, out: number, rows: number, c: number): void;
  chanDiv(a: number, v: number, out: number, rows: number, c: number): void;
  chanRdiv(a: number, v: number, out: number, rows: number, c: number): void;
  convRow(x: number, xs: number, xRow: number, w: number, k: number, kh: number, out: number, nPix: number, co: number, bias: number, flags: number): void;
}

export let simdModule: object | null | undefined;
export const simdInstances = new WeakMap<object, SimdKernels | null>();
export let simdEnabled = true;

export function simdBytes(): Uint8Array {
  return encodeModule([
    buildAtb(),
    buildMaxPoolGradRow(false),
    buildMaxPoolGradRow(true),
    buildMaxPool2x2Grad(),
    buildColSum(),
    buildBnGradSums(),
    buildCopy2d(),
    buildScatterAddRow(),
    buildAffineChannels(),
    buildChanOp('chanAdd', 'add'),
    buildChanOp('chanSub', 'sub'),
    buildChanOp('chanRsub', 'rsub'),
    buildChanOp('chanMul', 'mul'),
    buildChanOp('chanDiv', 'div'),
    buildChanOp('chanRdiv', 'rdiv'),
    buildConvRow(),
  ]);
}

/**
 * Compiles the generated module ahead of first use (asynchronously, which a
 * browser main thread requires for modules over 4 KB). Resolves false when
 * the runtime lacks wasm SIMD; the kernels then use their fallbacks.
 */
export async function prepareWasmSimdKernels(): Promise<boolean> {
  if (simdModule !== undefined) return simdModule !== null;
  const bytes = simdBytes();
  if (!WasmJs.validate(bytes)) {
    simdModule = null;
    return false;
  }
  simdModule = await WasmJs.compile(bytes);
  return true;
}

export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  if (!simdEnabled) return null;
  const memory = backend.wasm.asm?.memory;
  if (!(memory instanceof WasmJs.Memory)) return null;
  const cached = simdInstances.get(memory);
  if (cached !== undefined) return cached;
  if (simdModule === undefined) {
    const bytes = simdBytes();
    simdModule = WasmJs.validate(bytes) ? new WasmJs.Module(bytes) : null;
  }
  if (simdModule === null) return null;
  let exports: SimdKernels | null;
  try {
    exports = new WasmJs.Instance(simdModule, { env: { memory } }).exports as unknown as SimdKernels;
  } catch {
    // e.g. the threaded build's shared memory, which this module's import does not declare.
    exports = null;
  }
  simdInstances.set(memory, exports);
  return exports;
}

/**
 * Turns the generated SIMD kernels off (true: on, the default). The fallbacks
 * are exact too; this exists so tests and benchmarks can exercise them.
 */
export function setWasmSimdKernelsEnabled(enabled: boolean): void {
  simdEnabled = enabled;
}
