/**
 * The generated SIMD kernels, one builder per function (see wasm-asm.ts for the writer).
 * Split from wasm-kernels.ts.
 */
import { I32, V128, Op, FnBuilder } from './wasm-asm';

/**
 * atb(x, xs, xRow, dy, dys, dyRow, out, outRow, runLen, nRuns, M, CO):
 *   out[m][o] += sum_{r < nRuns, i < runLen} x[r*xRow + i*xs + 4m] * dy[r*dyRow + i*dys + 4o]
 * for m < M, o < CO; CO % 4 == 0. Pointers and strides in bytes, out rows
 * outRow bytes apart. Register tiles of 4 rows x 8 columns (8 accumulators,
 * within the 16 SIMD registers V8 allocates on x64), with 1-3 row and
 * 4-column tails.
 */
export function buildAtb(): FnBuilder {
  const f = new FnBuilder('atb', 12);
  const [X, XS, XROW, DY, DYS, DYROW, OUT, OROW, RUNLEN, NRUNS, M, CO] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] as const;
  const m0 = f.local(I32);
  const o0 = f.local(I32);
  const po = f.local(I32);
  const rx = f.local(I32);
  const rd = f.local(I32);
  const px = f.local(I32);
  const pd = f.local(I32);
  const r = f.local(I32);
  const i = f.local(I32);
  const rem = f.local(I32);
  const acc: number[] = [];
  for (let k = 0; k < 8; k++) acc.push(f.local(V128));
  const b0 = f.local(V128);
  const b1 = f.local(V128);
  const a = f.local(V128);
  const accAt = (row: number, col: number): number => acc[row * 2 + col] as number;

  const tile = (mr: number, nr: 4 | 8): void => {
    const nv = nr / 4;
    // po = OUT + m0*OROW + o0*4
    f.get(OUT).get(m0).get(OROW).op(Op.i32Mul, Op.i32Add).get(o0).i32(4).op(Op.i32Mul, Op.i32Add).set(po);
    for (let row = 0; row < mr; row++) {
      for (let col = 0; col < nv; col++) {
        f.get(po).get(OROW).i32(row).op(Op.i32Mul, Op.i32Add).mem(Op.v128Load, 2, col * 16).set(accAt(row, col));
      }
    }
    f.get(X).get(m0).i32(4).op(Op.i32Mul, Op.i32Add).set(rx);
    f.get(DY).get(o0).i32(4).op(Op.i32Mul, Op.i32Add).set(rd);
    f.forRange(r, NRUNS, () => {
      f.get(rx).set(px).get(rd).set(pd);
      f.forRange(i, RUNLEN, () => {
        f.get(pd).mem(Op.v128Load, 2, 0).set(b0);
        if (nv === 2) f.get(pd).mem(Op.v128Load, 2, 16).set(b1);
        for (let row = 0; row < mr; row++) {
          f.get(px).mem(Op.v128Load32Splat, 2, row * 4).set(a);
          f.get(accAt(row, 0)).get(a).get(b0).simd(Op.f32x4Mul).simd(Op.f32x4Add).set(accAt(row, 0));
          if (nv === 2) f.get(accAt(row, 1)).get(a).get(b1).simd(Op.f32x4Mul).simd(Op.f32x4Add).set(accAt(row, 1));
        }
        f.addLocal(px, XS).addLocal(pd, DYS);
      });
      f.addLocal(rx, XROW).addLocal(rd, DYROW);
    });
    for (let row = 0; row < mr; row++) {
      for (let col = 0; col < nv; col++) {
        f.get(po).get(OROW).i32(row).op(Op.i32Mul, Op.i32Add).get(accAt(row, col)).mem(Op.v128Store, 2, col * 16);
      }
    }
  };
  const columns = (mr: number): void => {
    f.i32(0).set(o0);
    f.whileLoop(
      () => f.get(o0).i32(8).op(Op.i32Add).get(CO).op(Op.i32GtS, Op.i32Eqz),
      () => {
        tile(mr, 8);
        f.addConst(o0, 8);
      },
    );
    f.ifThen(() => f.get(o0).get(CO).op(Op.i32LtS), () => tile(mr, 4));
  };
  f.i32(0).set(m0);
  f.whileLoop(
    () => f.get(m0).i32(4).op(Op.i32Add).get(M).op(Op.i32GtS, Op.i32Eqz),
    () => {
      columns(4);
      f.addConst(m0, 4);
    },
  );
  f.get(M).get(m0).op(Op.i32Sub).set(rem);
  for (const mr of [3, 2, 1]) {
    f.ifThen(() => f.get(rem).i32(mr).op(Op.i32Eq), () => columns(mr));
  }
  return f;
}

