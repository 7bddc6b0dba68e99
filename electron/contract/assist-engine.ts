/**
 * The contract between the core's model-assistance services (electron/core/assist: click-to-mask,
 * propagation, imported ONNX models) and native-models/assist, which runs the ONNX models on
 * onnxruntime-node in inference workers. Like ml.ts' MlEngine, the engine is injected: the core
 * never imports native-models. Plain data only (it crosses to worker threads).
 *
 * Files are named by path AND the SHA-256 and size a verified manifest promised: the engine reads
 * each file once, hashes exactly the bytes it hands to ONNX Runtime, and refuses a mismatch, so
 * what runs is what was verified (no check-then-use gap).
 */

/** An ONNX file as a verified manifest names it. */
export interface OnnxFileRef {
  path: string;
  sha256: string;
  bytes: number;
}

/** A promptable segmenter (Segment Anything's encoder/decoder split). */
export interface PromptModelRef {
  /** Stable id of the model and its files (cache keys include it). */
  id: string;
  encoder: OnnxFileRef;
  decoder: OnnxFileRef;
  /** The encoder's square input side (1024 for SAM). */
  inputSize: number;
  /** Per-channel mean and std applied to 0..255 RGB (SAM: ImageNet's, in 0..255). */
  mean: [number, number, number];
  std: [number, number, number];
  /** The decoder's low-resolution mask side (256 for SAM). */
  maskSize: number;
}

/** An 8-bit RGB image, row-major [height, width, 3]. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A click: image pixel coordinates (continuous: pixel (c, r) covers [c, c+1) x [r, r+1)). */
export interface PromptPoint {
  x: number;
  y: number;
  /** true: on the object; false: not on it. */
  positive: boolean;
}

export interface SegmentPrompt {
  points: PromptPoint[];
  /** A box around the object, image pixels (x0, y0 top-left; x1, y1 bottom-right). */
  box: { x0: number; y0: number; x1: number; y1: number } | null;
  /** The decoder's previous low-resolution logits (maskSize^2) to refine, or null. */
  maskInput: Float32Array | null;
}

export interface PromptSegmentation {
  width: number;
  height: number;
  /** Row-major width*height, 1 on the object. */
  mask: Uint8Array;
  /** The decoder's predicted IoU of the mask (its confidence). */
  score: number;
  /** Low-resolution logits (maskSize^2), to refine with the next prompt. */
  lowRes: Float32Array;
  /** ms spent encoding the image for this call (null: its embedding was cached). */
  encodeMs: number | null;
  decodeMs: number;
}

/** Supplies an image's pixels when its embedding has to be computed (not on a cache hit). */
export type ImageSupplier = () => Promise<RgbImage>;

export interface EmbeddingCacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Embeddings computed ahead of need and not used yet. */
  prefetched: number;
}

/** A tensor's declared shape: numbers, a named symbolic dimension, or null when unknown. */
export type TensorDim = number | string | null;

export interface OnnxTensorInfo {
  name: string;
  /** 'float32', 'uint8', 'int64', ... */
  type: string;
  dims: TensorDim[];
}

/** What an ONNX file declares: enough to check and decode it without running it. */
export interface OnnxGraphInfo {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  /** metadata_props (Ultralytics writes names, stride, imgsz, task there). */
  metadata: Record<string, string>;
  /** Distinct operator types in the graph (detects e.g. a final Softmax, or an Exp that decodes boxes). */
  operators: string[];
  /** The op type producing each graph output. */
  outputProducers: Record<string, string>;
}

/**
 * How an imported model's raw outputs become predictions (see native-models/assist/decoders.ts):
 * - classifier-logits / classifier-probabilities / classifier-sigmoid: [N, K];
 * - segmentation-logits / segmentation-probabilities: per-pixel class scores, NCHW or NHWC;
 * - yolov5: [N, A, 5 + K] (cx, cy, w, h, objectness, class scores), decoded in input pixels;
 * - yolov8: [N, 4 + K, A] (cx, cy, w, h, class scores): YOLOv8 and YOLO11 detect exports;
 * - yolox: [N, A, 5 + K] raw (grid offsets and log sizes, YOLOX's default export), decoded on
 *   strides 8, 16, 32;
 * - fovea: a model exported by Fovea (model-card.json), decoded exactly as Fovea's runs are.
 */
export const PLAIN_DECODERS = [
  'classifier-logits',
  'classifier-probabilities',
  'classifier-sigmoid',
  'segmentation-logits',
  'segmentation-probabilities',
  'yolov5',
  'yolov8',
  'yolox',
] as const;
export type OutputDecoder = (typeof PLAIN_DECODERS)[number] | 'fovea';

/** A single-file ONNX model with its decoding, ready to run. */
export interface OnnxModelRef {
  id: string;
  file: OnnxFileRef;
  inputName: string;
  /** The input tensor's layout and size (batch first). */
  layout: 'NCHW' | 'NHWC';
  inputWidth: number;
  inputHeight: number;
  channels: 1 | 3;
  decoder: OutputDecoder;
  numClasses: number;
  /** 'fovea' only: what Fovea's decoding needs (the run's task, classes, input size, multi-label). */
  fovea?: { task: 'classification' | 'detection' | 'segmentation'; classNames: string[]; inputSize: number; channels: 1 | 3; multiLabel: boolean };
}

/** One image's decoded outputs, in INPUT pixels of the model. */
export type ModelOutput =
  | { task: 'classification'; probabilities: number[] }
  | { task: 'detection'; boxes: { x: number; y: number; width: number; height: number; classIndex: number; score: number }[] }
  /** [height, width] class indices (row-major) and each pixel's winning probability. */
  | { task: 'segmentation'; width: number; height: number; classes: Uint8Array; confidence: Float32Array };

export interface DecodeOptions {
  /** Detection: lowest score kept (default 0.25). */
  scoreThreshold?: number;
  /** Detection: IoU above which a lower-scored box of the same class is suppressed (default 0.45). */
  iouThreshold?: number;
  /** Detection: most boxes per image (default 300). */
  maxDetections?: number;
}

export interface AssistEngine {
  /**
   * Computes (or finds cached) the embedding of an image. `priority` 'ahead' queues it behind any
   * 'now' work (images in browse order, encoded before the user gets there).
   */
  encode(model: PromptModelRef, key: string, image: ImageSupplier, priority: 'now' | 'ahead'): Promise<{ encodeMs: number | null }>;
  /** Prompts -> mask at the image's own size; encodes first when the embedding is not cached. */
  segment(model: PromptModelRef, key: string, image: ImageSupplier, prompt: SegmentPrompt): Promise<PromptSegmentation>;
  /** Forget queued 'ahead' encodes that are not in `keep` (the user moved on). */
  dropAhead(keep: readonly string[]): void;
  cacheStats(): EmbeddingCacheStats;
  /** Reads an ONNX file's declared inputs, outputs, operators and metadata (no weights kept). */
  inspect(path: string): Promise<OnnxGraphInfo>;
  /** Runs a model on n images (`x` in the model's layout) and decodes its outputs. */
  run(model: OnnxModelRef, x: Float32Array, n: number, options?: DecodeOptions): Promise<ModelOutput[]>;
  /**
   * Stops: queued work is dropped (its callers get an error), a model run in progress finishes,
   * then the workers exit. Resolves when they have (await it before the process exits: a worker
   * stopped in the middle of ONNX Runtime's native run takes the process down).
   */
  dispose(): Promise<void>;
}
