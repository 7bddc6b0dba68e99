/**
 * Training kernels for the TensorFlow.js wasm backend (tfjs-backend-wasm 4.22).
 *
 * As shipped, the wasm backend cannot train a conv net: `Conv2DBackpropFilter`
 * is not registered, and `Conv2DBackpropInput` and `MaxPoolGrad` are naive C++
 * loops (about 10x a forward conv). `registerWasmTrainingKernels()` registers
 * replacements for 'wasm', plus shipped kernels that are slow on the shapes a
 * CNN or U-Net trains with. All work in place on the wasm heap:
 *
 * - Conv2DBackpropFilter: dW[a,b,c,o] = sum_p x[p + tap(a,b), c] dy[p, o] is a
 *   product of two pixel-major matrices. XNNPACK (the backend's GEMM) needs
 *   one operand repacked on every call, and repacking a pixel-sized operand
 *   cost more than the product, so the product runs in a SIMD kernel generated
 *   at run time (see "Generated SIMD kernels") that reads x and dy in place
 *   with strides. Without wasm SIMD: im2col rows + XNNPACK fully-connected.
 * - Conv2D, FusedConv2D (bias, relu): a generated SIMD kernel over the NHWC
 *   input and [kh,kw,C,CO] filter in place (register tiles of 4 pixels x 8
 *   channels), 20-25% faster than the shipped XNNPACK conv on these shapes;
 *   other activations, dilation, C*kw < 8 or CO % 4 != 0 go to XNNPACK.
 * - Conv2DBackpropInput: one conv (as above) of dy with the flipped, in/out
 *   transposed filter. Stride s > 1 is split into s*s output phases whose
 *   sub-filters are stacked along the output channels of that one conv, then
 *   interleaved back with block copies.
 * - MaxPoolGrad: argmax per window (first maximum, as the cpu backend), SIMD
 *   over channels, unrolled for 2x2/2; JS when channels % 4 != 0.
 * - BatchMatMul: the shipped kernel uses XNNPACK only for batch 1 without
 *   transposes and a naive loop otherwise, and dense-layer gradients
 *   transpose: transposes are materialised (C++ Transpose), then XNNPACK.
 * - Sum, Mean over all axes but the last (bias gradients, batch-norm moments):
 *   the shipped kernels transpose the whole tensor first. SIMD column sums.
 * - FusedBatchNorm, and Add/Sub/Multiply/RealDiv of a tensor with a
 *   per-channel vector or a scalar: one SIMD pass (the shipped broadcasting
 *   loops are 4-10x slower, shipped RealDiv by a scalar ~8x); with a
 *   per-pixel column ([..., 1]) or channels % 4 != 0 (the segmentation
 *   loss): a JS loop over the heap, still ~4x the shipped loops.
 * - Tile, Slice, SplitV, Concat: SIMD block copies (shipped Tile is ~30 ns per
 *   element; Slice copies its whole input out of the heap first; Concat
 *   copies once per pixel on a channel concat). U-Net skips and batch-norm
 *   gradients use all of them.
 * - ResizeNearestNeighborGrad (UpSampling2D's gradient): SIMD scatter-add.
 * - The FusedBatchNorm gradient (registered with tf.registerGradient; it
 *   falls back to tfjs-core's on other backends and shapes): two SIMD passes
 *   (per-channel sums, then dx) for tfjs-core's ~10 full-size elementwise
 *   ops and 4 reductions (profiled U-Net 128x128 b8 step: Multiply 538 calls
 *   / ~80 ms -> 370 / ~30 ms, Sum 83 / ~20 ms -> 27 / ~6 ms, Tile gone).
 * - Identity, and Cast to the same dtype: share the buffer (refcounted), as
 *   the cpu backend does, instead of copying it.
 *
 * - Conv2D, FusedConv2D, Conv2DBackpropInput and (stride 1, 4+ input
 *   channels; im2col in L2-sized tiles) Conv2DBackpropFilter run on ONNX Runtime's CPU kernels when
 *   onnxruntime-node loads (ort-conv.ts: 1-2.5x the SIMD kernels above,
 *   least at 128x128 with 16 channels, where the convs are memory-bound);
 *   the kernels above are the fallback.
 *
 * Anything outside what a replacement handles (dtypes, layouts, shapes) is
 * passed to the shipped kernel. NHWC only (the wasm backend's convs are NHWC
 * only); gradients for dilation 1 (tfjs-core's conv gradients assert the same).
 */
import { backend_util, engine, getBackend, getGradient, getKernel, registerGradient, registerKernel, slice_util, unregisterKernel, util } from '@tensorflow/tfjs';
// Registers the wasm backend and its shipped kernels first, so ours always
// replace them (and not the other way round) whatever the import order.
import '@tensorflow/tfjs-backend-wasm';
import type { DataType, GradConfig, KernelConfig, KernelFunc, NamedTensorMap, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { backpropFilterOnOrt, backpropInputFits, ortConvBackpropFilter, ortConvBackpropInput, ortConvForward, ortConvKernelsActive, type ConvGeometry } from './ort-conv';
import { type WasmBackendLike, type Shape4, type ExplicitPad, type PadAttr, type RoundingAttr, type KernelArgs, byteOffset, f32Offset, heap, free, view, input, shipped, runShipped, conv2dInfo, assertNHWC } from './wasm-heap';
import { type SimdKernels, simdKernels } from './wasm-simd-module';

// The module's public entry points stay importable from here.
export { prepareWasmSimdKernels, setWasmSimdKernelsEnabled } from './wasm-simd-module';
export type { WasmBackendLike } from './wasm-heap';

/**
 * Copies nRows rows of rowBytes bytes (offsets and strides in bytes, all
 * multiples of 4) within the heap; the SIMD kernel when available.
 */
function copyRows(backend: WasmBackendLike, simd: SimdKernels | null, dst: number, dstStride: number, src: number, srcStride: number, rowBytes: number, nRows: number): void {
  if (rowBytes <= 0 || nRows <= 0) return;
  if (simd != null) {
    simd.copy2d(dst, dstStride, src, srcStride, rowBytes, nRows);
    return;
  }
  const mem = heap(backend);
  const n = rowBytes >>> 2;
  for (let r = 0; r < nRows; r++) {
    const s0 = (src + r * srcStride) >>> 2;
    mem.copyWithin((dst + r * dstStride) >>> 2, s0, s0 + n);
  }
}

/** dtypes stored as 4-byte elements, which the copy kernels move bit-exactly. */
function fourByte(dtype: DataType): boolean {
  return dtype === 'float32' || dtype === 'int32';
}

/**
 * x [N, H, W, C] copied into [N, H, Wp, C] with `pl` zero columns on the left
 * and zeros after its columns (dropping columns past Wp - pl): a filter row
 * then reads kw*C consecutive floats for every output pixel, borders included.
 */
function padColumns(backend: WasmBackendLike, x: TensorInfo, pl: number, Wp: number): TensorInfo {
  const [N, H, W, C] = x.shape as Shape4;
  const xs = backend.makeOutput([N, H, Wp, C], 'float32');
  const mem = heap(backend);
  const src0 = f32Offset(backend, x);
  const dst0 = f32Offset(backend, xs);
  const copyCols = Math.max(0, Math.min(W, Wp - pl));
  for (let row = 0; row < N * H; row++) {
    const dst = dst0 + row * Wp * C;
    const src = src0 + row * W * C;
    mem.fill(0, dst, dst + pl * C);
    mem.copyWithin(dst + pl * C, src, src + copyCols * C);
    mem.fill(0, dst + (pl + copyCols) * C, dst + Wp * C);
  }
  return xs;
}

// ===========================================================================
// Conv2D, FusedConv2D

/** Shapes the convRow kernel takes: whole 4-channel output groups, enough depth per filter row to amortise a tile, no dilation. */
function convRowEligible(info: backend_util.Conv2DInfo): boolean {
  return info.outChannels % 4 === 0 && info.filterWidth * info.inChannels >= 8 && info.dilationHeight === 1 && info.dilationWidth === 1 && info.dataFormat === 'channelsLast';
}

/**
 * NHWC convolution on the convRow kernel, one output row per call. Filter
 * rows that fall in the top/bottom padding are skipped (the call starts at
 * the first row inside the image); left/right padding is materialised with
 * padColumns. Optional per-channel bias and relu are applied in the kernel.
 */
function convForward(backend: WasmBackendLike, simd: SimdKernels, x: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo, bias: TensorInfo | null, relu: boolean): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const Wp = (OW - 1) * sw + kw;
  const needCopy = pl > 0 || Wp > W + pl;
  const out = backend.makeOutput([N, OH, OW, CO], 'float32');
  const xs = needCopy ? padColumns(backend, x, pl, Wp) : x;
  const xW = needCopy ? Wp : W;
  const xB = byteOffset(backend, xs);
  const wB = byteOffset(backend, filter);
  const oB = byteOffset(backend, out);
  const biasB = bias != null ? byteOffset(backend, bias) : 0;
  const flags = (bias != null ? 1 : 0) | (relu ? 2 : 0);
  const pixB = C * 4;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const top = oh * sh - pt;
      const a0 = Math.max(0, -top);
      const a1 = Math.min(kh, H - top);
      const rows = Math.max(0, a1 - a0);
      const xPtr = rows > 0 ? xB + (n * H + top + a0) * xW * pixB : xB;
      simd.convRow(xPtr, sw * pixB, xW * pixB, wB + a0 * kw * C * CO * 4, kw * C, rows, oB + (n * OH + oh) * OW * CO * 4, OW, CO, biasB, flags);
    }
  }
  if (needCopy) free(backend, xs);
  return out;
}

