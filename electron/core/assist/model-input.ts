/**
 * An image -> an imported model's input tensor, as its manifest's preprocessing says, and the
 * mapping back from the model's input pixels to the image's (a Letterbox, predict/letterbox-
 * mapping.ts, whose inverse turns boxes and class maps into image pixels).
 *
 * - 'fovea' (a model Fovea exported): exactly Fovea's training pipeline (sample-loader.ts
 *   loadSample: the run's normalisation, letterbox, box-filter reduction), NHWC, so an exported
 *   run predicts what the run predicts.
 * - 'letterbox' (centred), 'letterbox-top-left', 'stretch': the image decoded to [0, 1] as the
 *   viewer shows it by default (DICOM: the file's window; plain images as stored), in 0..255,
 *   scaled once by s = min(W / w, H / h) (letterbox) or per axis (stretch), sampled bilinearly at
 *   pixel centres (an image more than twice the input's size is box-filtered first, as training
 *   does), padding `pad`; then value = (v * scale - mean[c]) / std[c] per channel in
 *   channelOrder, in the model's layout (NCHW or NHWC).
 * Coordinates are continuous (pixel (c, r) covers [c, c+1) x [r, r+1)): input = s * image + pad.
 */
import type { ModelManifest } from '../../contract/assist';
import type { TrainConfig } from '../../contract/ml';
import { letterboxOf, type Letterbox } from '../predict/letterbox-mapping';
import { decodeImage, loadSample, reduceImage, type BlobReader, type FloatImage } from '../training/sample-loader';
import type { SampleSource } from '../training/training-samples';

export interface ModelInput {
  /** One image's input values (C*H*W in the model's layout). */
  x: Float32Array;
  lb: Letterbox;
}

type PlainPreprocessing = Extract<ModelManifest['preprocessing'], { resize: 'letterbox' | 'letterbox-top-left' | 'stretch' }>;

/** The placement of a width x height image in the model's input. */
export function placement(width: number, height: number, inputWidth: number, inputHeight: number, resize: PlainPreprocessing['resize']): Letterbox {
  if (resize === 'stretch') {
    return { inputSize: inputWidth, inputHeight, scale: inputWidth / width, scaleY: inputHeight / height, padX: 0, padY: 0, width, height };
  }
  const s = Math.min(inputWidth / width, inputHeight / height);
  const centred = resize === 'letterbox';
  return {
    inputSize: inputWidth,
    inputHeight,
    scale: s,
    scaleY: s,
    padX: centred ? (inputWidth - width * s) / 2 : 0,
    padY: centred ? (inputHeight - height * s) / 2 : 0,
    width,
    height,
  };
}

/** Bilinear sample of channel c at continuous image point (x, y) (pixel centres at +0.5), edges clamped. */
function sample(img: FloatImage, x: number, y: number, c: number): number {
  const fx = Math.min(img.width - 1, Math.max(0, x - 0.5));
  const fy = Math.min(img.height - 1, Math.max(0, y - 0.5));
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(img.width - 1, x0 + 1);
  const y1 = Math.min(img.height - 1, y0 + 1);
  const tx = fx - x0;
  const ty = fy - y0;
  const C = img.channels;
  const d = img.data;
  const a = (d[(y0 * img.width + x0) * C + c] as number) * (1 - tx) + (d[(y0 * img.width + x1) * C + c] as number) * tx;
  const b = (d[(y1 * img.width + x0) * C + c] as number) * (1 - tx) + (d[(y1 * img.width + x1) * C + c] as number) * tx;
  return a * (1 - ty) + b * ty;
}

/** A decoded [0, 1] image -> the input tensor of a model with plain preprocessing (see the file header). */
export function plainInput(image: FloatImage, m: Pick<ModelManifest, 'input'> & { preprocessing: PlainPreprocessing }): ModelInput {
  const { width: W, height: H, channels: C, layout } = m.input;
  const p = m.preprocessing;
  const lb = placement(image.width, image.height, W, H, p.resize);
  const sx = lb.scale;
  const sy = lb.scaleY ?? lb.scale;
  // Shrinking by 2x or more: box-filter first so bilinear sampling does not alias.
  const f = Math.max(1, Math.floor(Math.min(1 / sx, 1 / sy)));
  const src = f > 1 ? reduceImage(image, f) : image;
  const x = new Float32Array(C * H * W);
  const bgr = p.channelOrder === 'BGR' && C === 3;
  const norm = (v255: number, c: number): number => (v255 * p.scale - (p.mean[c] as number)) / (p.std[c] as number);
  const padValue = Array.from({ length: C }, (_, c) => norm(p.pad, c));
  for (let v = 0; v < H; v++) {
    const iy = (v + 0.5 - lb.padY) / sy;
    for (let u = 0; u < W; u++) {
      const ix = (u + 0.5 - lb.padX) / sx;
      const inside = ix >= 0 && iy >= 0 && ix < image.width && iy < image.height;
      for (let c = 0; c < C; c++) {
        const from = bgr ? 2 - c : c;
        const value = inside ? norm(sample(src, ix / f, iy / f, from) * 255, c) : (padValue[c] as number);
        x[layout === 'NCHW' ? c * H * W + v * W + u : (v * W + u) * C + c] = value;
      }
    }
  }
  return { x, lb };
}

/** One image's input for a model (see the file header). */
export async function modelInput(blobs: BlobReader, source: SampleSource, manifest: ModelManifest): Promise<ModelInput> {
  const p = manifest.preprocessing;
  if (p.resize === 'fovea') {
    const S = manifest.input.width;
    const C = manifest.input.channels;
    const normalization = p.normalization as TrainConfig['normalization'];
    const loaded = await loadSample(blobs, { ...source, target: { task: 'classification', classIndices: [] }, annotations: [] }, { task: 'classification', inputSize: S, normalization, channels: C });
    return { x: loaded.x, lb: letterboxOf(source.width, source.height, S) };
  }
  if (p.resize === 'longest-side') throw new Error('a prompt-segmentation model has no plain input');
  const image = await decodeImage(blobs, source, source.kind === 'dicom' ? { kind: 'file-window' } : { kind: 'unit' }, manifest.input.channels);
  return plainInput(image, { input: manifest.input, preprocessing: p });
}
