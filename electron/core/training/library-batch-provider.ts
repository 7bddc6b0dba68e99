/**
 * The BatchProvider over the library: batches are built on demand from the
 * stored files, so a dataset far larger than memory trains.
 *
 * Memory behaviour (what is held, and the bounds):
 * - The samples (ids, boxes, polygon points; no pixels, no mask pixels).
 * - An LRU cache of decoded samples (normalised float image, reduced to at
 *   most about 2x the input size, plus the class map for segmentation),
 *   bounded by `cacheBytes` (default 256 MiB): inserting evicts the least
 *   recently used entries until the total fits; an entry larger than the
 *   whole budget is not cached at all. With a 128 px RGB input an entry is
 *   at most ~0.8 MB, so the default holds a few hundred images; small
 *   datasets then decode once and later epochs come from memory.
 * - Outside the cache: the batch being assembled and at most
 *   `prefetchBatches` (default 1) finished batches of the next index, each
 *   batchSize x inputSize^2 x channels float32, and the full-resolution
 *   decodes of the (at most `decodeConcurrency`) images in flight.
 *
 * Order: train batches are a permutation of the train samples, reshuffled
 * every epoch from (seed, epoch); val and test batches are in fixed order
 * (item id, frame). Train samples are augmented per (seed, epoch, item,
 * frame); val and test never are. The last batch of an epoch may be short.
 * Detection copy-paste (augment.copyPaste, copy-paste.ts): a train image may get objects of
 * another train image pasted; the decoded samples then also hold their objects' instance maps
 * (1 byte per stored pixel), and only then.
 *
 * A sample that cannot be decoded (file gone, decoder error) is left out of
 * its batch and listed in `stats().failures`; a batch with no sample left
 * throws. Prefetching runs on the main thread while the training worker
 * computes, which is where the overlap comes from.
 */
import type { Batch, BatchProvider, BatchTargets, SplitName, TaskKind, TrainConfig } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import type { CocoRle } from '../labels/label-types';
import { rleArea } from '../labels/rle';
import { createRandom } from '../samples/seeded-random';
import type { Db } from '../store/library-db';
import { multiScaleSides, trainBatchSide } from './multi-scale';
import { applyCopyPaste, pasteableObjects, planCopyPaste } from './copy-paste';
import { choosePatchOrigin, patchTransform } from './patches';
import { assembleSample, decodeSample, type BlobReader, type DecodedSample, type LoadOptions } from './sample-loader';
import { IGNORE_INDEX, maskReader, type Sample } from './training-samples';

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

/** What the provider needs of the core (a Core satisfies it). */
export interface TrainingDataDeps {
  blobs: BlobReader;
  /** Segmentation masks are read from the library when their image is loaded. */
  db?: Db;
}

export interface LibraryBatchProviderOptions {
  samples: readonly Sample[];
  /** itemId -> split (SplitService.splitMap); samples without one are not used. */
  splits: ReadonlyMap<number, SplitName>;
  config: TrainConfig;
  /** Budget of the decoded-image cache in bytes (default 256 MiB). */
  cacheBytes?: number;
  /** Finished batches built ahead (default 1; 0 turns prefetching off). */
  prefetchBatches?: number;
  /** Images decoded at once within a batch (default 4). */
  decodeConcurrency?: number;
  /** After each image decoded, with the number decoded so far (a training run's start phases). */
  onDecoded?: (decodes: number) => void;
}

export interface ProviderStats {
  cacheBudgetBytes: number;
  cacheBytes: number;
  /** Highest cacheBytes ever reached (never above the budget). */
  peakCacheBytes: number;
  cacheEntries: number;
  hits: number;
  misses: number;
  evictions: number;
  decodes: number;
  /** Finished batches held ahead of their request, and their bytes. */
  prefetchedBatches: number;
  prefetchedBytes: number;
  failures: { itemId: number; frameIndex: number; message: string }[];
  /** Segmentation masks that changed since the samples were collected (left out). */
  missingMasks: number;
  /** Copy-paste: train samples whose objects can be pasted, and training images that got a paste so far. */
  copyPaste: { sources: number; pastedImages: number };
}

export interface LibraryBatchProvider extends BatchProvider {
  /** Samples per split; `unassigned` have no split and are not used. */
  readonly sampleCounts: Record<SplitName, number> & { unassigned: number };
  batchesPerEpoch(split: SplitName): number;
  batch(split: SplitName, epoch: number, index: number): Promise<Batch>;
  /** Every test-split sample once, in fixed order (evaluation). */
  testBatches(): AsyncGenerator<Batch>;
  /** Inverse-frequency weights over the train split (see computeClassWeights). */
  classWeights(): number[] | null;
  stats(): ProviderStats;
  /** Drop the cache and pending prefetches. */
  dispose(): void;
}