function forwardInfo(args: KernelArgs, x: TensorInfo, filter: TensorInfo): backend_util.Conv2DInfo {
  const { attrs } = args;
  return backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    attrs['strides'] as [number, number],
    (attrs['dilations'] as [number, number] | number | undefined) ?? 1,
    attrs['pad'] as PadAttr,
    attrs['dimRoundingMode'] as RoundingAttr,
    false,
    backend_util.convertConv2DDataFormat((attrs['dataFormat'] as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC'),
  );
}

// ---------------------------------------------------------------------------
// Convolutions on ONNX Runtime (ort-conv.ts) when it loads: read in place from the heap.

function geometry(info: backend_util.Conv2DInfo): ConvGeometry {
  const p = info.padInfo;
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    CO: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pads: { top: p.top, bottom: p.bottom, left: p.left, right: p.right },
  };
}

function ortEligible(info: backend_util.Conv2DInfo, ...ts: TensorInfo[]): boolean {
  return info.dilationHeight === 1 && info.dilationWidth === 1 && info.dataFormat === 'channelsLast' && ts.every((t) => t.dtype === 'float32') && ortConvKernelsActive();
}

/** A heap view of a float32 tensor (valid until the next allocation). */
function heapView(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  const o = f32Offset(backend, t);
  return heap(backend).subarray(o, o + util.sizeFromShape(t.shape));
}

function fromOrt(backend: WasmBackendLike, shape: number[], run: (out: Float32Array) => void): TensorInfo {
  // Output first: allocating may grow (and so detach) the heap, so input views are taken after.
  const out = backend.makeOutput(shape, 'float32');
  run(heapView(backend, out));
  return out;
}

function ortForward(backend: WasmBackendLike, x: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo, bias: TensorInfo | null, relu: boolean): TensorInfo {
  const g = geometry(info);
  return fromOrt(backend, [g.N, g.OH, g.OW, g.CO], (out) => ortConvForward(heapView(backend, x), heapView(backend, filter), bias ? heapView(backend, bias) : null, relu, g, out));
}

function conv2D(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'Conv2D');
  const filter = input(args, 'filter', 'Conv2D');
  const info = forwardInfo(args, x, filter);
  if (ortEligible(info, x, filter)) return ortForward(backend, x, filter, info, null, false);
  const simd = x.dtype === 'float32' && filter.dtype === 'float32' && convRowEligible(info) ? simdKernels(backend) : null;
  if (simd == null) return runShipped('Conv2D', backend, { x, filter }, attrs);
  return convForward(backend, simd, x, filter, info, null, false);
}

/** Conv + bias + activation (inference, and training convs with a linear activation). */
function fusedConv2D(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'FusedConv2D');
  const filter = input(args, 'filter', 'FusedConv2D');
  const bias = args.inputs['bias'] ?? null;
  const prelu = args.inputs['preluActivationWeights'] ?? null;
  const activation = (attrs['activation'] as string | undefined) ?? 'linear';
  const info = forwardInfo(args, x, filter);
  const simpleBias = bias == null || (bias.dtype === 'float32' && util.sizeFromShape(bias.shape) === info.outChannels);
  if (prelu == null && simpleBias && (activation === 'linear' || activation === 'relu') && ortEligible(info, x, filter)) {
    return ortForward(backend, x, filter, info, bias, activation === 'relu');
  }
  const eligible = x.dtype === 'float32' && filter.dtype === 'float32' && prelu == null && simpleBias && (activation === 'linear' || activation === 'relu') && convRowEligible(info);
  const simd = eligible ? simdKernels(backend) : null;
  if (simd == null) {
    const shippedInputs: Record<string, TensorInfo> = { x, filter };
    if (bias != null) shippedInputs['bias'] = bias;
    if (prelu != null) shippedInputs['preluActivationWeights'] = prelu;
    return runShipped('FusedConv2D', backend, shippedInputs, attrs);
  }
  return convForward(backend, simd, x, filter, info, bias, activation === 'relu');
}

// ===========================================================================
// Conv2DBackpropFilter

/** Output rows oh in [lo, hi) whose input row oh*s + a - pt lies inside [0, H). */
function validRange(a: number, s: number, pt: number, H: number, OH: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pt - a) / s));
  const hi = Math.min(OH, Math.floor((H - 1 + pt - a) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'Conv2DBackpropFilter');
  const dy = input(args, 'dy', 'Conv2DBackpropFilter');
  assertNHWC(attrs['dataFormat'], 'Conv2DBackpropFilter');
  const info = conv2dInfo(x.shape, attrs['filterShape'] as number[], attrs['strides'], attrs['pad'], attrs['dimRoundingMode']);
  if (ortEligible(info, x, dy) && backpropFilterOnOrt(geometry(info))) {
    const g = geometry(info);
    return fromOrt(backend, [g.kh, g.kw, g.C, g.CO], (out) => ortConvBackpropFilter(heapView(backend, x), heapView(backend, dy), g, out));
  }
  const simd = simdKernels(backend);
  if (simd != null && (info.outChannels % 4 === 0 || (info.filterWidth * info.inChannels) % 4 === 0)) return backpropFilterSimd(backend, simd, x, dy, info);
  return backpropFilterIm2col(backend, x, dy, info);
}

/**
 * For filter row a, output pixel (n, oh, ow) reads kw*C consecutive floats of
 * x starting at column ow*sw - pl of input row oh*sh + a - pt, so
 * dW[a] ([kw*C, CO], contiguous in [kh,kw,C,CO]) is one strided GEMM over the
 * output pixels whose input row is inside the image. Columns left of 0 or
 * right of W would read the neighbouring row, so with left/right padding x is
 * first copied into a zero-bordered [N, H, Wp, C].
 *
 * The GEMM kernel needs its column count (CO) to be a multiple of 4; when only
 * kw*C is, the operands swap roles and dW[a]^T is computed, then transposed.
 */
