/**
 * Pixels for the viewer: one frame of an item decoded by the backend's one
 * DICOM decoder (never in the page). Greyscale frames go out as their stored
 * values (a typed array: IPC's structured clone and the harness bridge carry
 * it natively) with rescale and the file's windows, so the page can window
 * them without another round trip; colour, palette and YBR frames go out as
 * RGBA 8-bit through the display pipeline (toDisplay). Plain images come from
 * their stored PNG through sharp.
 *
 * Parsed files are kept in a small cache bounded by bytes: scrolling a
 * multi-frame instance does not parse the file once per frame.
 */
import sharp from 'sharp';
import type { DicomTags } from '../../contract/dicom-tags';
import type { FrameOverlay, GreyPixelFrame, PixelFrame, RgbaPixelFrame, SeriesStack, StoredPixels } from '../../contract/domain';
import { FoveaException } from '../../contract/result';
import { decodeFrame, inspectDicom, modalityValues, parseDicom, readImageInfo, toDisplay, toTagRows, type DicomImageInfo, type ParsedDicom } from '../dicom';
import { frameGeometriesOf, type FrameGeometry } from '../export/volume-geometry';
import type { BlobStore } from '../store/blob-store';
import { getItemRecord, type ItemRecordRow } from '../store/items-repo';
import type { Db } from '../store/library-db';
import { framePositionsReader, getSeriesHeader, listSeriesInstances } from '../store/series-repo';

interface CachedDicom {
  parsed: ParsedDicom;
  info: DicomImageInfo;
  bytes: number;
  /** Each frame's ImageOrientationPatient, read once on first use. */
  orientations?: FrameGeometry['orientation'][];
}

const CACHE_BYTES = 256 * 1024 * 1024;

export class PixelService {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  /** itemId -> parsed file, in least-recently-used order (Map keeps insertion order). */
  readonly #cache = new Map<number, CachedDicom>();
  #cacheBytes = 0;

  constructor(db: Db, blobs: BlobStore) {
    this.#db = db;
    this.#blobs = blobs;
  }

  #item(itemId: number): ItemRecordRow {
    const row = getItemRecord(this.#db, itemId);
    if (!row) throw new FoveaException('NOT_FOUND', `There is no item ${itemId}.`);
    return row;
  }

