/**
 * A series' pixels as one volume in the core, decoded once by the one DICOM decoder.
 *
 * What is held (the memory bound): the acquired voxels, slice after slice, as Int16Array
 * (2 bytes a voxel) when every slice shares one rescale and the stored values fit in 16 bits
 * signed (CT: always), else as Float32Array of modality values (4 bytes). A 512x512x1000 CT is
 * 500 MiB; nothing else of that size is kept (planes are cut on request, the parsed files are
 * dropped after each slice). Resampled views (uneven spacing, gantry tilt) are interpolated per
 * plane from these voxels, never stored as a second volume.
 *
 * Files are parsed twice: once for the geometry of every frame (to find the stack and its order),
 * then slice by slice to decode, so that no more than one file is parsed at a time.
 */
import { FoveaException } from '../../contract/result';
import { decodeFrame, modalityValues, readImageInfo, type DicomImageInfo, type ParsedDicom } from '../dicom';
import { buildStacks, frameGeometriesOf, parseStoredDicom, type FrameGeometry, type SliceStack, type StoredDicomItem } from '../export/volume-geometry';
import type { BlobStore } from '../store/blob-store';
import { volumeGridOf, type VolumeGrid } from './volume-grid';

export interface ScanVolume {
  seriesId: number;
  grid: VolumeGrid;
  /** Acquired voxels: data[s * rows * columns + r * columns + c]. */
  data: Int16Array | Float32Array;
  valueType: 'int16' | 'float32';
  values: 'stored' | 'modality';
  slope: number;
  intercept: number;
  units: string | null;
  modality: string | null;
  min: number;
  max: number;
  window: { center: number; width: number };
  /** MONOCHROME1 (low values bright). */
  monochrome1: boolean;
  /** Value of display voxels outside the acquired footprint (gantry tilt): the minimum. */
  padding: number;
  bytes: number;
}

export interface LoadVolumeOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Refuse volumes whose voxels would take more than this many bytes. */
  maxBytes: number;
}

interface SliceHeader {
  info: DicomImageInfo;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FoveaException('CANCELLED', 'Loading the volume was cancelled.');
}

/** The stack MPR shows: the one with the most slices (a localizer or a second pass is left out, with a warning). */
export function chooseStack(frames: readonly FrameGeometry[]): { stack: SliceStack; warnings: string[] } {
  const stacks = buildStacks(frames);
  if (stacks.length === 0) throw new FoveaException('NOT_FOUND', 'This series has no DICOM images.');
  const best = stacks.reduce((a, b) => (b.slices.length > a.slices.length ? b : a));
  const warnings: string[] = [];
  const others = frames.length - best.slices.length;
  if (stacks.length > 1 && best.slices.length === 1) {
    throw new FoveaException('UNSUPPORTED', `The ${frames.length} images of this series do not share one plane (orientation, size or spacing differ): they are not one volume.`);
  }
  if (others > 0) warnings.push(`${others} image(s) of the series are not part of this volume (another orientation, size or position repeated): they are left out of the views.`);
  return { stack: best, warnings };
}