function backpropFilterSimd(backend: WasmBackendLike, simd: SimdKernels, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const Wp = (OW - 1) * sw + kw; // columns the filter reaches, from -pl
  const needCopy = pl > 0 || Wp > W + pl;
  const dw = backend.makeOutput([kh, kw, C, CO], 'float32');
  let xs = x;
  let xW = W;
  if (needCopy) {
    xs = padColumns(backend, x, pl, Wp);
    xW = Wp;
  }
  const mem = heap(backend);
  const dwOff = f32Offset(backend, dw);
  mem.fill(0, dwOff, dwOff + kh * kw * C * CO);
  const xBase = byteOffset(backend, xs);
  const dyBase = byteOffset(backend, dy);
  const dwBase = byteOffset(backend, dw);
  const M = kw * C;
  const pixBytes = C * 4;
  const swap = CO % 4 !== 0;
  const dwT = swap ? backend.makeOutput([kh, CO, M], 'float32') : null;
  const outBase = dwT != null ? byteOffset(backend, dwT) : dwBase;
  if (dwT != null) heap(backend).fill(0, outBase >>> 2, (outBase >>> 2) + kh * CO * M);
  // Rows per call: keep one call's x and dy rows within ~128 KB of cache.
  const bytesPerRow = OW * (CO + M) * 4 + xW * C * 4 * sh;
  const rowsPerChunk = Math.max(1, Math.floor((128 * 1024) / bytesPerRow));
  for (let n = 0; n < N; n++) {
    for (let r0 = 0; r0 < OH; r0 += rowsPerChunk) {
      const r1 = Math.min(OH, r0 + rowsPerChunk);
      for (let a = 0; a < kh; a++) {
        const [lo0, hi0] = validRange(a, sh, pt, H, OH);
        const lo = Math.max(lo0, r0);
        const hi = Math.min(hi0, r1);
        if (hi <= lo) continue;
        const ih = lo * sh + a - pt;
        const xPtr = xBase + (n * H + ih) * xW * pixBytes;
        const dyPtr = dyBase + (n * OH + lo) * OW * CO * 4;
        if (swap) {
          simd.atb(dyPtr, CO * 4, OW * CO * 4, xPtr, sw * pixBytes, sh * xW * pixBytes, outBase + a * CO * M * 4, M * 4, OW, hi - lo, CO, M);
        } else {
          simd.atb(xPtr, sw * pixBytes, sh * xW * pixBytes, dyPtr, CO * 4, OW * CO * 4, dwBase + a * M * CO * 4, CO * 4, OW, hi - lo, M, CO);
        }
      }
    }
  }
  if (needCopy) free(backend, xs);
  if (dwT != null) {
    const mem = heap(backend);
    const t0 = outBase >>> 2;
    const d0 = dwBase >>> 2;
    for (let a = 0; a < kh; a++) {
      for (let o = 0; o < CO; o++) {
        for (let k = 0; k < M; k++) mem[d0 + (a * M + k) * CO + o] = mem[t0 + (a * CO + o) * M + k] as number;
      }
    }
    free(backend, dwT);
  }
  return dw;
}

/**
 * Fallback without wasm SIMD (or when neither CO nor kw*C is a multiple of
 * 4): im2col rows laid out
 * [kh*kw*C, pixels] through a channel-major phase grid of x, so each row is
 * one memmove, then XNNPACK fully-connected with dy (on the same grid) as the
 * weights. See backpropFilterSimd for the indexing.
 */
function backpropFilterIm2col(backend: WasmBackendLike, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // Phase grid: phase (ph, pw) holds input rows/cols congruent to ph/pw mod
  // stride, qh < Hq = OH + floor((kh-1)/sh), channel-major [c][n][qh][qw].
  const Hq = OH + Math.floor((kh - 1) / sh);
  const Wq = OW + Math.floor((kw - 1) / sw);
  const L = N * Hq * Wq;
  const usedPhH = Math.min(sh, kh);
  const usedPhW = Math.min(sw, kw);
  const xq = backend.makeOutput([usedPhH * usedPhW * C * L], 'float32');
  const patches = backend.makeOutput([1, kh * kw * C, L], 'float32');
  const needDyGrid = Hq !== OH || Wq !== OW;
  const dyq = needDyGrid ? backend.makeOutput([1, L, CO], 'float32') : view(dy, [1, L, CO]);
  const mem = heap(backend);
  const xOff = f32Offset(backend, x);
  const xqOff = f32Offset(backend, xq);
  const HqWq = Hq * Wq;
  for (let ph = 0; ph < usedPhH; ph++) {
    for (let pw = 0; pw < usedPhW; pw++) {
      const phaseBase = xqOff + (ph * usedPhW + pw) * C * L;
      for (let n = 0; n < N; n++) {
        for (let qh = 0; qh < Hq; qh++) {
          const ih = qh * sh + ph - pt;
          const rowDst = phaseBase + n * HqWq + qh * Wq;
          if (ih < 0 || ih >= H) {
            for (let c = 0; c < C; c++) mem.fill(0, rowDst + c * L, rowDst + c * L + Wq);
            continue;
          }
          const rowSrc = xOff + (n * H + ih) * W * C;
          for (let qw = 0; qw < Wq; qw++) {
            const iw = qw * sw + pw - pl;
            const dst = rowDst + qw;
            if (iw < 0 || iw >= W) {
              for (let c = 0; c < C; c++) mem[dst + c * L] = 0;
            } else {
              const src = rowSrc + iw * C;
              for (let c = 0; c < C; c++) mem[dst + c * L] = mem[src + c] as number;
            }
          }
        }
      }
    }
  }
  // Tap (a, b) reads phase (a mod sh, b mod sw) shifted by floor(a/sh) rows
  // and floor(b/sw) columns; positions it reads across a row or image edge
  // meet dy's zero border. The tail past the block end is zero-filled.
  const pOff = f32Offset(backend, patches);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const phase = (a % sh) * usedPhW + (b % sw);
      const shift = Math.floor(a / sh) * Wq + Math.floor(b / sw);
      for (let c = 0; c < C; c++) {
        const dst = pOff + ((a * kw + b) * C + c) * L;
        const src = xqOff + (phase * C + c) * L + shift;
        mem.copyWithin(dst, src, src + L - shift);
        if (shift > 0) mem.fill(0, dst + L - shift, dst + L);
      }
    }
  }
  if (needDyGrid) {
    const dyOff = f32Offset(backend, dy);
    const dqOff = f32Offset(backend, dyq);
    const rowLen = OW * CO;
    for (let n = 0; n < N; n++) {
      for (let qh = 0; qh < Hq; qh++) {
        const dst = dqOff + (n * HqWq + qh * Wq) * CO;
        if (qh < OH) {
          const src = dyOff + (n * OH + qh) * rowLen;
          mem.copyWithin(dst, src, src + rowLen);
          mem.fill(0, dst + rowLen, dst + Wq * CO);
        } else {
          mem.fill(0, dst, dst + Wq * CO);
        }
      }
    }
  }
  free(backend, xq);
  const out = runShipped('BatchMatMul', backend, { a: patches, b: dyq }, { transposeA: false, transposeB: false });
  free(backend, patches);
  if (needDyGrid) free(backend, dyq);
  return view(out, [kh, kw, C, CO]);
}

// ===========================================================================
// Conv2DBackpropInput

/**
 * Per spatial dimension (size H, output OH, kernel k, stride s, pad-before p):
 * dx[i] = sum_{oh, t : oh*s + t - p = i} dy[oh] w[t]. Writing i + p = q*s + r
 * (0 <= r < s) gives t = r + m*s, oh = q - m: for each phase r a stride-1
 * correlation of dy with the flipped sub-filter w[r + (M-1-j)*s] (j < M =
 * ceil(k/s), zero past k), padded M-1-Q0 before, Q0 = floor(p/s). The
 * interleaved phases start at dx row -(p mod s).
 */
interface DimPlan {
  M: number;
  nQ: number;
  padBefore: number;
  padAfter: number;
  cropBegin: number;
  cropEnd: number;
  dxOffset: number;
}