function sampleKey(s: Sample): string {
  return `${s.itemId}:${s.frameIndex}`;
}

function byItemFrame(a: Sample, b: Sample): number {
  return a.itemId - b.itemId || a.frameIndex - b.frameIndex;
}

/** Byte-bounded LRU (Map iteration order is insertion order: first = least recent). */
class DecodedCache {
  readonly budget: number;
  readonly #map = new Map<string, DecodedSample>();
  bytes = 0;
  peak = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(budget: number) {
    this.budget = budget;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): DecodedSample | undefined {
    const v = this.#map.get(key);
    if (v) {
      this.#map.delete(key);
      this.#map.set(key, v);
      this.hits++;
    } else {
      this.misses++;
    }
    return v;
  }

  set(key: string, value: DecodedSample): void {
    if (value.bytes > this.budget || this.#map.has(key)) return;
    while (this.bytes + value.bytes > this.budget) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      const v = this.#map.get(oldest.value) as DecodedSample;
      this.#map.delete(oldest.value);
      this.bytes -= v.bytes;
      this.evictions++;
    }
    this.#map.set(key, value);
    this.bytes += value.bytes;
    this.peak = Math.max(this.peak, this.bytes);
  }

  clear(): void {
    this.#map.clear();
    this.bytes = 0;
  }
}

function polygonArea(points: readonly [number, number][]): number {
  let a = 0;
  for (let i = 0; i < points.length; i++) {
    const [x0, y0] = points[i] as [number, number];
    const [x1, y1] = points[(i + 1) % points.length] as [number, number];
    a += x0 * y1 - x1 * y0;
  }
  return Math.abs(a) / 2;
}

/**
 * Class weights for TrainConfig.classWeights: scikit-learn's 'balanced'
 * inverse frequency, w_k = N / (K * n_k), over the K classes that occur
 * (a class with no example gets 0: it is never a target). Classification
 * counts images (multi-label: positives per class); segmentation counts
 * pixels, estimated from the geometry (polygon area, mask pixel count;
 * overlaps counted twice; background = image pixels - labelled pixels),
 * without decoding any image. Detection: null (not used).
 */
export function computeClassWeights(
  samples: readonly Sample[],
  classCount: number,
  task: TaskKind,
  readMask?: (annotationId: number, version: number) => CocoRle | null,
  unlabeledPixels: 'background' | 'ignore' = 'background',
): number[] | null {
  if (task === 'detection') return null;
  const counts = new Float64Array(classCount);
  for (const s of samples) {
    if (s.target.task === 'classification') {
      for (const k of s.target.classIndices) if (k < classCount) counts[k] = (counts[k] as number) + 1;
    } else if (s.target.task === 'segmentation') {
      let labelled = 0;
      for (const shape of s.target.shapes) {
        const rle = shape.kind === 'mask' ? readMask?.(shape.annotationId, shape.version) : null;
        const area = shape.kind === 'polygon' ? polygonArea(shape.points) : rle ? rleArea(rle) : 0;
        if (shape.classIndex < classCount) counts[shape.classIndex] = (counts[shape.classIndex] as number) + area;
        labelled += area;
      }
      if (unlabeledPixels === 'background') counts[0] = (counts[0] as number) + Math.max(0, s.width * s.height - labelled);
    }
  }
  const present = [...counts].filter((n) => n > 0).length;
  const total = [...counts].reduce((a, b) => a + b, 0);
  if (present === 0) return Array.from({ length: classCount }, () => 1);
  return [...counts].map((n) => (n > 0 ? total / (present * n) : 0));
}

/**
 * The provider (see the file header). Checks that every sample fits the
 * config (task, class indices) before the first batch.
 */
