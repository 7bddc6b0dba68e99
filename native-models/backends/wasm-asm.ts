/**
 * A minimal WebAssembly assembler (LEB128, opcodes, one function body writer, the module
 * encoder) for the SIMD kernels generated at run time. Split from wasm-kernels.ts.
 */

// ===========================================================================
// Generated SIMD kernels
//
// A few loops the backend has no fast kernel for, emitted as WebAssembly
// bytecode at run time and instantiated against the backend's own memory, so
// they read and write tensors in place. Generated rather than shipped as a
// binary so the source is reviewable here and nothing needs a wasm toolchain.
// Uses only WebAssembly SIMD128 (the same feature the backend's SIMD binary
// needs); if it does not validate, the kernels fall back to XNNPACK/JS paths.

export const I32 = 0x7f;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export function wasmName(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

export function wasmVec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Opcodes used (core and SIMD, from the WebAssembly 2.0 spec). */
export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  void: 0x40,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32LtS: 0x48,
  i32GtS: 0x4a,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  select: 0x1b,
  i32Load: 0x28,
  i32Store: 0x36,
  // 0xfd-prefixed
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i32x4Splat: 0x11,
  i32x4Eq: 0x37,
  f32x4Gt: 0x44,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Bitselect: 0x52,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Max: 0xe9,
} as const;

/** One function body under construction: a thin, typed stack-machine writer. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(
    readonly name: string,
    readonly paramCount: number,
  ) {}

  local(type: number): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }
  get(i: number): this {
    this.code.push(0x20, ...uleb(i));
    return this;
  }
  set(i: number): this {
    this.code.push(0x21, ...uleb(i));
    return this;
  }
  i32(n: number): this {
    this.code.push(0x41, ...sleb(n));
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  simd(op: number, ...imm: number[]): this {
    this.code.push(0xfd, ...uleb(op), ...imm);
    return this;
  }
  /** A SIMD memory op with a static byte offset (alignment hint: 2^alignLog2). */
  mem(op: number, alignLog2: number, offset: number): this {
    return this.simd(op, ...uleb(alignLog2), ...uleb(offset));
  }
  /** A core (non-SIMD) memory op. */
  memCore(op: number, alignLog2: number, offset: number): this {
    this.code.push(op, ...uleb(alignLog2), ...uleb(offset));
    return this;
  }
  v128Const(bytes: number[]): this {
    return this.simd(Op.v128Const, ...bytes);
  }
  /** local += other local */
  addLocal(target: number, other: number): this {
    return this.get(target).get(other).op(Op.i32Add).set(target);
  }
  /** local += constant */
  addConst(target: number, c: number): this {
    return this.get(target).i32(c).op(Op.i32Add).set(target);
  }
  /**
   * `while (cond) { body }` where `cond` pushes an i32. Inside `body`, branch
   * depth 0 is the loop (continue) and 1 the enclosing block (break).
   */
  whileLoop(cond: () => void, body: () => void): this {
    this.op(Op.block, Op.void, Op.loop, Op.void);
    cond();
    this.op(Op.i32Eqz, Op.brIf, 1);
    body();
    this.op(Op.br, 0, Op.end, Op.end);
    return this;
  }
  /** `for (i = 0; i < count; i++) body` with i32 locals. */
  forRange(i: number, count: number, body: () => void): this {
    this.i32(0).set(i);
    return this.whileLoop(
      () => this.get(i).get(count).op(Op.i32LtS),
      () => {
        body();
        this.addConst(i, 1);
      },
    );
  }
  ifThen(cond: () => void, body: () => void): this {
    cond();
    this.op(Op.if, Op.void);
    body();
    this.op(Op.end);
    return this;
  }
  encode(): number[] {
    const locals = this.localTypes.map((t) => [1, t]);
    const body = [...wasmVec(locals), ...this.code, Op.end];
    return [...uleb(body.length), ...body];
  }
}

/** A module importing env.memory (no size limits) and exporting `fns` (all i32 params, no results). */
export function encodeModule(fns: FnBuilder[]): Uint8Array {
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const types = fns.map((f) => [0x60, ...wasmVec(Array.from({ length: f.paramCount }, () => [I32])), 0]);
  const memoryImport = [...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, 0x00];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, wasmVec(types)),
    ...section(2, wasmVec([memoryImport])),
    ...section(3, wasmVec(fns.map((_, i) => uleb(i)))),
    ...section(7, wasmVec(fns.map((f, i) => [...wasmName(f.name), 0x00, ...uleb(i)]))),
    ...section(10, wasmVec(fns.map((f) => f.encode()))),
  ];
  return new Uint8Array(bytes);
}