function planDim(H: number, OH: number, k: number, s: number, p: number): DimPlan {
  const M = Math.ceil(k / s);
  const Q0 = Math.floor(p / s);
  const Q1 = Math.floor((H - 1 + p) / s);
  const nQ = Q1 - Q0 + 1;
  let padBefore = M - 1 - Q0;
  let padAfter = nQ - 1 - OH - padBefore + M;
  let cropBegin = 0;
  let cropEnd = OH;
  // Negative padding (explicit pads larger than the kernel): drop dy rows instead.
  if (padBefore < 0) {
    cropBegin = -padBefore;
    padBefore = 0;
  }
  if (padAfter < 0) {
    cropEnd = OH + padAfter;
    padAfter = 0;
  }
  return { M, nQ, padBefore, padAfter, cropBegin, cropEnd, dxOffset: p - Q0 * s };
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const dy = input(args, 'dy', 'Conv2DBackpropInput');
  const filter = input(args, 'filter', 'Conv2DBackpropInput');
  assertNHWC(attrs['dataFormat'], 'Conv2DBackpropInput');
  const info = conv2dInfo(attrs['inputShape'] as number[], filter.shape, attrs['strides'], attrs['pad'], attrs['dimRoundingMode']);
  if (ortEligible(info, dy, filter) && backpropInputFits(geometry(info))) {
    const g = geometry(info);
    return fromOrt(backend, [g.N, g.H, g.W, g.C], (out) => ortConvBackpropInput(heapView(backend, dy), heapView(backend, filter), g, out));
  }
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const rows = planDim(H, OH, kh, sh, info.padInfo.top);
  const cols = planDim(W, OW, kw, sw, info.padInfo.left);
  const phases = sh * sw;
  const Mh = rows.M;
  const Mw = cols.M;
  const outC = phases * C;

  // Flipped sub-filters stacked along output channels: [Mh, Mw, CO, phases*C],
  // phase (rh, rw) in channel block rh*sw + rw.
  const sub = backend.makeOutput([Mh, Mw, CO, outC], 'float32');
  {
    const mem = heap(backend);
    const fOff = f32Offset(backend, filter);
    const sOff = f32Offset(backend, sub);
    mem.fill(0, sOff, sOff + Mh * Mw * CO * outC);
    for (let rh = 0; rh < sh; rh++) {
      for (let rw = 0; rw < sw; rw++) {
        const block = (rh * sw + rw) * C;
        for (let jh = 0; jh < Mh; jh++) {
          const a = rh + (Mh - 1 - jh) * sh;
          if (a >= kh) continue;
          for (let jw = 0; jw < Mw; jw++) {
            const b = rw + (Mw - 1 - jw) * sw;
            if (b >= kw) continue;
            const src = fOff + (a * kw + b) * C * CO; // filter[a][b][c][o]
            const dst = sOff + (jh * Mw + jw) * CO * outC + block; // sub[jh][jw][o][block + c]
            for (let c = 0; c < C; c++) {
              for (let o = 0; o < CO; o++) mem[dst + o * outC + c] = mem[src + c * CO + o] as number;
            }
          }
        }
      }
    }
  }

  const cropped = rows.cropBegin > 0 || rows.cropEnd < OH || cols.cropBegin > 0 || cols.cropEnd < OW;
  const dyIn = cropped
    ? sliceInto(backend, simdKernels(backend), dy, [0, rows.cropBegin, cols.cropBegin, 0], [N, rows.cropEnd - rows.cropBegin, cols.cropEnd - cols.cropBegin, CO])
    : dy;
  const subPad: ExplicitPad = [[0, 0], [rows.padBefore, rows.padAfter], [cols.padBefore, cols.padAfter], [0, 0]];
  const subInfo = backend_util.computeConv2DInfo(dyIn.shape as Shape4, sub.shape as Shape4, 1, 1, subPad, undefined, false, 'channelsLast');
  const simdConv = convRowEligible(subInfo) ? simdKernels(backend) : null;
  const conv =
    simdConv != null
      ? convForward(backend, simdConv, dyIn, sub, subInfo, null, false)
      : runShipped('Conv2D', backend, { x: dyIn, filter: sub }, { strides: [1, 1], dilations: [1, 1], pad: subPad, dataFormat: 'NHWC' });
  free(backend, sub);
  if (cropped) free(backend, dyIn);

  if (phases === 1 && rows.dxOffset === 0 && cols.dxOffset === 0 && rows.nQ === H && cols.nQ === W) return view(conv, [N, H, W, C]);
  // Interleave the phases (and crop): dx[n, i, j] = conv[n, qh, qw, rh*sw + rw]
  // with (qh, rh) = divmod(i + offH, sh), (qw, rw) = divmod(j + offW, sw). The
  // sw phases of one qw are sw*C consecutive floats of conv and of dx, so a
  // dx row is one strided copy plus partial groups at its ends.
  const dx = backend.makeOutput([N, H, W, C], 'float32');
  const simd = simdKernels(backend);
  const cB = byteOffset(backend, conv);
  const dB = byteOffset(backend, dx);
  const pixB = C * 4;
  const groupB = outC * 4;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < H; i++) {
      const th = i + rows.dxOffset;
      const qh = Math.floor(th / sh);
      const rh = th - qh * sh;
      const srcRow = cB + (n * rows.nQ + qh) * cols.nQ * groupB + rh * sw * pixB;
      const dstRow = dB + (n * H + i) * W * pixB;
      let j = 0;
      while (j < W) {
        const tw = j + cols.dxOffset;
        const qw = Math.floor(tw / sw);
        const rw = tw - qw * sw;
        const src = srcRow + qw * groupB + rw * pixB;
        if (rw === 0 && j + sw <= W) {
          const groups = Math.floor((W - j) / sw);
          copyRows(backend, simd, dstRow + j * pixB, sw * pixB, src, groupB, sw * pixB, groups);
          j += groups * sw;
        } else {
          const run = Math.min(sw - rw, W - j);
          copyRows(backend, simd, dstRow + j * pixB, 0, src, 0, run * pixB, 1);
          j += run;
        }
      }
    }
  }
  free(backend, conv);
  return dx;
}

// ===========================================================================
// MaxPoolGrad

function maxPoolGrad(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const dy = input(args, 'dy', 'MaxPoolGrad');
  const x = input(args, 'input', 'MaxPoolGrad');
  const info = backend_util.computePool2DInfo(
    x.shape as Shape4,
    attrs['filterSize'] as [number, number],
    attrs['strides'] as [number, number],
    1,
    attrs['pad'] as PadAttr,
    attrs['dimRoundingMode'] as RoundingAttr,
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const dx = backend.makeOutput(x.shape, 'float32');
  const mem = heap(backend);
  const dxOff = f32Offset(backend, dx);
  const simd = C % 4 === 0 ? simdKernels(backend) : null;
  // Windows that tile the input exactly once: every dx element is written once.
  const tiles = sh === fh && sw === fw && OH * sh - pt >= H && OW * sw - pl >= W;
  if (simd == null || !tiles) mem.fill(0, dxOff, dxOff + N * H * W * C);
  if (simd != null && fh === 2 && fw === 2 && sh === 2 && sw === 2 && pt === 0 && pl === 0 && H === 2 * OH && W === 2 * OW) {
    const xB = byteOffset(backend, x);
    const dyB = byteOffset(backend, dy);
    const dxB = byteOffset(backend, dx);
    const rowBytes = W * C * 4;
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        const img = (n * H + 2 * oh) * rowBytes;
        simd.maxPool2x2Grad(xB + img, dyB + (n * OH + oh) * OW * C * 4, dxB + img, W, C, OW);
      }
    }
    return dx;
  }
  if (simd != null) {
    const row = tiles ? simd.maxPoolGradRowSet : simd.maxPoolGradRow;
    const xB = byteOffset(backend, x);
    const dyB = byteOffset(backend, dy);
    const dxB = byteOffset(backend, dx);
    const rowBytes = W * C * 4;
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        const r0 = Math.max(0, oh * sh - pt);
        const r1 = Math.min(H, oh * sh - pt + fh);
        if (r1 <= r0) continue;
        const img = (n * H + r0) * rowBytes;
        row(xB + img, dyB + (n * OH + oh) * OW * C * 4, dxB + img, r1 - r0, W, C, OW, sw, fw, pl);
      }
    }
    return dx;
  }
  // JS: same rule (strict '>' from -Infinity, first maximum in row-major window order).
  const xOff = f32Offset(backend, x);
  const dyOff = f32Offset(backend, dy);
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  for (let n = 0; n < N; n++) {
    const img = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const r0 = Math.max(0, oh * sh - pt);
      const r1 = Math.min(H, oh * sh - pt + fh);
      for (let ow = 0; ow < OW; ow++) {
        const c0 = Math.max(0, ow * sw - pl);
        const c1 = Math.min(W, ow * sw - pl + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let q = c0; q < c1; q++) {
            const pix = img + (r * W + q) * C;
            for (let c = 0; c < C; c++) {
              const v = mem[xOff + pix + c] as number;
              if (v > (best[c] as number)) {
                best[c] = v;
                where[c] = pix + c;
              }
            }
          }
        }
        const g = dyOff + ((n * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          const w = where[c] as number;
          if (w >= 0) mem[dxOff + w] = (mem[dxOff + w] as number) + (mem[g + c] as number);
        }
      }
    }
  }
  return dx;
}

// ===========================================================================
// BatchMatMul