/**
 * maxPoolGradRow(x0, dy0, dx0, rows, W, C, OW, sw, fw, pl): one row of pooling
 * windows. x0/dx0 point at input row r0 of the window rows (rows of them),
 * dy0 at the dy row. For each window and 4 channels: argmax by strict '>' in
 * row-major window order (the first maximum wins, as in the cpu backend),
 * then dx[argmax] += dy. C % 4 == 0; dx must be zeroed by the caller.
 * The `overwrite` variant stores dy-or-0 to every window position instead of
 * accumulating: for windows that tile the input exactly once, which then
 * needs no zeroing and no read of dx.
 */
export function buildMaxPoolGradRow(overwrite: boolean): FnBuilder {
  const f = new FnBuilder(overwrite ? 'maxPoolGradRowSet' : 'maxPoolGradRow', 10);
  const [X0, DY0, DX0, ROWS, W, C, OW, SW, FW, PL] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] as const;
  const ow = f.local(I32);
  const q0 = f.local(I32);
  const q1 = f.local(I32);
  const cb = f.local(I32);
  const r = f.local(I32);
  const q = f.local(I32);
  const k = f.local(I32);
  const rowBytes = f.local(I32);
  const pixBytes = f.local(I32);
  const p = f.local(I32);
  const t = f.local(I32);
  const best = f.local(V128);
  const arg = f.local(V128);
  const v = f.local(V128);
  const m = f.local(V128);
  const g = f.local(V128);

  f.get(W).get(C).op(Op.i32Mul).i32(4).op(Op.i32Mul).set(rowBytes);
  f.get(C).i32(4).op(Op.i32Mul).set(pixBytes);
  const windowLoop = (body: () => void): void => {
    f.i32(0).set(k);
    f.forRange(r, ROWS, () => {
      f.get(q0).set(q);
      f.whileLoop(
        () => f.get(q).get(q1).op(Op.i32LtS),
        () => {
          // p = r*rowBytes + q*pixBytes + cb*4
          f.get(r).get(rowBytes).op(Op.i32Mul).get(q).get(pixBytes).op(Op.i32Mul, Op.i32Add).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).set(p);
          body();
          f.addConst(k, 1).addConst(q, 1);
        },
      );
    });
  };
  f.forRange(ow, OW, () => {
    // q0 = max(0, ow*sw - pl); q1 = min(W, ow*sw - pl + fw)
    f.get(ow).get(SW).op(Op.i32Mul).get(PL).op(Op.i32Sub).set(t);
    f.get(t).i32(0).get(t).i32(0).op(Op.i32GtS, Op.select).set(q0);
    f.get(t).get(FW).op(Op.i32Add).set(t);
    f.get(t).get(W).get(t).get(W).op(Op.i32LtS, Op.select).set(q1);
    f.i32(0).set(cb);
    f.whileLoop(
      () => f.get(cb).get(C).op(Op.i32LtS),
      () => {
        f.v128Const([0, 0, 0x80, 0xff, 0, 0, 0x80, 0xff, 0, 0, 0x80, 0xff, 0, 0, 0x80, 0xff]).set(best); // -Infinity
        f.v128Const(new Array<number>(16).fill(0xff)).set(arg); // -1
        windowLoop(() => {
          f.get(X0).get(p).op(Op.i32Add).mem(Op.v128Load, 2, 0).set(v);
          f.get(v).get(best).simd(Op.f32x4Gt).set(m);
          f.get(v).get(best).get(m).simd(Op.v128Bitselect).set(best);
          f.get(k).simd(Op.i32x4Splat).get(arg).get(m).simd(Op.v128Bitselect).set(arg);
        });
        // g = dy[ow, cb..cb+3]
        f.get(DY0).get(ow).get(pixBytes).op(Op.i32Mul, Op.i32Add).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).mem(Op.v128Load, 2, 0).set(g);
        windowLoop(() => {
          f.get(DX0).get(p).op(Op.i32Add).set(p);
          f.get(p);
          if (!overwrite) f.get(p).mem(Op.v128Load, 2, 0);
          f.get(g).get(arg).get(k).simd(Op.i32x4Splat).simd(Op.i32x4Eq).simd(Op.v128And);
          if (!overwrite) f.simd(Op.f32x4Add);
          f.mem(Op.v128Store, 2, 0);
        });
        f.addConst(cb, 4);
      },
    );
  });
  return f;
}