  #dicom(item: ItemRecordRow): CachedDicom {
    const hit = this.#cache.get(item.id);
    if (hit) {
      this.#cache.delete(item.id);
      this.#cache.set(item.id, hit);
      return hit;
    }
    const bytes = this.#blobs.read(item.blobSha256);
    const parsed = parseDicom(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const info = readImageInfo(parsed);
    if (!info) throw new FoveaException('UNSUPPORTED', `${item.sourceName} has no image to display.`);
    const entry = { parsed, info, bytes: bytes.byteLength };
    this.#cache.set(item.id, entry);
    this.#cacheBytes += entry.bytes;
    for (const [id, e] of this.#cache) {
      if (this.#cacheBytes <= CACHE_BYTES || id === item.id) break;
      this.#cache.delete(id);
      this.#cacheBytes -= e.bytes;
    }
    return entry;
  }

  /** Forget cached files (the library changed under them, or memory is wanted back). */
  clear(): void {
    this.#cache.clear();
    this.#cacheBytes = 0;
  }

  async frame(itemId: number, frame = 0): Promise<PixelFrame> {
    const item = this.#item(itemId);
    if (frame >= Math.max(item.frames, 1)) throw new FoveaException('NOT_FOUND', `${item.sourceName} has ${item.frames} frame(s); there is no frame ${frame + 1}.`);
    return item.kind === 'image' ? this.#plainImage(item) : this.#dicomFrame(item, frame);
  }

  async #dicomFrame(item: ItemRecordRow, frameIndex: number): Promise<PixelFrame> {
    const cached = this.#dicom(item);
    const { parsed, info } = cached;
    const decoded = await decodeFrame(parsed, frameIndex, { info });
    cached.orientations ??= frameGeometriesOf(parsed, item.id).map((g) => g.orientation);
    const base = {
      itemId: item.id,
      frame: frameIndex,
      frames: info.numberOfFrames,
      rows: decoded.rows,
      columns: decoded.columns,
      pixelSpacing: info.pixelSpacing,
      pixelSpacingSource: info.pixelSpacingSource,
      photometric: decoded.photometric,
      frameTime: info.frameTime ?? (info.recommendedDisplayFrameRate ? 1000 / info.recommendedDisplayFrameRate : null),
      overlay: overlayOf(item, info),
      orientation: cached.orientations[frameIndex] ?? null,
      dicom: true,
    };
    if (decoded.samplesPerPixel !== 1 || decoded.photometric === 'PALETTE COLOR') {
      const display = toDisplay(decoded, info);
      return { ...base, kind: 'rgba', data: toRgba(display.data, display.channels, display.width * display.height) } satisfies RgbaPixelFrame;
    }
    let data: StoredPixels;
    let slope = info.rescaleSlope;
    let intercept = info.rescaleIntercept;
    if (info.modalityLut !== null) {
      // The page windows stored values through slope/intercept only: apply the LUT here.
      data = Int32Array.from(modalityValues(decoded, info));
      slope = 1;
      intercept = 0;
    } else if (decoded.data instanceof Float64Array) {
      data = Float32Array.from(decoded.data);
    } else {
      data = decoded.data;
    }
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i] ?? 0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (min === Infinity) min = max = 0;
    const pairs = Math.min(info.windowCenter.length, info.windowWidth.length);
    const grey: GreyPixelFrame = {
      ...base,
      kind: 'grey',
      data,
      slope,
      intercept,
      windowCenter: info.windowCenter.slice(0, pairs),
      windowWidth: info.windowWidth.slice(0, pairs),
      windowExplanation: info.windowExplanation.slice(0, pairs),
      voiLutFunction: info.voiLutFunction,
      monochrome1: decoded.photometric === 'MONOCHROME1',
      min,
      max,
      units: info.modality === 'CT' ? 'HU' : info.rescaleType,
    };
    return grey;
  }

  async #plainImage(item: ItemRecordRow): Promise<PixelFrame> {
    const png = this.#blobs.read(item.blobSha256);
    const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const pixels = info.width * info.height;
    // The stored PNG may hold grey as RGB: send grey (windowable) when every pixel is grey and opaque.
    let greyOnly = true;
    for (let p = 0; p < pixels && greyOnly; p++) {
      const o = p * 4;
      greyOnly = data[o] === data[o + 1] && data[o] === data[o + 2] && data[o + 3] === 255;
    }
    const base = {
      itemId: item.id,
      frame: 0,
      frames: 1,
      rows: info.height,
      columns: info.width,
      pixelSpacing: null,
      pixelSpacingSource: null,
      frameTime: null,
      overlay: overlayOf(item, null),
      orientation: null,
      dicom: false,
    };
    if (greyOnly) {
      const grey = new Uint8Array(pixels);
      for (let p = 0; p < pixels; p++) grey[p] = data[p * 4] ?? 0;
      // Identity window: LINEAR with centre 128, width 256 maps x to x.
      return { ...base, kind: 'grey', photometric: 'MONOCHROME2', data: grey, slope: 1, intercept: 0, windowCenter: [128], windowWidth: [256], windowExplanation: [], voiLutFunction: 'LINEAR', monochrome1: false, min: 0, max: 255, units: null };
    }
    return { ...base, kind: 'rgba', photometric: 'RGB', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
  }

  /**
   * Every attribute of a DICOM item's stored file for the viewer's tag browser, read by the same
   * inspect service as `fovea inspect`; binary values (pixel data) go out as their length only.
   */
  tags(itemId: number): DicomTags {
    const item = this.#item(itemId);
    if (item.kind !== 'dicom') throw new FoveaException('UNSUPPORTED', `${item.sourceName} is not a DICOM file: it has no tags.`);
    return { itemId: item.id, sourceName: item.sourceName, rows: toTagRows(inspectDicom(this.#dicom(item).parsed)) };
  }

  /** A series' frames in display order: instance number, slice position, then frame index. */
  series(seriesId: number): SeriesStack {
    const s = getSeriesHeader(this.#db, seriesId);
    if (!s) throw new FoveaException('NOT_FOUND', `There is no series ${seriesId}.`);
    const rows = listSeriesInstances(this.#db, seriesId);
    const framePositions = framePositionsReader(this.#db);
    const entries: SeriesStack['entries'] = [];
    for (const r of rows) {
      if (r.frames <= 1) {
        entries.push({ itemId: r.itemId, frame: 0, instanceNumber: r.instanceNumber, slicePosition: r.slicePosition });
        continue;
      }
      const positions = new Map(framePositions(r.itemId).map((x) => [x.f, x.p]));
      for (let f = 0; f < r.frames; f++) entries.push({ itemId: r.itemId, frame: f, instanceNumber: r.instanceNumber, slicePosition: positions.get(f) ?? null });
    }
    return { seriesId: s.id, description: s.description, modality: s.modality, entries };
  }
}

function personName(v: string | null): string | null {
  return v === null ? null : v.replace(/\^+/g, ' ').trim() || null;
}

function overlayOf(item: ItemRecordRow, info: DicomImageInfo | null): FrameOverlay {
  return {
    sourceName: item.sourceName,
    patientName: personName(info?.patientName ?? null),
    patientId: info?.patientId ?? null,
    studyDate: info?.studyDate ?? null,
    studyDescription: info?.studyDescription ?? null,
    seriesDescription: info?.seriesDescription ?? null,
    modality: info?.modality ?? item.modality,
    instanceNumber: info?.instanceNumber ?? null,
    sliceLocation: info?.sliceLocation ?? null,
    sliceThickness: info?.sliceThickness ?? null,
  };
}

function toRgba(src: Uint8Array, channels: 1 | 3, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    const o = p * 4;
    if (channels === 3) {
      out[o] = src[p * 3] ?? 0;
      out[o + 1] = src[p * 3 + 1] ?? 0;
      out[o + 2] = src[p * 3 + 2] ?? 0;
    } else {
      const g = src[p] ?? 0;
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
    }
    out[o + 3] = 255;
  }
  return out;
}