function batchMatMul(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const a = input(args, 'a', 'BatchMatMul');
  const b = input(args, 'b', 'BatchMatMul');
  const transposeA = attrs['transposeA'] === true;
  const transposeB = attrs['transposeB'] === true;
  const batchA = util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = util.sizeFromShape(b.shape.slice(0, -2));
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || batchA !== 1 || batchB !== 1 || (!transposeA && !transposeB)) {
    return runShipped('BatchMatMul', backend, { a, b }, attrs);
  }
  const ar = a.shape[a.shape.length - 2] as number;
  const ac = a.shape[a.shape.length - 1] as number;
  const br = b.shape[b.shape.length - 2] as number;
  const bc = b.shape[b.shape.length - 1] as number;
  const a2 = transposeA ? runShipped('Transpose', backend, { x: view(a, [ar, ac]) }, { perm: [1, 0] }) : view(a, [ar, ac]);
  const b2 = transposeB ? runShipped('Transpose', backend, { x: view(b, [br, bc]) }, { perm: [1, 0] }) : view(b, [br, bc]);
  const m = a2.shape[0] as number;
  const k = a2.shape[1] as number;
  const nOut = b2.shape[1] as number;
  const out = runShipped('BatchMatMul', backend, { a: view(a2, [1, m, k]), b: view(b2, [1, k, nOut]) }, { transposeA: false, transposeB: false });
  if (transposeA) free(backend, a2);
  if (transposeB) free(backend, b2);
  const outer = (a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2);
  return view(out, [...outer, m, nOut]);
}

// ===========================================================================
// Sum

/** Rows per SIMD partial sum; partials are added in float64. */
const COLSUM_ROWS = 256;

/**
 * Sum and Mean over every axis but the last (bias gradients, batch-norm
 * moments): SIMD column sums of COLSUM_ROWS rows, accumulated in float64.
 * Other reductions go to the shipped kernel.
 */
function reduceLeading(args: KernelArgs, kernel: 'Sum' | 'Mean'): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', kernel);
  const rank = x.shape.length;
  const axes = util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
  const C = x.shape[rank - 1] ?? 0;
  const leading = rank >= 2 && axes.length === rank - 1 && [...axes].sort((p, q) => p - q).every((ax, i) => ax === i);
  const simd = leading && x.dtype === 'float32' && C % 4 === 0 && C > 0 ? simdKernels(backend) : null;
  const rows = util.sizeFromShape(x.shape) / Math.max(C, 1);
  if (simd == null || rows === 0) return runShipped(kernel, backend, { x }, attrs);
  const outShape = attrs['keepDims'] === true ? [...new Array<number>(rank - 1).fill(1), C] : [C];
  const out = backend.makeOutput(outShape, 'float32');
  const partial = backend.makeOutput([C], 'float32');
  const acc = new Float64Array(C);
  const xB = byteOffset(backend, x);
  const pB = byteOffset(backend, partial);
  for (let r0 = 0; r0 < rows; r0 += COLSUM_ROWS) {
    simd.colSum(xB + r0 * C * 4, Math.min(COLSUM_ROWS, rows - r0), C, pB);
    const mem = heap(backend);
    const p = pB >>> 2;
    for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (mem[p + c] as number);
  }
  if (kernel === 'Mean') for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) / rows;
  heap(backend).set(acc, f32Offset(backend, out));
  free(backend, partial);
  return out;
}

const sum = (args: KernelArgs): TensorInfo => reduceLeading(args, 'Sum');
const mean = (args: KernelArgs): TensorInfo => reduceLeading(args, 'Mean');

// ===========================================================================
// Slice, SplitV, Concat, Tile: block copies on the heap
//
// The shipped Slice copies the whole input out of the heap (readSync) before
// slicing in JS, SplitV is built on it, Concat calls TypedArray#set once per
// contiguous run (once per pixel for a channel concat), and Tile's C++ loop
// costs ~30 ns per element. Concat/split on channels is every U-Net skip
// connection; Tile is in every batch-norm gradient.

function sliceInto(backend: WasmBackendLike, simd: SimdKernels | null, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const rank = x.shape.length;
  if (util.sizeFromShape(size) === 0) return out;
  const strides = [...util.computeStrides(x.shape), 1];
  // Dims after k are taken whole, so each index over dims < k is one run.
  let k = rank - 1;
  while (k > 0 && size[k] === x.shape[k]) k--;
  const st = (d: number): number => strides[d] as number;
  const run = (size[k] as number) * st(k);
  const xB = byteOffset(backend, x);
  const oB = byteOffset(backend, out);
  const first = begin.reduce((acc, b, d) => acc + b * st(d), 0);
  if (k === 0) {
    copyRows(backend, simd, oB, 0, xB + first * 4, 0, run * 4, 1);
    return out;
  }
  const rowsDim = k - 1;
  const nRows = size[rowsDim] as number;
  const outer = size.slice(0, rowsDim);
  const idx = new Array<number>(rowsDim).fill(0);
  const total = util.sizeFromShape(outer);
  for (let o = 0; o < total; o++) {
    let src = first;
    for (let d = 0; d < rowsDim; d++) src += (idx[d] as number) * st(d);
    copyRows(backend, simd, oB + o * nRows * run * 4, run * 4, xB + src * 4, st(rowsDim) * 4, run * 4, nRows);
    for (let d = rowsDim - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (outer[d] as number)) break;
      idx[d] = 0;
    }
  }
  return out;
}

function slice(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'Slice');
  if (!fourByte(x.dtype)) return runShipped('Slice', backend, { x }, attrs);
  const [begin, size] = slice_util.parseSliceParams(x, attrs['begin'] as number[], attrs['size'] as number[]);
  return sliceInto(backend, simdKernels(backend), x, begin as number[], size as number[]);
}

function splitV(args: KernelArgs): TensorInfo[] {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'SplitV');
  if (!fourByte(x.dtype)) {
    const cfg = shipped.get('SplitV') ?? getKernel('SplitV', 'wasm');
    if (cfg == null) throw new Error('wasm-kernels: SplitV is not registered for wasm');
    return cfg.kernelFunc({ inputs: { x }, backend, attrs }) as TensorInfo[];
  }
  const axis = util.parseAxisParam(attrs['axis'] as number, x.shape)[0] as number;
  const sizes = backend_util.prepareSplitSize(x, attrs['numOrSizeSplits'] as number[] | number, axis);
  const simd = simdKernels(backend);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const part = sliceInto(backend, simd, x, [...begin], size);
    begin[axis] = (begin[axis] as number) + s;
    return part;
  });
}

function concat(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const all = Object.values(args.inputs).filter((t): t is TensorInfo => t != null);
  const firstInput = all[0];
  if (firstInput == null) throw new Error('Concat: no inputs');
  const dtype = firstInput.dtype;
  if (!fourByte(dtype) || all.some((t) => t.dtype !== dtype)) {
    // The shipped Concat maps over its inputs: pass them as the array it expects.
    return runShipped('Concat', backend, all as unknown as Record<string, TensorInfo>, attrs);
  }
  const axis = util.parseAxisParam(attrs['axis'] as number, firstInput.shape)[0] as number;
  backend_util.assertParamsConsistent(all.map((t) => t.shape), axis);
  const outShape = backend_util.computeOutShape(all.map((t) => t.shape), axis);
  const out = backend.makeOutput(outShape, dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  const simd = simdKernels(backend);
  const outer = util.sizeFromShape(outShape.slice(0, axis));
  const totalInner = util.sizeFromShape(outShape.slice(axis));
  const oB = byteOffset(backend, out);
  let offset = 0;
  for (const t of all) {
    const inner = util.sizeFromShape(t.shape.slice(axis));
    if (inner > 0 && outer > 0) copyRows(backend, simd, oB + offset * 4, totalInner * 4, byteOffset(backend, t), inner * 4, inner * 4, outer);
    offset += inner;
  }
  return out;
}

function tile(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'Tile');
  const reps = attrs['reps'] as number[];
  if (!fourByte(x.dtype)) return runShipped('Tile', backend, { x }, attrs);
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * (reps[i] as number));
  const out = backend.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  const mem = heap(backend);
  const xOff = f32Offset(backend, x);
  const oOff = f32Offset(backend, out);
  const xStrides = [...util.computeStrides(x.shape), 1];
  const outBlock = [...util.computeStrides(outShape), 1];
  // Copy x's block for dim d, then repeat it reps[d] times by doubling
  // copies (copyWithin moves bytes, so int32 and NaN bits survive).
  const write = (d: number, src: number, dst: number): void => {
    const extent = x.shape[d] as number;
    const block = outBlock[d] as number; // output elements per index of dim d
    if (d === rank - 1) {
      mem.copyWithin(dst, src, src + extent);
    } else {
      for (let i = 0; i < extent; i++) write(d + 1, src + i * (xStrides[d] as number), dst + i * block);
    }
    const span = extent * block;
    const total = span * (reps[d] as number);
    for (let filled = span; filled < total; ) {
      const n = Math.min(filled, total - filled);
      mem.copyWithin(dst + filled, dst, dst + n);
      filled += n;
    }
  };
  if (rank === 0) mem.copyWithin(oOff, xOff, xOff + 1);
  else write(0, xOff, oOff);
  return out;
}