/**
 * Drives a per-channel-block pass over C channels (C % 4 == 0): `pass(4)` on 16 channels (four
 * v128 accumulators) while 16 remain, then `pass(1)` on 4 at a time; `cb` is the first channel.
 */
export function channelBlocks(f: FnBuilder, cb: number, C: number, pass: (vectors: number) => void): void {
  f.i32(0).set(cb);
  f.whileLoop(
    () => f.get(cb).i32(16).op(Op.i32Add).get(C).op(Op.i32GtS, Op.i32Eqz),
    () => {
      pass(4);
      f.addConst(cb, 16);
    },
  );
  f.whileLoop(
    () => f.get(cb).get(C).op(Op.i32LtS),
    () => {
      pass(1);
      f.addConst(cb, 4);
    },
  );
}

/**
 * colSum(x, rows, C, out): out[c] = sum_{r < rows} x[r*C + c], C % 4 == 0,
 * 16 channels (4 accumulators) per pass, then 4 at a time. The caller keeps
 * `rows` small and adds the partial sums in float64.
 */
export function buildColSum(): FnBuilder {
  const f = new FnBuilder('colSum', 4);
  const [X, ROWS, C, OUT] = [0, 1, 2, 3] as const;
  const cb = f.local(I32);
  const r = f.local(I32);
  const p = f.local(I32);
  const stride = f.local(I32);
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  f.get(C).i32(4).op(Op.i32Mul).set(stride);
  const pass = (nv: number): void => {
    for (let j = 0; j < nv; j++) f.v128Const(new Array<number>(16).fill(0)).set(acc[j] as number);
    f.get(X).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).set(p);
    f.forRange(r, ROWS, () => {
      for (let j = 0; j < nv; j++) {
        const aj = acc[j] as number;
        f.get(aj).get(p).mem(Op.v128Load, 2, j * 16).simd(Op.f32x4Add).set(aj);
      }
      f.addLocal(p, stride);
    });
    for (let j = 0; j < nv; j++) {
      f.get(OUT).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).get(acc[j] as number).mem(Op.v128Store, 2, j * 16);
    }
  };
  channelBlocks(f, cb, C, pass);
  return f;
}

/**
 * convRow(x, xs, xRow, w, K, KH, out, nPix, CO, bias, flags): one row of
 * output pixels of a convolution:
 *   out[p][o] = sum_{a < KH, k < K} x[p*xs + a*xRow + 4k] * w[(a*K + k)*CO + o]
 * (+ bias[o] if flags & 1, then max(., 0) if flags & 2), CO % 4 == 0.
 * With K = kw*C, x at the first input row and column of the window and w at
 * filter row a0, this is a stride-xs conv in NHWC with [kh,kw,C,CO] weights,
 * the layout both already have. Register tiles of 4 pixels x 8 channels, as
 * in atb; the weights (a few KB to a few hundred) stay in cache.
 */
