/**
 * Measures the facts the recipe planner decides from (recipe-plan.ts):
 * image sizes, the thickness of labelled shapes and the size of boxes per
 * class, class frequencies, the dominant modality, CT foreground HU and the
 * layout of DICOM series.
 *
 * Deterministic: samples are taken in (item, frame) order; the CT pixel
 * sample is every k-th foreground pixel of at most HU_IMAGES images spread
 * evenly over that order. Labels are read from the library (masks decoded
 * from their RLE); only CT images are decoded, for their HU.
 */
import type { TaskKind } from '../../contract/ml';
import type { ObjectSizeSummary } from '../../contract/recipe';
import { decodeFrame, modalityValues, parseDicom, readImageInfo } from '../dicom';
import type { CocoRle } from '../labels/label-types';
import { decodeRle } from '../labels/rle';
import { itemGeometry, type ItemGeometryRow } from '../store/item-geometry';
import type { Db } from '../store/library-db';
import type { DatasetFacts, SliceFacts } from './recipe-plan';
import type { BlobReader } from './sample-loader';
import { IGNORE_INDEX, rasterizeSegmentation, type Sample } from './training-samples';

/** CT images decoded for the HU percentiles, and pixels kept per image. */
const HU_IMAGES = 32;
const HU_PIXELS_PER_IMAGE = 4096;
/** Body pixels of a CT without labelled foreground: above air. */
const BODY_HU = -500;

export interface FactsInput {
  task: TaskKind;
  classNames: string[];
  channels: 1 | 3;
  samples: readonly Sample[];
  /** Segmentation: what unlabelled pixels are (as TrainConfig.unlabeledPixels). */
  unlabeledPixels?: 'background' | 'ignore';
}

export interface FactsDeps {
  db: Db;
  blobs: BlobReader;
  readMask: (annotationId: number, version: number) => CocoRle | null;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** Area and 4-connected boundary length (edges between on and off, the image border counting as off) of a 0/1 mask. */
export function maskAreaPerimeter(mask: Uint8Array, height: number, width: number): { area: number; perimeter: number } {
  let area = 0;
  let perimeter = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      area++;
      if (x === 0 || !mask[y * width + x - 1]) perimeter++;
      if (x === width - 1 || !mask[y * width + x + 1]) perimeter++;
      if (y === 0 || !mask[(y - 1) * width + x]) perimeter++;
      if (y === height - 1 || !mask[(y + 1) * width + x]) perimeter++;
    }
  }
  return { area, perimeter };
}

function polygonAreaPerimeter(points: readonly [number, number][]): { area: number; perimeter: number } {
  let a = 0;
  let p = 0;
  for (let i = 0; i < points.length; i++) {
    const [x0, y0] = points[i] as [number, number];
    const [x1, y1] = points[(i + 1) % points.length] as [number, number];
    a += x0 * y1 - x1 * y0;
    p += Math.hypot(x1 - x0, y1 - y0);
  }
  return { area: Math.abs(a) / 2, perimeter: p };
}

function summarise(classNames: readonly string[], sizes: number[][], firstClass: number): ObjectSizeSummary[] {
  const out: ObjectSizeSummary[] = [];
  for (let k = firstClass; k < classNames.length; k++) {
    const s = [...(sizes[k] ?? [])].sort((a, b) => a - b);
    out.push({ className: classNames[k] as string, objects: s.length, median: Number(percentile(s, 0.5).toFixed(3)), p10: Number(percentile(s, 0.1).toFixed(3)) });
  }
  return out;
}