// ===========================================================================
// ResizeNearestNeighborGrad

/** The source index the forward pass reads for output index `o` (tfjs-core's rule). */
function nearestSource(o: number, inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
  const idx = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  return halfPixelCenters ? Math.max(0, idx) : idx;
}

/**
 * dx[n, src(r), src(c)] += dy[n, r, c]: the exact adjoint of the forward
 * mapping, halfPixelCenters included (the cpu and shipped wasm gradients
 * ignore halfPixelCenters; for the default false they agree with this).
 */
function resizeNearestNeighborGrad(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const images = input(args, 'images', 'ResizeNearestNeighborGrad');
  const dy = input(args, 'dy', 'ResizeNearestNeighborGrad');
  const alignCorners = attrs['alignCorners'] === true;
  const halfPixelCenters = attrs['halfPixelCenters'] === true;
  const [N, H, W, C] = images.shape as Shape4;
  const OH = dy.shape[1] as number;
  const OW = dy.shape[2] as number;
  const rowMap = Array.from({ length: OH }, (_, r) => nearestSource(r, H, OH, alignCorners, halfPixelCenters));
  const colMap = Int32Array.from({ length: OW }, (_, c) => nearestSource(c, W, OW, alignCorners, halfPixelCenters));
  const dx = backend.makeOutput([N, H, W, C], 'float32');
  const simd = C % 4 === 0 ? simdKernels(backend) : null;
  const map = simd != null ? backend.makeOutput([OW], 'int32') : null;
  const mem = heap(backend);
  const dxOff = f32Offset(backend, dx);
  mem.fill(0, dxOff, dxOff + N * H * W * C);
  const dyOff = f32Offset(backend, dy);
  if (simd != null && map != null) {
    new Int32Array(mem.buffer, byteOffset(backend, map), OW).set(colMap);
    const mapB = byteOffset(backend, map);
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < OH; r++) {
        simd.scatterAddRow((dxOff + (n * H + (rowMap[r] as number)) * W * C) * 4, (dyOff + (n * OH + r) * OW * C) * 4, mapB, OW, C);
      }
    }
    free(backend, map);
    return dx;
  }
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < OH; r++) {
      const dstRow = dxOff + (n * H + (rowMap[r] as number)) * W * C;
      const srcRow = dyOff + (n * OH + r) * OW * C;
      for (let c = 0; c < OW; c++) {
        const dst = dstRow + (colMap[c] as number) * C;
        const src = srcRow + c * C;
        for (let k = 0; k < C; k++) mem[dst + k] = (mem[dst + k] as number) + (mem[src + k] as number);
      }
    }
  }
  return dx;
}

// ===========================================================================
// FusedBatchNorm

/**
 * y = (x - mean) * scale / sqrt(variance + eps) + offset in one SIMD pass,
 * when every parameter is per-channel (size C = last dim of x) or a scalar.
 * The shipped kernel takes ~10x as long on [8, 64, 64, 16].
 */
function fusedBatchNorm(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'FusedBatchNorm');
  const meanT = input(args, 'mean', 'FusedBatchNorm');
  const varT = input(args, 'variance', 'FusedBatchNorm');
  const offsetT = args.inputs['offset'];
  const scaleT = args.inputs['scale'];
  const C = x.shape[x.shape.length - 1] ?? 0;
  const params = [meanT, varT, offsetT, scaleT];
  const perChannel = params.every((t) => t == null || (t.dtype === 'float32' && (util.sizeFromShape(t.shape) === C || util.sizeFromShape(t.shape) === 1)));
  const simd = x.dtype === 'float32' && C > 0 && C % 4 === 0 && perChannel ? simdKernels(backend) : null;
  const rows = util.sizeFromShape(x.shape) / Math.max(C, 1);
  if (simd == null || rows === 0) {
    const shippedInputs: Record<string, TensorInfo> = { x, mean: meanT, variance: varT };
    if (offsetT != null) shippedInputs['offset'] = offsetT;
    if (scaleT != null) shippedInputs['scale'] = scaleT;
    return runShipped('FusedBatchNorm', backend, shippedInputs, attrs);
  }
  const eps = (attrs['varianceEpsilon'] as number | undefined) ?? 0.001;
  const out = backend.makeOutput(x.shape, 'float32');
  const chan = backend.makeOutput([3 * C], 'float32');
  const mem = heap(backend);
  const read = (t: TensorInfo | undefined, fallback: number): ((c: number) => number) => {
    if (t == null) return () => fallback;
    const off = f32Offset(backend, t);
    const one = util.sizeFromShape(t.shape) === 1;
    return (c) => mem[off + (one ? 0 : c)] as number;
  };
  const m = read(meanT, 0);
  const v = read(varT, 1);
  const o = read(offsetT, 0);
  const sc = read(scaleT, 1);
  const cOff = f32Offset(backend, chan);
  for (let c = 0; c < C; c++) {
    mem[cOff + c] = m(c);
    mem[cOff + C + c] = sc(c) / Math.sqrt(v(c) + eps);
    mem[cOff + 2 * C + c] = o(c);
  }
  const cB = cOff * 4;
  simd.affineChannels(byteOffset(backend, x), byteOffset(backend, out), rows, C, cB, cB + C * 4, cB + 2 * C * 4);
  free(backend, chan);
  return out;
}

// ===========================================================================
// Identity, Cast, broadcast Add / Sub / Multiply

/**
 * Shares the input's buffer (refcounted), as the cpu backend does; the
 * shipped kernel copies it. tfjs tensors are immutable and no wasm kernel
 * writes into an input, so sharing is safe. The relu gradient alone
 * (mul(dy, cast(step(x), 'float32'))) paid one full copy per layer.
 */