/** Reads headers (geometry) of every item, decides the volume, then decodes its slices. */
export async function loadScanVolume(blobs: Pick<BlobStore, 'read'>, seriesId: number, items: readonly StoredDicomItem[], options: LoadVolumeOptions): Promise<ScanVolume> {
  if (items.length === 0) throw new FoveaException('NOT_FOUND', `Series ${seriesId} has no DICOM images.`);
  const frames: FrameGeometry[] = [];
  const headers = new Map<number, SliceHeader>();
  for (const it of items) {
    checkCancelled(options.signal);
    const parsed = parseStoredDicom(blobs, it);
    const info = readImageInfo(parsed);
    if (!info) throw new FoveaException('UNSUPPORTED', `Image ${it.id} of this series has no pixel data.`);
    headers.set(it.id, { info });
    frames.push(...frameGeometriesOf(parsed, it.id));
  }
  const { stack, warnings } = chooseStack(frames);
  const grid = volumeGridOf(stack);
  grid.warnings.unshift(...warnings);

  const infos = grid.slices.map((s) => (headers.get(s.itemId) as SliceHeader).info);
  const first = infos[0] as DicomImageInfo;
  if (infos.some((i) => i.samplesPerPixel !== 1)) throw new FoveaException('UNSUPPORTED', 'Multi-planar views are for greyscale images; this series is in colour.');
  const sameRescale = infos.every((i) => i.modalityLut === null && i.rescaleSlope === first.rescaleSlope && i.rescaleIntercept === first.rescaleIntercept);
  const fitsInt16 = infos.every((i) => i.pixelDataKind === 'integer' && (i.bitsAllocated <= 8 || (i.bitsAllocated === 16 && (i.pixelRepresentation === 1 || i.bitsStored <= 15))));
  let asStored = sameRescale && fitsInt16;
  const { columns, rows } = grid;
  const sliceSize = columns * rows;
  const voxels = sliceSize * grid.acquiredSlices;
  const bytesFor = (perVoxel: number): number => voxels * perVoxel;
  const check = (bytes: number): void => {
    if (bytes > options.maxBytes) {
      throw new FoveaException(
        'TOO_LARGE',
        `This series needs ${mib(bytes)} as a volume (${columns}x${rows}x${grid.acquiredSlices} voxels), more than the ${mib(options.maxBytes)} Fovea keeps for volumes.`,
      );
    }
  };
  check(bytesFor(asStored ? 2 : 4));
  let data: Int16Array | Float32Array = asStored ? new Int16Array(voxels) : new Float32Array(voxels);
  // A 16-bit unsigned value above 32767 only shows when decoded: move to float32 modality values then.
  const upgrade = (upTo: number): void => {
    check(bytesFor(4));
    const f = new Float32Array(voxels);
    const s = first.rescaleSlope;
    const b = first.rescaleIntercept;
    for (let i = 0; i < upTo; i++) f[i] = (data[i] as number) * s + b;
    data = f;
    asStored = false;
  };

  let parsed = null as { itemId: number; parsed: ParsedDicom } | null;
  const total = grid.acquiredSlices;
  for (let s = 0; s < total; s++) {
    checkCancelled(options.signal);
    const g = grid.slices[s] as FrameGeometry;
    if (parsed?.itemId !== g.itemId) parsed = { itemId: g.itemId, parsed: parseStoredDicom(blobs, { id: g.itemId, blobSha256: itemBlob(items, g.itemId) }) };
    const info = (headers.get(g.itemId) as SliceHeader).info;
    const frame = await decodeFrame(parsed.parsed, g.frameIndex, { info });
    if (frame.rows !== rows || frame.columns !== columns) throw new FoveaException('BAD_INPUT', `Image ${g.itemId} decodes to ${frame.columns}x${frame.rows}, not the ${columns}x${rows} its header states.`);
    const src = frame.data;
    const base = s * sliceSize;
    if (asStored) {
      let overflow = -1;
      const dst = data as Int16Array;
      for (let i = 0; i < sliceSize; i++) {
        const val = src[i] as number;
        if (val > 32767 || val < -32768) {
          overflow = i;
          break;
        }
        dst[base + i] = val;
      }
      if (overflow >= 0) upgrade(base);
    }
    if (!asStored) {
      const dst = data as Float32Array;
      const lut = info.modalityLut;
      if (lut !== null) {
        dst.set(modalityValues(frame, info), base);
      } else {
        const sl = info.rescaleSlope;
        const ic = info.rescaleIntercept;
        for (let i = 0; i < sliceSize; i++) dst[base + i] = (src[i] as number) * sl + ic;
      }
    }
    options.onProgress?.(s + 1, total);
    if (s % 8 === 7) await yieldToEventLoop();
  }

  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as number;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const slope = asStored ? first.rescaleSlope : 1;
  const intercept = asStored ? first.rescaleIntercept : 0;
  const pairs = Math.min(first.windowCenter.length, first.windowWidth.length);
  const lo = Math.min(min * slope + intercept, max * slope + intercept);
  const hi = Math.max(min * slope + intercept, max * slope + intercept);
  const window = pairs > 0 && (first.windowWidth[0] ?? 0) > 0 ? { center: first.windowCenter[0] as number, width: first.windowWidth[0] as number } : { center: (lo + hi + 1) / 2, width: Math.max(hi - lo + 1, 1) };
  return {
    seriesId,
    grid,
    data,
    valueType: asStored ? 'int16' : 'float32',
    values: asStored ? 'stored' : 'modality',
    slope,
    intercept,
    units: first.modality === 'CT' ? 'HU' : first.rescaleType,
    modality: first.modality,
    min,
    max,
    window,
    monochrome1: first.photometricInterpretation === 'MONOCHROME1',
    padding: min,
    bytes: data.byteLength,
  };
}

function itemBlob(items: readonly StoredDicomItem[], id: number): string {
  const it = items.find((x) => x.id === id);
  if (!it) throw new FoveaException('INTERNAL', `Item ${id} vanished from the series while loading.`);
  return it.blobSha256;
}

function mib(bytes: number): string {
  const m = bytes / 2 ** 20;
  return `${m < 10 ? m.toFixed(2) : m.toFixed(0)} MiB`;
}
