/**
 * The image embeddings of a promptable segmenter, least recently used first out, bounded by
 * BYTES (an embedding of SAM is 256 x 64 x 64 float32 = 4 MiB; a few hundred images would
 * otherwise fill the machine). Lives in the decoder worker next to the decoder session, so a click
 * never copies an embedding between threads.
 *
 * An entry larger than the whole bound is not kept (the caller still gets its mask: the embedding
 * is used once and dropped). `prefetched` entries were computed ahead of need (the next images in
 * browse order) and are counted until first used, so the UI can say how far ahead it is.
 */

export interface CachedEmbedding {
  data: Float32Array;
  /** The image's size (the decoder maps masks back to it). */
  width: number;
  height: number;
  /** Computed ahead of need and not used yet. */
  prefetched: boolean;
}

export class EmbeddingCache {
  readonly maxBytes: number;
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  readonly #entries = new Map<string, CachedEmbedding>();
  #bytes = 0;

  constructor(maxBytes: number) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, not ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get prefetched(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.prefetched) n++;
    return n;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The entry, now the most recently used (and no longer 'prefetched'). */
  get(key: string): CachedEmbedding | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    e.prefetched = false;
    this.#entries.set(key, e);
    return e;
  }

  /** Stores an entry as the most recently used; returns the keys evicted to stay within the bound. */
  set(key: string, entry: CachedEmbedding): string[] {
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.data.byteLength;
    }
    const evicted: string[] = [];
    if (entry.data.byteLength > this.maxBytes) return evicted;
    this.#entries.set(key, entry);
    this.#bytes += entry.data.byteLength;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= e.data.byteLength;
      evicted.push(k);
    }
    return evicted;
  }

  delete(key: string): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    this.#entries.delete(key);
    this.#bytes -= e.data.byteLength;
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
