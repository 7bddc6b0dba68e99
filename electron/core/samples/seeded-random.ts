// A small seeded PRNG for the sample-data generators.
//
// Why our own: Math.random cannot be seeded, and the fixtures must be byte-identical
// for the same seed on every machine. xoshiro128** (Blackman & Vigna) is fast in
// 32-bit JS integer arithmetic and has a 2^128-1 period; splitmix32 expands a seed
// into its state so that nearby seeds (1, 2, 3...) give unrelated streams.

/** A deterministic random stream. Not for anything security-related. */
export interface SeededRandom {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Integer uniform in [min, max], both ends included. */
  int(min: number, max: number): number;
  /** Gaussian (Box-Muller). */
  normal(mean?: number, sd?: number): number;
  /** true with probability p. */
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /**
   * An independent stream derived from this stream's seed and a label, without
   * consuming from this stream. Generators fork one stream per patient / scene so
   * that item i depends only on (seed, i): asking for more scenes never changes the
   * earlier ones.
   */
  fork(label: string | number): SeededRandom;
}

/** FNV-1a over the UTF-16 code units: turns a label into 32 bits for seeding. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Seeds may be any finite number or a string; non-integers are hashed by their text. */
function seedTo32(seed: number | string): number {
  if (typeof seed === 'number' && Number.isInteger(seed) && Math.abs(seed) <= 0xffffffff) return seed >>> 0;
  return hashString(String(seed));
}

export function createRandom(seed: number | string): SeededRandom {
  const seed32 = seedTo32(seed);
  const sm = splitmix32(seed32);
  let a = sm();
  let b = sm();
  let c = sm();
  let d = sm();
  // xoshiro's all-zero state is a fixed point; splitmix32 practically never yields it.
  if ((a | b | c | d) === 0) a = 1;

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => nextU32() / 4294967296;

  // Box-Muller yields pairs; keep the second for the next call.
  let spare: number | null = null;
  const standardNormal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = next();
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };

  const rng: SeededRandom = {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (min, max) => {
      const lo = Math.ceil(min);
      const hi = Math.floor(max);
      if (hi < lo) throw new RangeError(`empty integer range [${min}, ${max}]`);
      return lo + Math.floor(next() * (hi - lo + 1));
    },
    normal: (mean = 0, sd = 1) => mean + sd * standardNormal(),
    bool: (p = 0.5) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    shuffle: (items) => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = out[i] as (typeof out)[number];
        out[i] = out[j] as (typeof out)[number];
        out[j] = tmp;
      }
      return out;
    },
    fork: (label) => createRandom(hashString(`${seed32}/${String(label)}`)),
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