export function buildConvRow(): FnBuilder {
  const f = new FnBuilder('convRow', 11);
  const [X, XS, XROW, W, K, KH, OUT, NPIX, CO, BIAS, FLAGS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
  const p0 = f.local(I32);
  const o0 = f.local(I32);
  const a = f.local(I32);
  const k = f.local(I32);
  const px = f.local(I32);
  const pw = f.local(I32);
  const rx = f.local(I32);
  const wStep = f.local(I32); // CO*4: bytes per weight row, and per output pixel
  const rem = f.local(I32);
  const po = f.local(I32);
  const xs2 = f.local(I32);
  const xs3 = f.local(I32);
  const acc: number[] = [];
  for (let i = 0; i < 8; i++) acc.push(f.local(V128));
  const b0 = f.local(V128);
  const b1 = f.local(V128);
  const av = f.local(V128);
  const accAt = (row: number, col: number): number => acc[row * 2 + col] as number;
  f.get(CO).i32(4).op(Op.i32Mul).set(wStep);
  f.get(XS).i32(2).op(Op.i32Mul).set(xs2);
  f.get(XS).i32(3).op(Op.i32Mul).set(xs3);
  const zero = new Array<number>(16).fill(0);

  const tile = (mr: number, nv: 1 | 2): void => {
    for (let row = 0; row < mr; row++) for (let col = 0; col < nv; col++) f.v128Const(zero).set(accAt(row, col));
    f.get(X).get(p0).get(XS).op(Op.i32Mul, Op.i32Add).set(rx);
    f.get(W).get(o0).i32(4).op(Op.i32Mul, Op.i32Add).set(pw);
    f.forRange(a, KH, () => {
      f.get(rx).set(px);
      f.forRange(k, K, () => {
        f.get(pw).mem(Op.v128Load, 2, 0).set(b0);
        if (nv === 2) f.get(pw).mem(Op.v128Load, 2, 16).set(b1);
        for (let row = 0; row < mr; row++) {
          f.get(px);
          if (row === 1) f.get(XS).op(Op.i32Add);
          if (row === 2) f.get(xs2).op(Op.i32Add);
          if (row === 3) f.get(xs3).op(Op.i32Add);
          f.mem(Op.v128Load32Splat, 2, 0).set(av);
          f.get(accAt(row, 0)).get(av).get(b0).simd(Op.f32x4Mul).simd(Op.f32x4Add).set(accAt(row, 0));
          if (nv === 2) f.get(accAt(row, 1)).get(av).get(b1).simd(Op.f32x4Mul).simd(Op.f32x4Add).set(accAt(row, 1));
        }
        f.addConst(px, 4).addLocal(pw, wStep);
      });
      f.addLocal(rx, XROW);
    });
    // Epilogue: bias, relu.
    f.ifThen(
      () => f.get(FLAGS).i32(1).op(Op.i32And),
      () => {
        for (let row = 0; row < mr; row++) {
          for (let col = 0; col < nv; col++) {
            f.get(accAt(row, col)).get(BIAS).get(o0).i32(4).op(Op.i32Mul, Op.i32Add).mem(Op.v128Load, 2, col * 16).simd(Op.f32x4Add).set(accAt(row, col));
          }
        }
      },
    );
    f.ifThen(
      () => f.get(FLAGS).i32(2).op(Op.i32And),
      () => {
        for (let row = 0; row < mr; row++) {
          for (let col = 0; col < nv; col++) f.get(accAt(row, col)).v128Const(zero).simd(Op.f32x4Max).set(accAt(row, col));
        }
      },
    );
    // po = OUT + (p0*CO + o0)*4
    f.get(OUT).get(p0).get(CO).op(Op.i32Mul).get(o0).op(Op.i32Add).i32(4).op(Op.i32Mul, Op.i32Add).set(po);
    for (let row = 0; row < mr; row++) {
      for (let col = 0; col < nv; col++) {
        f.get(po);
        if (row > 0) f.get(wStep).i32(row).op(Op.i32Mul, Op.i32Add);
        f.get(accAt(row, col)).mem(Op.v128Store, 2, col * 16);
      }
    }
  };
  const columns = (mr: number): void => {
    f.i32(0).set(o0);
    f.whileLoop(
      () => f.get(o0).i32(8).op(Op.i32Add).get(CO).op(Op.i32GtS, Op.i32Eqz),
      () => {
        tile(mr, 2);
        f.addConst(o0, 8);
      },
    );
    f.ifThen(() => f.get(o0).get(CO).op(Op.i32LtS), () => tile(mr, 1));
  };
  f.i32(0).set(p0);
  f.whileLoop(
    () => f.get(p0).i32(4).op(Op.i32Add).get(NPIX).op(Op.i32GtS, Op.i32Eqz),
    () => {
      columns(4);
      f.addConst(p0, 4);
    },
  );
  f.get(NPIX).get(p0).op(Op.i32Sub).set(rem);
  for (const mr of [3, 2, 1]) f.ifThen(() => f.get(rem).i32(mr).op(Op.i32Eq), () => columns(mr));
  return f;
}

/**
 * copy2d(dst, dstStride, src, srcStride, rowBytes, nRows): nRows rows of
 * rowBytes (a multiple of 4) each, 16 bytes at a time. Regions must not overlap.
 */
export function buildCopy2d(): FnBuilder {
  const f = new FnBuilder('copy2d', 6);
  const [DST, DSTS, SRC, SRCS, ROWB, NROWS] = [0, 1, 2, 3, 4, 5] as const;
  const r = f.local(I32);
  const i = f.local(I32);
  f.forRange(r, NROWS, () => {
    f.i32(0).set(i);
    f.whileLoop(
      () => f.get(i).i32(16).op(Op.i32Add).get(ROWB).op(Op.i32GtS, Op.i32Eqz),
      () => {
        f.get(DST).get(i).op(Op.i32Add);
        f.get(SRC).get(i).op(Op.i32Add).mem(Op.v128Load, 0, 0);
        f.mem(Op.v128Store, 0, 0);
        f.addConst(i, 16);
      },
    );
    f.whileLoop(
      () => f.get(i).get(ROWB).op(Op.i32LtS),
      () => {
        f.get(DST).get(i).op(Op.i32Add);
        f.get(SRC).get(i).op(Op.i32Add).memCore(Op.i32Load, 0, 0);
        f.memCore(Op.i32Store, 0, 0);
        f.addConst(i, 4);
      },
    );
    f.addLocal(DST, DSTS).addLocal(SRC, SRCS);
  });
  return f;
}

/**
 * scatterAddRow(dst, src, colMap, nCols, C): for each source pixel c < nCols,
 * dst pixel colMap[c] (int32 array at colMap) += src pixel c; C % 4 == 0.
 */
export function buildScatterAddRow(): FnBuilder {
  const f = new FnBuilder('scatterAddRow', 5);
  const [DST, SRC, MAP, NCOLS, C] = [0, 1, 2, 3, 4] as const;
  const c = f.local(I32);
  const k = f.local(I32);
  const pd = f.local(I32);
  const ps = f.local(I32);
  const pix = f.local(I32);
  f.get(C).i32(4).op(Op.i32Mul).set(pix);
  f.get(SRC).set(ps);
  f.forRange(c, NCOLS, () => {
    f.get(DST).get(MAP).get(c).i32(4).op(Op.i32Mul, Op.i32Add).memCore(Op.i32Load, 2, 0).get(pix).op(Op.i32Mul, Op.i32Add).set(pd);
    f.i32(0).set(k);
    f.whileLoop(
      () => f.get(k).get(pix).op(Op.i32LtS),
      () => {
        f.get(pd).get(k).op(Op.i32Add);
        f.get(pd).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0);
        f.get(ps).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0);
        f.simd(Op.f32x4Add).mem(Op.v128Store, 2, 0);
        f.addConst(k, 16);
      },
    );
    f.addLocal(ps, pix);
  });
  return f;
}