function identity(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const x = input(args, 'x', 'Identity');
  if (x.dtype === 'string') return runShipped('Identity', backend, { x });
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function cast(args: KernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const x = input(args, 'x', 'Cast');
  if (attrs['dtype'] === x.dtype && x.dtype !== 'string') return identity(args);
  return runShipped('Cast', backend, { x }, attrs);
}

type ChanKernel = 'Add' | 'Sub' | 'Multiply' | 'RealDiv';

/**
 * a (op) b where one operand is full-size and the other a per-channel vector ([C], [1,1,1,C]), a
 * scalar, or a per-pixel column ([..., 1] against [..., C] with the same leading dims): one SIMD
 * pass (C % 4 == 0; a scalar is splatted into a 4-float vector) or a JS loop over the heap (C % 4
 * != 0, per-pixel). The shipped broadcasting loops are 4-10x slower; shipped RealDiv by a scalar
 * took 1.7 ms on a 2M-element tensor. float32 results are the correctly rounded ones, as the cpu
 * backend's.
 */
function channelBinary(args: KernelArgs, kernel: ChanKernel): TensorInfo {
  const { backend, attrs } = args;
  const a = input(args, 'a', kernel);
  const b = input(args, 'b', kernel);
  const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const rank = outShape.length;
  const C = outShape[rank - 1] ?? 0;
  const size = util.sizeFromShape(outShape);
  const isFull = (t: TensorInfo): boolean => util.sizeFromShape(t.shape) === size;
  const isVec = (t: TensorInfo): boolean => t.shape.length >= 1 && t.shape[t.shape.length - 1] === C && util.sizeFromShape(t.shape) === C;
  const isScalar = (t: TensorInfo): boolean => util.sizeFromShape(t.shape) === 1;
  // [..., 1] against the full [..., C]: same rank, same leading dims.
  const isColumn = (t: TensorInfo): boolean => t.shape.length === rank && t.shape[rank - 1] === 1 && t.shape.every((d, i) => i === rank - 1 || d === outShape[i]);
  const eligible = a.dtype === 'float32' && b.dtype === 'float32' && C > 0 && size > C;
  let full: TensorInfo | null = null;
  let other: TensorInfo | null = null;
  let reversed = false;
  if (eligible && isFull(a) && !isFull(b)) {
    full = a;
    other = b;
  } else if (eligible && isFull(b) && !isFull(a)) {
    full = b;
    other = a;
    reversed = true;
  }
  if (full == null || other == null) return runShipped(kernel, backend, { a, b }, attrs);
  const kind = isVec(other) ? 'vec' : isScalar(other) ? 'scalar' : isColumn(other) ? 'column' : null;
  if (kind == null) return runShipped(kernel, backend, { a, b }, attrs);
  const simd = kind === 'vec' ? (C % 4 === 0 ? simdKernels(backend) : null) : kind === 'scalar' && size % 4 === 0 ? simdKernels(backend) : null;
  // The shipped kernels' scalar loops are fast for Add/Sub/Multiply; without SIMD, leave scalars to them.
  if (simd == null && kind === 'scalar') return runShipped(kernel, backend, { a, b }, attrs);
  const out = backend.makeOutput(outShape, 'float32');
  if (simd != null) {
    const fn =
      kernel === 'Add' ? simd.chanAdd : kernel === 'Multiply' ? simd.chanMul : kernel === 'Sub' ? (reversed ? simd.chanRsub : simd.chanSub) : reversed ? simd.chanRdiv : simd.chanDiv;
    if (kind === 'vec') {
      fn(byteOffset(backend, full), byteOffset(backend, other), byteOffset(backend, out), size / C, C);
    } else {
      const splat = backend.makeOutput([4], 'float32');
      const mem = heap(backend);
      mem.fill(mem[f32Offset(backend, other)] as number, f32Offset(backend, splat), f32Offset(backend, splat) + 4);
      fn(byteOffset(backend, full), byteOffset(backend, splat), byteOffset(backend, out), size / 4, 4);
      free(backend, splat);
    }
    return out;
  }
  // JS over the heap; results rounded to float32 on store, as the cpu backend's.
  const mem = heap(backend);
  const f0 = f32Offset(backend, full);
  const v0 = f32Offset(backend, other);
  const o0 = f32Offset(backend, out);
  const rows = size / C;
  const op = reversed && (kernel === 'Sub' || kernel === 'RealDiv') ? (kernel === 'Sub' ? 'rsub' : 'rdiv') : kernel;
  // A per-pixel column advances once per row; a channel vector once per channel.
  jsBroadcast(mem, op, o0, f0, v0, rows, C, kind === 'column' ? 1 : 0, kind === 'column' ? 0 : 1);
  return out;
}

/** out[r, c] = f[r, c] (op) v[r * rowStep + c * chanStep] over the heap; one loop per op (monomorphic). */
function jsBroadcast(mem: Float32Array, op: ChanKernel | 'rsub' | 'rdiv', o: number, f: number, v: number, rows: number, C: number, rowStep: number, chanStep: number): void {
  switch (op) {
    case 'Add':
      for (let r = 0, k = 0; r < rows; r++) {
        const vr = v + r * rowStep;
        for (let c = 0; c < C; c++, k++) {
          const p = mem[f + k] as number;
          const q = mem[vr + c * chanStep] as number;
          mem[o + k] = p + q;
        }
      }
      break;
    case 'Sub':
      for (let r = 0, k = 0; r < rows; r++) {
        const vr = v + r * rowStep;
        for (let c = 0; c < C; c++, k++) {
          const p = mem[f + k] as number;
          const q = mem[vr + c * chanStep] as number;
          mem[o + k] = p - q;
        }
      }
      break;
    case 'rsub':
      for (let r = 0, k = 0; r < rows; r++) {
        const vr = v + r * rowStep;
        for (let c = 0; c < C; c++, k++) {
          const p = mem[f + k] as number;
          const q = mem[vr + c * chanStep] as number;
          mem[o + k] = q - p;
        }
      }
      break;
    case 'Multiply':
      for (let r = 0, k = 0; r < rows; r++) {
        const vr = v + r * rowStep;
        for (let c = 0; c < C; c++, k++) {
          const p = mem[f + k] as number;
          const q = mem[vr + c * chanStep] as number;
          mem[o + k] = p * q;
        }
      }
      break;
    case 'RealDiv':
      for (let r = 0, k = 0; r < rows; r++) {
        const vr = v + r * rowStep;
        for (let c = 0; c < C; c++, k++) {
          const p = mem[f + k] as number;
          const q = mem[vr + c * chanStep] as number;
          mem[o + k] = p / q;
        }
      }
      break;
    case 'rdiv':
      for (let r = 0, k = 0; r < rows; r++) {
        const vr = v + r * rowStep;
        for (let c = 0; c < C; c++, k++) {
          const p = mem[f + k] as number;
          const q = mem[vr + c * chanStep] as number;
          mem[o + k] = q / p;
        }
      }
      break;
  }
}

const add = (args: KernelArgs): TensorInfo => channelBinary(args, 'Add');
const sub = (args: KernelArgs): TensorInfo => channelBinary(args, 'Sub');
const multiply = (args: KernelArgs): TensorInfo => channelBinary(args, 'Multiply');
const realDiv = (args: KernelArgs): TensorInfo => channelBinary(args, 'RealDiv');

// ===========================================================================
// Registration

type WasmKernelFunc = (args: KernelArgs) => TensorInfo | TensorInfo[];

// ===========================================================================
// Batch-norm gradient in two passes

/** Kernel name of the fused batch-norm gradient (wasm only; see fusedBatchNormGrad). */
export const FUSED_BATCH_NORM_GRAD = 'FoveaFusedBatchNormGrad';

/**
 * tfjs-core's FusedBatchNorm gradient is ~10 full-size elementwise ops and 4 reductions (it even
 * tiles 1/sqrt(variance) to the full shape). With per-channel (rank-1) parameters it is:
 *   s1 = sum dy, s2 = sum dy (x - mean) (per channel), r = 1/sqrt(variance + eps),
 *   dx = dy * scale * r, dmean = -scale r s1, dvariance = -0.5 scale r^3 s2, dscale = r s2,
 *   doffset = s1:
 * one SIMD pass for the sums and one for dx. Outputs [dx, dmean, dvariance, dscale, doffset].
 */
function fusedBatchNormGrad(args: KernelArgs): TensorInfo[] {
  const { backend, attrs } = args;
  const x = input(args, 'x', FUSED_BATCH_NORM_GRAD);
  const dy = input(args, 'dy', FUSED_BATCH_NORM_GRAD);
  const meanT = input(args, 'mean', FUSED_BATCH_NORM_GRAD);
  const varT = input(args, 'variance', FUSED_BATCH_NORM_GRAD);
  const scaleT = args.inputs['scale'] ?? null;
  const simd = simdKernels(backend);
  if (simd == null) throw new Error(`${FUSED_BATCH_NORM_GRAD} needs wasm SIMD`);
  const eps = attrs['varianceEpsilon'] as number;
  const C = x.shape[x.shape.length - 1] as number;
  const rows = util.sizeFromShape(x.shape) / C;
  const s1 = backend.makeOutput(meanT.shape, 'float32'); // doffset
  const s2 = backend.makeOutput(meanT.shape, 'float32');
  const dmean = backend.makeOutput(meanT.shape, 'float32');
  const dvar = backend.makeOutput(meanT.shape, 'float32');
  const dscale = backend.makeOutput(meanT.shape, 'float32');
  const k = backend.makeOutput([C], 'float32');
  const dx = backend.makeOutput(x.shape, 'float32');
  simd.bnGradSums(byteOffset(backend, x), byteOffset(backend, dy), byteOffset(backend, meanT), rows, C, byteOffset(backend, s1), byteOffset(backend, s2));
  const mem = heap(backend);
  const [o1, o2, om, ov, os, ok, ovar] = [s1, s2, dmean, dvar, dscale, k, varT].map((t) => f32Offset(backend, t)) as [number, number, number, number, number, number, number];
  const osc = scaleT != null ? f32Offset(backend, scaleT) : -1;
  for (let c = 0; c < C; c++) {
    const r = Math.fround(1 / Math.sqrt(Math.fround((mem[ovar + c] as number) + eps)));
    const sc = osc >= 0 ? (mem[osc + c] as number) : 1;
    const a = mem[o1 + c] as number;
    const b = mem[o2 + c] as number;
    mem[ok + c] = sc * r;
    mem[om + c] = -sc * r * a;
    mem[ov + c] = -0.5 * sc * r * r * r * b;
    mem[os + c] = r * b;
  }
  simd.chanMul(byteOffset(backend, dy), byteOffset(backend, k), byteOffset(backend, dx), rows, C);
  free(backend, s2);
  free(backend, k);
  return [dx, dmean, dvar, dscale, s1];
}

/** Kernel name of the fused Adam update (native-models/train/fused-adam.ts runs it). */
export const FUSED_ADAM = 'FoveaAdamUpdate';

/**
 * One Adam step for one variable in a single pass over the heap (tfjs-core's AdamOptimizer runs
 * ~10 elementwise kernels per variable). Inputs value, gradient, m, v (float32, same size); attrs
 * beta1, beta2, epsilon, learningRate and oneMinusAccBeta1/2 (1 - beta^t, as float32). Outputs
 * [m', v', value'], each operation rounded to float32 in tfjs-core's order:
 *   m' = m b1 + g (1 - b1); v' = v b2 + g^2 (1 - b2);
 *   value' = (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps) * -lr + value.
 */
function fusedAdam(args: KernelArgs): TensorInfo[] {
  const { backend, attrs } = args;
  const value = input(args, 'value', FUSED_ADAM);
  const grad = input(args, 'gradient', FUSED_ADAM);
  const m = input(args, 'm', FUSED_ADAM);
  const v = input(args, 'v', FUSED_ADAM);
  const n = util.sizeFromShape(value.shape);
  const mOut = backend.makeOutput(value.shape, 'float32');
  const vOut = backend.makeOutput(value.shape, 'float32');
  const valOut = backend.makeOutput(value.shape, 'float32');
  const f = Math.fround;
  const b1 = f(attrs['beta1'] as number);
  const b2 = f(attrs['beta2'] as number);
  const c1 = f(1 - (attrs['beta1'] as number));
  const c2 = f(1 - (attrs['beta2'] as number));
  const eps = f(attrs['epsilon'] as number);
  const nlr = f(-(attrs['learningRate'] as number));
  const d1 = f(attrs['oneMinusAccBeta1'] as number);
  const d2 = f(attrs['oneMinusAccBeta2'] as number);
  const mem = heap(backend);
  const [ox, og, om, ov, omo, ovo, oxo] = [value, grad, m, v, mOut, vOut, valOut].map((t) => f32Offset(backend, t)) as [number, number, number, number, number, number, number];
  for (let i = 0; i < n; i++) {
    const g = mem[og + i] as number;
    const m1 = f(f((mem[om + i] as number) * b1) + f(g * c1));
    const v1 = f(f((mem[ov + i] as number) * b2) + f(f(g * g) * c2));
    mem[omo + i] = m1;
    mem[ovo + i] = v1;
    const step = f(f(f(m1 / d1) / f(f(Math.sqrt(f(v1 / d2))) + eps)) * nlr);
    mem[oxo + i] = f(step + (mem[ox + i] as number));
  }
  return [mOut, vOut, valOut];
}

let shippedBatchNormGrad: GradConfig | null = null;

/** Whether the fused gradient takes these saved tensors: float32, rank-1 per-channel params, C % 4 == 0, on wasm with SIMD. */
function fusedBatchNormGradApplies(x: Tensor, mean: Tensor, variance: Tensor, scale: Tensor | undefined, dy: Tensor): boolean {
  const C = x.shape[x.shape.length - 1] ?? 0;
  const vec = (t: Tensor): boolean => t.dtype === 'float32' && t.rank === 1 && t.shape[0] === C;
  if (!(registered && getBackend() === 'wasm' && x.rank >= 2 && C > 0 && C % 4 === 0 && x.dtype === 'float32' && dy.dtype === 'float32')) return false;
  if (!(vec(mean) && vec(variance) && (scale == null || vec(scale)) && util.arraysEqual(dy.shape, x.shape))) return false;
  return simdKernels(engine().backend as unknown as WasmBackendLike) != null;
}

const batchNormGradConfig: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
    const dyT = dy as Tensor;
    if (!fusedBatchNormGradApplies(x, mean, variance, scale, dyT)) return (shippedBatchNormGrad as GradConfig).gradFunc(dy, saved, attrs);
    const inputs: NamedTensorMap = { x, dy: dyT, mean, variance };
    if (scale != null) inputs['scale'] = scale;
    const [dx, dm, dv, ds, doff] = engine().runKernel(FUSED_BATCH_NORM_GRAD, inputs, attrs) as Tensor[];
    return { x: () => dx as Tensor, mean: () => dm as Tensor, variance: () => dv as Tensor, scale: () => ds as Tensor, offset: () => doff as Tensor };
  },
};

