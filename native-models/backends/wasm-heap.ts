/**
 * The parts of tfjs-backend-wasm's backend the training kernels use (its heap, tensor data, the
 * shipped kernels they fall back to), and small helpers over them. Split from wasm-kernels.ts.
 */
import { backend_util, getKernel } from '@tensorflow/tfjs';
import type { DataType, KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

// ===========================================================================
// The parts of tfjs-backend-wasm's BackendWasm used here. Declared
// structurally: the package's own .d.ts needs @types/emscripten.

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

export interface WasmModule {
  HEAPF32: Float32Array;
  /** Emscripten's raw exports; `memory` is the module's WebAssembly.Memory. */
  asm?: { memory?: unknown };
}

/** The subset of tfjs-backend-wasm's `BackendWasm` these kernels rely on. */
export interface WasmBackendLike {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

export type Shape4 = [number, number, number, number];
export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];
export type PadAttr = 'same' | 'valid' | number | ExplicitPad;
export type RoundingAttr = 'floor' | 'round' | 'ceil' | undefined;
export interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WasmBackendLike;
  attrs: NamedAttrMap;
}

/** Byte offset of a tensor's data on the wasm heap. */
export function byteOffset(backend: WasmBackendLike, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data == null) throw new Error('wasm-kernels: tensor is not on the wasm backend');
  return data.memoryOffset >>> 0;
}

/** Float32 index of a tensor's data on the heap. */
export function f32Offset(backend: WasmBackendLike, t: TensorInfo): number {
  return byteOffset(backend, t) >>> 2;
}

/** The heap as float32. Take it again after any allocation: growth detaches the old buffer. */
export function heap(backend: WasmBackendLike): Float32Array {
  return backend.wasm.HEAPF32;
}

export function free(backend: WasmBackendLike, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/** A TensorInfo over `t`'s memory with another shape (no refcount change). */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

export function input(args: KernelArgs, name: string, kernel: string): TensorInfo {
  const t = args.inputs[name];
  if (t == null) throw new Error(`${kernel}: missing input '${name}'`);
  return t;
}

/** Shipped wasm kernels, captured before we replace any (we delegate to them). */
export const shipped = new Map<string, KernelConfig>();

export function runShipped(name: string, backend: WasmBackendLike, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
  const cfg = shipped.get(name) ?? getKernel(name, 'wasm');
  if (cfg == null) throw new Error(`wasm-kernels: kernel ${name} is not registered for wasm`);
  const out = cfg.kernelFunc({ inputs, backend, attrs });
  const first = Array.isArray(out) ? out[0] : out;
  if (first == null) throw new Error(`wasm-kernels: ${name} returned nothing`);
  return first;
}

export function conv2dInfo(xShape: number[], filterShape: number[], strides: unknown, pad: unknown, rounding: unknown): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    strides as [number, number],
    1,
    pad as PadAttr,
    rounding as RoundingAttr,
    false,
    'channelsLast',
  );
}

export function assertNHWC(dataFormat: unknown, kernel: string): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`wasm ${kernel} supports NHWC only, got ${String(dataFormat)}`);
  }
}