/**
 * affineChannels(x, out, rows, C, mean, scale, offset):
 *   out[r][c] = (x[r][c] - mean[c]) * scale[c] + offset[c], C % 4 == 0.
 * Batch normalisation with scale already divided by sqrt(variance + eps).
 */
/**
 * Batch-norm gradient sums per channel over rows of x and dy ([rows, C], C % 4 == 0):
 * s1[c] = sum dy, s2[c] = sum dy * (x - mean[c]). Blocks of 16 channels (each 64-byte line read
 * once), then of 4.
 */
export function buildBnGradSums(): FnBuilder {
  const f = new FnBuilder('bnGradSums', 7);
  const [X, DY, MEAN, ROWS, C, S1, S2] = [0, 1, 2, 3, 4, 5, 6] as const;
  const cb = f.local(I32);
  const r = f.local(I32);
  const px = f.local(I32);
  const pd = f.local(I32);
  const stride = f.local(I32);
  const d = f.local(V128);
  const a1 = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const a2 = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const m = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  f.get(C).i32(4).op(Op.i32Mul).set(stride);
  const pass = (nv: number): void => {
    for (let j = 0; j < nv; j++) {
      f.v128Const(new Array<number>(16).fill(0)).set(a1[j] as number);
      f.v128Const(new Array<number>(16).fill(0)).set(a2[j] as number);
      f.get(MEAN).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).mem(Op.v128Load, 2, j * 16).set(m[j] as number);
    }
    f.get(X).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).set(px);
    f.get(DY).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).set(pd);
    f.forRange(r, ROWS, () => {
      for (let j = 0; j < nv; j++) {
        f.get(pd).mem(Op.v128Load, 2, j * 16).set(d);
        f.get(a1[j] as number).get(d).simd(Op.f32x4Add).set(a1[j] as number);
        f.get(a2[j] as number).get(d).get(px).mem(Op.v128Load, 2, j * 16).get(m[j] as number).simd(Op.f32x4Sub).simd(Op.f32x4Mul).simd(Op.f32x4Add).set(a2[j] as number);
      }
      f.addLocal(px, stride).addLocal(pd, stride);
    });
    for (let j = 0; j < nv; j++) {
      f.get(S1).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).get(a1[j] as number).mem(Op.v128Store, 2, j * 16);
      f.get(S2).get(cb).i32(4).op(Op.i32Mul, Op.i32Add).get(a2[j] as number).mem(Op.v128Store, 2, j * 16);
    }
  };
  channelBlocks(f, cb, C, pass);
  return f;
}