const ours: Record<string, WasmKernelFunc> = {
  Conv2D: conv2D,
  FusedConv2D: fusedConv2D,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  MaxPoolGrad: maxPoolGrad,
  BatchMatMul: batchMatMul,
  Sum: sum,
  Mean: mean,
  Slice: slice,
  SplitV: splitV,
  Concat: concat,
  Tile: tile,
  ResizeNearestNeighborGrad: resizeNearestNeighborGrad,
  FusedBatchNorm: fusedBatchNorm,
  Identity: identity,
  Cast: cast,
  Add: add,
  Sub: sub,
  Multiply: multiply,
  RealDiv: realDiv,
};

/** Names of the kernels this module registers for 'wasm'. */
export const WASM_TRAINING_KERNELS: readonly string[] = Object.freeze(Object.keys(ours));

let registered = false;

/**
 * Registers the training kernels for the 'wasm' backend, replacing shipped
 * kernels of the same name (kept, to delegate to and for
 * `unregisterWasmTrainingKernels`). Idempotent. Works before or after the
 * backend is initialised: a replacement keeps the shipped setupFunc, which
 * binds the C++ entry point the delegate calls.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const [name, fn] of Object.entries(ours)) {
    const existing = getKernel(name, 'wasm');
    if (existing != null) {
      if (!shipped.has(name)) shipped.set(name, existing);
      unregisterKernel(name, 'wasm');
    }
    const orig = shipped.get(name);
    const cfg: KernelConfig = { kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as KernelFunc };
    if (orig?.setupFunc != null) cfg.setupFunc = orig.setupFunc;
    if (orig?.disposeFunc != null) cfg.disposeFunc = orig.disposeFunc;
    registerKernel(cfg);
  }
  if (getKernel(FUSED_ADAM, 'wasm') == null) {
    registerKernel({ kernelName: FUSED_ADAM, backendName: 'wasm', kernelFunc: fusedAdam as unknown as KernelFunc });
  }
  if (getKernel(FUSED_BATCH_NORM_GRAD, 'wasm') == null) {
    registerKernel({ kernelName: FUSED_BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: fusedBatchNormGrad as unknown as KernelFunc });
  }
  // The gradient is backend-independent in tfjs: ours falls back to the shipped one for anything
  // but wasm (and unless registered), so the cpu reference is untouched.
  if (shippedBatchNormGrad == null) shippedBatchNormGrad = getGradient('FusedBatchNorm') ?? null;
  if (shippedBatchNormGrad != null) registerGradient(batchNormGradConfig);
  registered = true;
}

/** Puts the shipped wasm kernels back (for before/after measurements). */
export function unregisterWasmTrainingKernels(): void {
  if (!registered) return;
  for (const name of Object.keys(ours)) {
    unregisterKernel(name, 'wasm');
    const orig = shipped.get(name);
    if (orig != null) registerKernel(orig);
  }
  if (shippedBatchNormGrad != null) registerGradient(shippedBatchNormGrad);
  registered = false;
}

/** Whether `registerWasmTrainingKernels` is in effect. */
export function wasmTrainingKernelsRegistered(): boolean {
  return registered;
}