export function createLibraryBatchProvider(deps: TrainingDataDeps, options: LibraryBatchProviderOptions): LibraryBatchProvider {
  const { config } = options;
  const budget = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
  const prefetchDepth = Math.max(0, options.prefetchBatches ?? 1);
  const concurrency = Math.max(1, options.decodeConcurrency ?? 4);
  if (!Number.isInteger(config.batchSize) || config.batchSize < 1) {
    throw new FoveaException('VALIDATION', `The batch size must be a whole number ≥ 1, not ${config.batchSize}.`);
  }
  if (!Number.isInteger(config.inputSize) || config.inputSize < 1) {
    throw new FoveaException('VALIDATION', `The input size must be a whole number ≥ 1, not ${config.inputSize}.`);
  }
  const aug = config.augment;
  if (
    !(aug.scale >= 0 && aug.scale < 1) ||
    !(aug.intensity >= 0 && aug.intensity <= 1) ||
    !(Number.isFinite(aug.rotateDegrees) && aug.rotateDegrees >= 0 && aug.rotateDegrees <= 180) ||
    !((aug.translate ?? 0) >= 0 && (aug.translate ?? 0) <= 0.5) ||
    !((aug.saturation ?? 0) >= 0 && (aug.saturation ?? 0) <= 1) ||
    !((aug.minBoxVisibility ?? 0) >= 0 && (aug.minBoxVisibility ?? 0) <= 1) ||
    !((aug.multiScale ?? 0) >= 0 && (aug.multiScale ?? 0) <= 0.5) ||
    !((aug.copyPaste ?? 0) >= 0 && (aug.copyPaste ?? 0) <= 1)
  ) {
    throw new FoveaException('VALIDATION', 'Augmentation needs scale in [0, 1), intensity in [0, 1], rotation in [0, 180] degrees, translate in [0, 0.5], saturation in [0, 1], box visibility in [0, 1], multi-scale in [0, 0.5] and copy-paste in [0, 1].');
  }
  if ((aug.copyPaste ?? 0) > 0 && config.task !== 'detection') throw new FoveaException('VALIDATION', `Copy-paste augmentation applies to detection runs only (a ${config.task} run was asked for).`);
  const K = config.classNames.length;
  for (const s of options.samples) {
    if (s.target.task !== config.task) throw new FoveaException('VALIDATION', `Item ${s.itemId} is a ${s.target.task} sample; the run trains ${config.task}.`);
    const indices =
      s.target.task === 'classification'
        ? s.target.classIndices
        : s.target.task === 'detection'
          ? s.target.boxes.map((b) => b.classIndex)
          : s.target.shapes.map((b) => b.classIndex);
    // Segmentation shapes of a region to ignore (void class, crowd) carry IGNORE_INDEX: no class, no loss.
    const outside = (k: number): boolean => k < 0 || (k >= K && !(s.target.task === 'segmentation' && k === IGNORE_INDEX));
    if (indices.some(outside)) throw new FoveaException('VALIDATION', `Item ${s.itemId} has a class index outside the run's ${K} classes.`);
  }
  if (config.task === 'segmentation' && K > 255) throw new FoveaException('VALIDATION', 'Segmentation supports at most 255 classes (255 marks ignored pixels).');

  const bySplit: Record<SplitName, Sample[]> = { train: [], val: [], test: [] };
  let unassigned = 0;
  for (const s of options.samples) {
    const split = options.splits.get(s.itemId);
    if (split) bySplit[split].push(s);
    else unassigned++;
  }
  for (const list of Object.values(bySplit)) list.sort(byItemFrame);
  // Patch training (segmentation at native resolution): each train and val image gives
  // patchesPerImage patches per epoch, told apart by their index. The test split stays whole.
  const patch = config.task === 'segmentation' && config.patch ? config.patch : null;
  const patchIndex = new Map<Sample, number>();
  if (patch) {
    const copies = Math.max(1, Math.floor(patch.patchesPerImage));
    for (const split of ['train', 'val'] as const) {
      bySplit[split] = bySplit[split].flatMap((s) =>
        Array.from({ length: copies }, (_, r) => {
          const copy: Sample = { ...s };
          patchIndex.set(copy, r);
          return copy;
        }),
      );
    }
  }

  // Copy-paste (detection): the train samples whose objects can be pasted, and where each sits among them.
  const copyPaste = config.task === 'detection' && (aug.copyPaste ?? 0) > 0;
  const pastePool = copyPaste ? bySplit.train.filter((s) => pasteableObjects(s).length > 0) : [];
  const poolIndex = new Map(pastePool.map((s, i) => [sampleKey(s), i]));
  let pastes = 0;
  const readMask = deps.db ? maskReader(deps.db) : undefined;
  const cache = new DecodedCache(budget);
  const inFlight = new Map<string, Promise<DecodedSample>>();
  const prefetched = new Map<string, { promise: Promise<Batch>; bytes: number }>();
  const failures: ProviderStats['failures'] = [];
  const failed = new Set<string>();
  let decodes = 0;
  let missingMasks = 0;
  let disposed = false;
  const S = config.inputSize;
  const C = config.channels;
  const decodeOptions = {
    normalization: config.normalization,
    channels: C,
    // Patches are cut from the full-resolution image; whole images are reduced for the input first
    // (for the largest side a multi-scale detection run trains at).
    ...(patch ? {} : { inputSize: Math.max(...multiScaleSides(config)) }),
    ...(readMask ? { readMask } : {}),
    ...(config.unlabeledPixels ? { unlabeledPixels: config.unlabeledPixels } : {}),
    // Copy-paste: decoded samples keep their objects' instance maps (only then: memory stays as is otherwise).
    ...(pastePool.length > 0 ? { instanceMasks: true } : {}),
  };

  const count = (split: SplitName): number => Math.ceil(bySplit[split].length / config.batchSize);

  function orderOf(split: SplitName, epoch: number): Sample[] {
    const list = bySplit[split];
    if (split !== 'train') return list;
    return createRandom(config.seed).fork(`shuffle/${epoch}`).shuffle(list);
  }
  // The permutations of the last two epochs asked for (the current one and the prefetched next).
  const orders = new Map<number, Sample[]>();
  function trainOrder(epoch: number): Sample[] {
    let order = orders.get(epoch);
    if (!order) {
      order = orderOf('train', epoch);
      orders.set(epoch, order);
      if (orders.size > 2) orders.delete(orders.keys().next().value as number);
    }
    return order;
  }

  async function decoded(s: Sample): Promise<DecodedSample> {
    const key = sampleKey(s);
    const hit = cache.get(key);
    if (hit) return hit;
    let p = inFlight.get(key);
    if (!p) {
      p = decodeSample(deps.blobs, s, decodeOptions).then((d) => {
        decodes++;
        options.onDecoded?.(decodes);
        if (d.missingMasks.length > 0) missingMasks += d.missingMasks.length;
        if (!disposed) cache.set(key, d);
        return d;
      });
      inFlight.set(key, p);
      void p.then(
        () => inFlight.delete(key),
        () => inFlight.delete(key),
      );
    }
    return p;
  }

  async function build(split: SplitName, epoch: number, index: number): Promise<Batch> {
    const n = count(split);
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new FoveaException('VALIDATION', `There is no ${split} batch ${index} (the split has ${n}).`);
    }
    const order = split === 'train' ? trainOrder(epoch) : bySplit[split];
    const members = order.slice(index * config.batchSize, (index + 1) * config.batchSize);
    // Detection multi-scale training: this train batch's own side (multi-scale.ts); S otherwise.
    const side = split === 'train' ? trainBatchSide(config, epoch, index) : S;
    const loadOptions: LoadOptions = {
      ...decodeOptions,
      inputSize: side,
      task: config.task,
      ...(split === 'train' ? { augment: config.augment, seed: config.seed, epoch } : {}),
    };
    const results: (ReturnType<typeof assembleSample> | null)[] = new Array(members.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < members.length) {
        const i = next++;
        const s = members[i] as Sample;
        try {
          const d = await decoded(s);
          const r = patchIndex.get(s);
          const placed: LoadOptions =
            patch && r !== undefined
              ? {
                  ...loadOptions,
                  placement: (draw) => {
                    const rng = createRandom(config.seed).fork(`patch/${split === 'train' ? epoch : 0}/${s.itemId}/${s.frameIndex}/${r}`);
                    return patchTransform(choosePatchOrigin(d.classMap, d.sourceWidth, d.sourceHeight, S, patch.foregroundProbability, rng), S, draw);
                  },
                }
              : loadOptions;
          const assembled = assembleSample(s, d, placed);
          const plan = split === 'train' && pastePool.length > 0 ? planCopyPaste(config.augment, config.seed, epoch, s, pastePool, poolIndex.get(sampleKey(s)) ?? -1) : null;
          let pasted: ReturnType<typeof applyCopyPaste> | null = null;
          if (plan) {
            try {
              pasted = applyCopyPaste(s, d, assembled, plan, await decoded(plan.source), config.augment.minBoxVisibility ?? 0);
              if (pasted.pastedObjects > 0) pastes++;
            } catch {
              // The source could not be read: this image trains without a paste (the source's own batch lists the failure).
            }
          }
          results[i] = pasted ?? assembled;
        } catch (e) {
          const key = sampleKey(s);
          if (!failed.has(key)) {
            failed.add(key);
            failures.push({ itemId: s.itemId, frameIndex: s.frameIndex, message: e instanceof Error ? e.message : String(e) });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, members.length) }, worker));
    const loaded = results.filter((r): r is NonNullable<typeof r> => r !== null);
    if (loaded.length === 0) {
      const why = failures.at(-1)?.message ?? 'unknown error';
      throw new FoveaException('BAD_INPUT', `No image of ${split} batch ${index} could be read (last error: ${why}).`);
    }
    const bn = loaded.length;
    const x = new Float32Array(bn * side * side * C);
    loaded.forEach((l, i) => x.set(l.x, i * side * side * C));
    let targets: BatchTargets;
    if (config.task === 'classification') {
      const labels = new Float32Array(bn * K);
      loaded.forEach((l, i) => {
        if (l.target.task === 'classification') for (const k of l.target.classIndices) labels[i * K + k] = 1;
      });
      targets = { task: 'classification', labels };
    } else if (config.task === 'detection') {
      targets = { task: 'detection', boxes: loaded.map((l) => (l.target.task === 'detection' ? l.target.boxes.map((b) => [...b]) : [])) };
    } else {
      const masks = new Uint8Array(bn * S * S);
      loaded.forEach((l, i) => {
        if (l.target.task === 'segmentation') masks.set(l.target.mask, i * S * S);
      });
      targets = { task: 'segmentation', masks };
    }
    return { x, n: bn, targets, itemIds: loaded.map((l) => l.itemId), ...(side !== S ? { inputSize: side } : {}) };
  }

  const keyOf = (split: SplitName, epoch: number, index: number): string => `${split}/${split === 'train' ? epoch : 0}/${index}`;

  function following(split: SplitName, epoch: number, index: number, steps: number): [number, number][] {
    const out: [number, number][] = [];
    const n = count(split);
    let e = epoch;
    let i = index;
    for (let k = 0; k < steps; k++) {
      i++;
      if (i >= n) {
        if (split !== 'train' || e + 1 >= config.epochs) break;
        e++;
        i = 0;
      }
      out.push([e, i]);
    }
    return out;
  }

  function schedule(split: SplitName, epoch: number, index: number): void {
    if (prefetchDepth === 0 || disposed) return;
    const wanted = following(split, epoch, index, prefetchDepth).map(([e, i]) => keyOf(split, e, i));
    for (const k of [...prefetched.keys()]) if (!wanted.includes(k)) prefetched.delete(k);
    for (const [e, i] of following(split, epoch, index, prefetchDepth)) {
      const k = keyOf(split, e, i);
      if (prefetched.has(k)) continue;
      const entry = { promise: build(split, e, i), bytes: 0 };
      entry.promise.then(
        (b) => {
          entry.bytes = b.x.byteLength;
        },
        () => undefined,
      );
      prefetched.set(k, entry);
    }
  }

  const provider: LibraryBatchProvider = {
    sampleCounts: { train: bySplit.train.length, val: bySplit.val.length, test: bySplit.test.length, unassigned },
    batchesPerEpoch: count,
    async batch(split, epoch, index) {
      if (disposed) throw new FoveaException('INTERNAL', 'The batch provider was disposed.');
      const k = keyOf(split, epoch, index);
      const ahead = prefetched.get(k);
      prefetched.delete(k);
      const promise = ahead?.promise ?? build(split, epoch, index);
      const b = await promise;
      schedule(split, epoch, index);
      return b;
    },
    async *testBatches() {
      for (let i = 0; i < count('test'); i++) yield await provider.batch('test', 0, i);
    },
    classWeights() {
      return computeClassWeights(bySplit.train, K, config.task, readMask, config.unlabeledPixels);
    },
    stats() {
      let prefetchedBytes = 0;
      for (const v of prefetched.values()) prefetchedBytes += v.bytes;
      return {
        cacheBudgetBytes: budget,
        cacheBytes: cache.bytes,
        peakCacheBytes: cache.peak,
        cacheEntries: cache.size,
        hits: cache.hits,
        misses: cache.misses,
        evictions: cache.evictions,
        decodes,
        prefetchedBatches: prefetched.size,
        prefetchedBytes,
        failures: failures.slice(),
        missingMasks,
        copyPaste: { sources: pastePool.length, pastedImages: pastes },
      };
    },
    dispose() {
      disposed = true;
      cache.clear();
      prefetched.clear();
    },
  };
  return provider;
}