export function buildAffineChannels(): FnBuilder {
  const f = new FnBuilder('affineChannels', 7);
  const [X, OUT, ROWS, C, MEAN, SCALE, OFFSET] = [0, 1, 2, 3, 4, 5, 6] as const;
  const r = f.local(I32);
  const k = f.local(I32);
  const rowBytes = f.local(I32);
  f.get(C).i32(4).op(Op.i32Mul).set(rowBytes);
  f.forRange(r, ROWS, () => {
    f.i32(0).set(k);
    f.whileLoop(
      () => f.get(k).get(rowBytes).op(Op.i32LtS),
      () => {
        f.get(OUT).get(k).op(Op.i32Add);
        f.get(X).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0);
        f.get(MEAN).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0).simd(Op.f32x4Sub);
        f.get(SCALE).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0).simd(Op.f32x4Mul);
        f.get(OFFSET).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0).simd(Op.f32x4Add);
        f.mem(Op.v128Store, 2, 0);
        f.addConst(k, 16);
      },
    );
    f.addLocal(X, rowBytes).addLocal(OUT, rowBytes);
  });
  return f;
}

/**
 * maxPool2x2Grad(x0, dy0, dx0, W, C, OW): one row of 2x2 windows with stride 2
 * lying wholly inside the input (x0/dx0 at the window row, dy0 at the dy
 * row), writing every dx position of the two rows. Same rule as
 * maxPoolGradRow, unrolled: running maximum over positions 0..3 by strict
 * '>' from -Infinity; the position is the last one whose '>' fired.
 */