function dominantModality(samples: readonly Sample[], geometry: ReadonlyMap<number, ItemGeometryRow>): string {
  const counts = new Map<string, number>();
  for (const s of samples) {
    const m = s.kind === 'dicom' ? (geometry.get(s.itemId)?.modality ?? 'OT') : s.colour ? 'photo' : 'grey';
    counts.set(m, (counts.get(m) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? 'grey';
}

function sliceFacts(samples: readonly Sample[], geometry: ReadonlyMap<number, ItemGeometryRow>): SliceFacts | null {
  const bySeries = new Map<number, Map<number, ItemGeometryRow>>();
  for (const s of samples) {
    const g = geometry.get(s.itemId);
    if (s.kind !== 'dicom' || !g || g.seriesId === null) continue;
    let m = bySeries.get(g.seriesId);
    if (!m) bySeries.set(g.seriesId, (m = new Map()));
    m.set(g.id, g);
  }
  if (bySeries.size === 0) return null;
  const counts: number[] = [];
  const spacings: number[] = [];
  const pixels: number[] = [];
  for (const items of bySeries.values()) {
    counts.push(items.size);
    const positions = [...new Set([...items.values()].map((g) => g.slicePosition).filter((p): p is number => p !== null))].sort((a, b) => a - b);
    for (let i = 1; i < positions.length; i++) spacings.push((positions[i] as number) - (positions[i - 1] as number));
    for (const g of items.values()) if (g.pixelSpacing !== null && g.pixelSpacing > 0) pixels.push(g.pixelSpacing);
  }
  const med = (xs: number[]): number | null => (xs.length ? percentile([...xs].sort((a, b) => a - b), 0.5) : null);
  return { series: bySeries.size, medianSlices: med(counts) ?? 0, sliceSpacing: med(spacings), pixelSpacing: med(pixels) };
}

async function ctForegroundHu(deps: FactsDeps, samples: readonly Sample[], geometry: ReadonlyMap<number, ItemGeometryRow>, unlabeled: 'background' | 'ignore'): Promise<DatasetFacts['foregroundHu']> {
  const ct = samples.filter((s) => s.kind === 'dicom' && geometry.get(s.itemId)?.modality === 'CT');
  if (ct.length === 0) return null;
  const step = Math.max(1, ct.length / HU_IMAGES);
  const picked: Sample[] = [];
  for (let i = 0; i < ct.length && picked.length < HU_IMAGES; i += step) picked.push(ct[Math.floor(i)] as Sample);
  const values: number[] = [];
  for (const s of picked) {
    const parsed = parseDicom(deps.blobs.read(s.blobSha256));
    const info = readImageInfo(parsed);
    if (info === null) continue;
    const hu = modalityValues(await decodeFrame(parsed, s.frameIndex, { info }), info);
    let inForeground: (i: number) => boolean = (i) => (hu[i] as number) > BODY_HU;
    if (s.target.task === 'segmentation') {
      const map = rasterizeSegmentation(s.target.shapes, s.height, s.width, deps.readMask, unlabeled === 'ignore' ? IGNORE_INDEX : 0).classMap;
      if (map.some((k) => k !== 0 && k !== IGNORE_INDEX)) inForeground = (i) => map[i] !== 0 && map[i] !== IGNORE_INDEX;
    }
    const fg: number[] = [];
    for (let i = 0; i < hu.length; i++) if (inForeground(i)) fg.push(hu[i] as number);
    const stride = Math.max(1, Math.ceil(fg.length / HU_PIXELS_PER_IMAGE));
    for (let i = 0; i < fg.length; i += stride) values.push(fg[i] as number);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return { p005: Number(percentile(values, 0.005).toFixed(2)), p995: Number(percentile(values, 0.995).toFixed(2)), median: Number(percentile(values, 0.5).toFixed(2)), samples: values.length };
}

/** The facts of these samples (see the file header). */
export async function measureDatasetFacts(deps: FactsDeps, input: FactsInput): Promise<DatasetFacts> {
  const samples = [...input.samples].sort((a, b) => a.itemId - b.itemId || a.frameIndex - b.frameIndex);
  const K = input.classNames.length;
  const geometry = new Map(itemGeometry(deps.db, samples.map((s) => s.itemId)).map((g) => [g.id, g]));
  const sizes: number[][] = Array.from({ length: K }, () => []);
  const counts = new Float64Array(K);
  const unlabeled = input.unlabeledPixels ?? 'background';
  for (const s of samples) {
    const t = s.target;
    if (t.task === 'classification') {
      for (const k of t.classIndices) if (k < K) counts[k] = (counts[k] as number) + 1;
    } else if (t.task === 'detection') {
      for (const b of t.boxes) {
        if (b.classIndex < 0 || b.classIndex >= K) continue;
        (sizes[b.classIndex] as number[]).push(Math.min(b.width, b.height));
        counts[b.classIndex] = (counts[b.classIndex] as number) + 1;
      }
    } else {
      let labelled = 0;
      for (const shape of t.shapes) {
        if (shape.classIndex === IGNORE_INDEX || shape.classIndex >= K) continue;
        let m: { area: number; perimeter: number };
        if (shape.kind === 'polygon') m = polygonAreaPerimeter(shape.points);
        else {
          const rle = deps.readMask(shape.annotationId, shape.version);
          if (!rle) continue;
          m = maskAreaPerimeter(decodeRle(rle), rle.size[0], rle.size[1]);
        }
        if (m.area <= 0 || m.perimeter <= 0) continue;
        (sizes[shape.classIndex] as number[]).push((2 * m.area) / m.perimeter);
        counts[shape.classIndex] = (counts[shape.classIndex] as number) + m.area;
        labelled += m.area;
      }
      if (unlabeled === 'background') counts[0] = (counts[0] as number) + Math.max(0, s.width * s.height - labelled);
    }
  }
  const total = [...counts].reduce((a, b) => a + b, 0);
  return {
    task: input.task,
    classNames: [...input.classNames],
    channels: input.channels,
    images: samples.map((s) => ({ width: s.width, height: s.height })),
    modality: dominantModality(samples, geometry),
    objectSizes: input.task === 'classification' ? [] : summarise(input.classNames, sizes, input.task === 'segmentation' ? 1 : 0),
    classFractions: [...counts].map((c) => (total > 0 ? c / total : 0)),
    foregroundHu: await ctForegroundHu(deps, samples, geometry, unlabeled),
    slices: sliceFacts(samples, geometry),
  };
}
