/**
 * cornerstone's image loader for Fovea: imageIds `fovea:ITEM:FRAME` are
 * loaded with the `pixels.get` request (decoded by the backend's one
 * decoder) and wrapped as cornerstone images. The frame's metadata (windows,
 * spacing, overlay text) is kept beside the image for the viewer.
 *
 * VOI: cornerstone's canvas LUT computes ((x - c) / w + 0.5) * 255, clamped
 * and rounded. That is LINEAR_EXACT, not the LINEAR function of PS3.3
 * C.11.2.1.2.1 that files and presets mean. With c' = c - 0.5 and
 * w' = w - 1 the two are the same expression, so `toCornerstoneVoi` converts
 * a DICOM window into cornerstone's and the canvas shows exactly LINEAR.
 */
import cornerstone, { type Image } from 'cornerstone-core';
import type { GreyPixelFrame, PixelFrame, RgbaPixelFrame } from '../../../electron/contract/domain';
import { request } from '../lib/api';

export const IMAGE_SCHEME = 'fovea';

export interface DicomWindow {
  center: number;
  width: number;
}

/** A DICOM (PS3.3 LINEAR) window as cornerstone's viewport voi. */
export function toCornerstoneVoi(w: DicomWindow): { windowCenter: number; windowWidth: number } {
  return { windowCenter: w.center - 0.5, windowWidth: Math.max(w.width - 1, 1e-3) };
}

export function imageIdOf(itemId: number, frame: number): string {
  return `${IMAGE_SCHEME}:${itemId}:${frame}`;
}

/** A frame without its pixels (the cornerstone image holds those, in its bounded cache). */
export type FrameMeta = Omit<GreyPixelFrame, 'data'> | Omit<RgbaPixelFrame, 'data'>;

/** Frame metadata by imageId. Bounded. */
const frames = new Map<string, FrameMeta>();
const MAX_FRAMES_META = 4096;

export function frameOf(imageId: string): FrameMeta | undefined {
  return frames.get(imageId);
}

/** The file's window, else the frame's modality-value range; colour: identity. */
export function defaultWindow(frame: FrameMeta): DicomWindow {
  if (frame.kind === 'rgba') return { center: 128, width: 256 };
  const c = frame.windowCenter[0];
  const w = frame.windowWidth[0];
  if (c !== undefined && w !== undefined && w > 0) return { center: c, width: w };
  const a = frame.min * frame.slope + frame.intercept;
  const b = frame.max * frame.slope + frame.intercept;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return { center: (lo + hi + 1) / 2, width: Math.max(hi - lo + 1, 1) };
}

function toImage(imageId: string, frame: PixelFrame): Image {
  const win = toCornerstoneVoi(defaultWindow(frame));
  const spacing = frame.pixelSpacing;
  const common = {
    imageId,
    rows: frame.rows,
    columns: frame.columns,
    height: frame.rows,
    width: frame.columns,
    rowPixelSpacing: spacing?.[0],
    columnPixelSpacing: spacing?.[1],
    windowCenter: win.windowCenter,
    windowWidth: win.windowWidth,
    sizeInBytes: frame.data.byteLength,
  };
  if (frame.kind === 'rgba') {
    const data = frame.data;
    return { ...common, color: true, rgba: true, invert: false, minPixelValue: 0, maxPixelValue: 255, slope: 1, intercept: 0, getPixelData: () => data };
  }
  const data = frame.data;
  return {
    ...common,
    color: false,
    rgba: false,
    invert: frame.monochrome1,
    // cornerstone builds its LUT over [min, max] of the stored values.
    minPixelValue: Math.floor(frame.min),
    maxPixelValue: Math.ceil(frame.max),
    slope: frame.slope,
    intercept: frame.intercept,
    getPixelData: () => data,
  };
}

function load(imageId: string): { promise: Promise<Image>; cancelFn: () => void } {
  let cancelled = false;
  const promise = (async () => {
    const [, item, frameText] = imageId.split(':');
    const itemId = Number(item);
    const frame = Number(frameText);
    if (!Number.isInteger(itemId) || !Number.isInteger(frame)) throw new Error(`Not a Fovea image id: ${imageId}`);
    const res = await request('pixels.get', { itemId, frame });
    if (!res.ok) throw new Error(res.error.message);
    if (cancelled) throw new Error('cancelled');
    if (frames.size >= MAX_FRAMES_META) {
      const first = frames.keys().next().value;
      if (first !== undefined) frames.delete(first);
    }
    const { data: _pixels, ...meta } = res.value;
    frames.set(imageId, meta);
    return toImage(imageId, res.value);
  })();
  return {
    promise,
    cancelFn: () => {
      cancelled = true;
    },
  };
}

let registered = false;

/** Register the loader once and bound cornerstone's image cache. */
export function registerFoveaLoader(cacheBytes = 512 * 1024 * 1024): void {
  if (registered) return;
  registered = true;
  cornerstone.registerImageLoader(IMAGE_SCHEME, load);
  cornerstone.imageCache.setMaximumSizeBytes(cacheBytes);
}