export function buildMaxPool2x2Grad(): FnBuilder {
  const f = new FnBuilder('maxPool2x2Grad', 6);
  const [X0, DY0, DX0, W, C, OW] = [0, 1, 2, 3, 4, 5] as const;
  const ow = f.local(I32);
  const cb = f.local(I32);
  const pixB = f.local(I32);
  const rowB = f.local(I32);
  const px = f.local(I32);
  const pd = f.local(I32);
  const pg = f.local(I32);
  const v = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const m = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const best = f.local(V128);
  const g = f.local(V128);
  const vAt = (i: number): number => v[i] as number;
  const mAt = (i: number): number => m[i] as number;
  f.get(C).i32(4).op(Op.i32Mul).set(pixB);
  f.get(W).get(pixB).op(Op.i32Mul).set(rowB);
  f.get(DY0).set(pg);
  f.forRange(ow, OW, () => {
    f.i32(0).set(cb);
    f.whileLoop(
      () => f.get(cb).get(pixB).op(Op.i32LtS),
      () => {
        // px: top-left of the window + cb; positions: +0, +pixB, +rowB, +rowB+pixB
        f.get(X0).get(ow).get(pixB).op(Op.i32Mul).i32(2).op(Op.i32Mul, Op.i32Add).get(cb).op(Op.i32Add).set(px);
        f.get(DX0).get(px).get(X0).op(Op.i32Sub, Op.i32Add).set(pd);
        const addr = (base: number, i: number): void => {
          f.get(base);
          if (i === 1 || i === 3) f.get(pixB).op(Op.i32Add);
          if (i >= 2) f.get(rowB).op(Op.i32Add);
        };
        for (let i = 0; i < 4; i++) {
          addr(px, i);
          f.mem(Op.v128Load, 2, 0).set(vAt(i));
        }
        f.v128Const([0, 0, 0x80, 0xff, 0, 0, 0x80, 0xff, 0, 0, 0x80, 0xff, 0, 0, 0x80, 0xff]).set(best);
        for (let i = 0; i < 4; i++) {
          f.get(vAt(i)).get(best).simd(Op.f32x4Gt).set(mAt(i));
          if (i < 3) f.get(vAt(i)).get(best).get(mAt(i)).simd(Op.v128Bitselect).set(best);
        }
        f.get(pg).get(cb).op(Op.i32Add).mem(Op.v128Load, 2, 0).set(g);
        for (let i = 0; i < 4; i++) {
          addr(pd, i);
          // selected_i = m_i and not m_j for all j > i
          f.get(g).get(mAt(i)).simd(Op.v128And);
          for (let j = i + 1; j < 4; j++) f.get(mAt(j)).simd(Op.v128AndNot);
          f.mem(Op.v128Store, 2, 0);
        }
        f.addConst(cb, 16);
      },
    );
    f.addLocal(pg, pixB);
  });
  return f;
}

/**
 * chanOp(a, v, out, rows, C): out[r][c] = a[r][c] (op) v[c], C % 4 == 0, for
 * op in add, sub, mul, rsub (v - a): bias adds and batch-norm gradients
 * broadcast a per-channel vector, which the shipped binary kernels do ~4x
 * slower than same-shape operands.
 */
export function buildChanOp(name: string, op: 'add' | 'sub' | 'mul' | 'rsub' | 'div' | 'rdiv'): FnBuilder {
  const f = new FnBuilder(name, 5);
  const [A, V, OUT, ROWS, C] = [0, 1, 2, 3, 4] as const;
  const r = f.local(I32);
  const k = f.local(I32);
  const rowB = f.local(I32);
  f.get(C).i32(4).op(Op.i32Mul).set(rowB);
  f.forRange(r, ROWS, () => {
    f.i32(0).set(k);
    f.whileLoop(
      () => f.get(k).get(rowB).op(Op.i32LtS),
      () => {
        f.get(OUT).get(k).op(Op.i32Add);
        const loadA = (): void => void f.get(A).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0);
        const loadV = (): void => void f.get(V).get(k).op(Op.i32Add).mem(Op.v128Load, 2, 0);
        if (op === 'rsub' || op === 'rdiv') {
          loadV();
          loadA();
          f.simd(op === 'rsub' ? Op.f32x4Sub : Op.f32x4Div);
        } else {
          loadA();
          loadV();
          f.simd(op === 'add' ? Op.f32x4Add : op === 'sub' ? Op.f32x4Sub : op === 'mul' ? Op.f32x4Mul : Op.f32x4Div);
        }
        f.mem(Op.v128Store, 2, 0);
        f.addConst(k, 16);
      },
    );
    f.addLocal(A, rowB).addLocal(OUT, rowB);
  });
  return f;
}
