/**
 * COCO "instances" JSON (and COCO results files) to the intermediate form.
 *
 * Accepted:
 * - { images: [{id, file_name, width, height}], categories: [{id, name}],
 *   annotations: [{image_id, category_id, bbox?, segmentation?, iscrowd?, score?}] }
 * - segmentation as a list of polygons ([[x0,y0,x1,y1,...], ...]), as RLE with
 *   uncompressed counts ({size:[h,w], counts:[...]}) or compressed counts
 *   ({size, counts:"..."}, pycocotools' string).
 * - A results file (a bare array of annotations with scores) together with
 *   options.cocoGroundTruth, the instances file whose images and categories
 *   its ids refer to.
 *
 * Geometry chosen per annotation (options.cocoGeometry = 'segmentation', the default):
 * - one polygon           -> 'polygon' (clipped to the image, with a warning when it moved)
 * - several polygons      -> 'mask', their union rasterised as pycocotools'
 *                            annToRLE does (our polygon geometry holds one ring)
 * - RLE                   -> 'mask' (uncompressed counts)
 * - no segmentation, bbox -> 'box' [x,y,w,h] as is (COCO boxes are already
 *                            continuous pixel coordinates), clipped to the image
 * - neither               -> 'class': an image-level label. Some tools export
 *                            classification datasets as COCO this way.
 * With cocoGeometry = 'box' the bbox wins when present.
 *
 * Broken entries (unknown image or category, bad numbers, sizes that do not
 * match) are skipped with a warning each; a file that is not COCO at all
 * throws FoveaException('BAD_INPUT').
 */
import * as v from 'valibot';
import { dirname, resolve } from 'node:path';
import { FoveaException } from '../../contract/result';
import {
  clipBox,
  clipPolygonToRect,
  LABEL_LIMITS,
  polygonInside,
  preview,
  readFileBounded,
  WarningSink,
  type LabelGeometry,
  type ParsedImageLabels,
  type ParsedLabel,
  type ParsedLabelFile,
  type ParseLabelOptions,
} from './label-types';
import { polygonsToRle, rleFromString, rleProblem } from './rle';

const Id = v.union([v.pipe(v.number(), v.integer()), v.pipe(v.string(), v.minLength(1))]);
const Side = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(LABEL_LIMITS.maxImageSide));

const ImageSchema = v.object({
  id: Id,
  file_name: v.pipe(v.string(), v.minLength(1, 'file_name is empty')),
  width: v.optional(v.unknown()),
  height: v.optional(v.unknown()),
});

const CategorySchema = v.object({
  id: Id,
  name: v.pipe(v.string(), v.trim(), v.minLength(1, 'name is empty')),
});

const Finite = v.pipe(v.number(), v.finite());
const BboxSchema = v.pipe(v.array(Finite), v.length(4, 'bbox needs 4 numbers [x, y, width, height]'));
const PolygonsSchema = v.array(v.array(v.unknown()));
const RleSchema = v.object({
  size: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0))), v.length(2, 'size needs [height, width]')),
  counts: v.union([v.array(v.unknown()), v.string()]),
});

const AnnotationSchema = v.object({
  id: v.optional(v.unknown()),
  image_id: Id,
  category_id: Id,
  bbox: v.optional(v.nullable(v.unknown())),
  segmentation: v.optional(v.nullable(v.unknown())),
  iscrowd: v.optional(v.unknown()),
  score: v.optional(v.unknown()),
});

/** One line for a warning from the first valibot issue. */
function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  const first = issues[0];
  if (!first) return 'invalid';
  const path = v.getDotPath(first);
  return path ? `${path}: ${first.message}` : first.message;
}

interface CocoImage {
  fileName: string;
  width?: number;
  height?: number;
  entry: ParsedImageLabels;
}

async function readJson(path: string): Promise<unknown> {
  const buf = await readFileBounded(path, LABEL_LIMITS.maxJsonBytes);
  let text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Parses a COCO instances or results JSON file. */
export async function parseCoco(path: string, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const data = await readJson(path);
  if (Array.isArray(data)) {
    if (!options.cocoGroundTruth) {
      throw new FoveaException(
        'BAD_INPUT',
        `${path} is a COCO results file (a bare list of detections): it names images and classes only by id. Give the instances file it was made against as well.`,
      );
    }
    const gt = await readJson(resolve(dirname(path), options.cocoGroundTruth));
    if (!isRecord(gt)) throw new FoveaException('BAD_INPUT', `${options.cocoGroundTruth} is not a COCO instances file.`);
    return parseCocoData({ ...gt, annotations: data }, path, options);
  }
  return parseCocoData(data, path, options);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses already-loaded COCO JSON (exported for tests and for callers holding the object). */
export function parseCocoData(data: unknown, path = 'the COCO file', options: ParseLabelOptions = {}): ParsedLabelFile {
  if (!isRecord(data)) throw new FoveaException('BAD_INPUT', `${path} is not a COCO file: the top level must be an object with "images".`);
  const { images, categories, annotations } = data;
  if (!Array.isArray(images)) throw new FoveaException('BAD_INPUT', `${path} is not a COCO file: it has no "images" list.`);
  if (categories !== undefined && !Array.isArray(categories)) throw new FoveaException('BAD_INPUT', `${path}: "categories" must be a list.`);
  if (annotations !== undefined && !Array.isArray(annotations)) throw new FoveaException('BAD_INPUT', `${path}: "annotations" must be a list.`);
  const warn = new WarningSink();

  // Categories: id -> name. Names are the classes (COCO allows two ids with
  // one name; they become one class).
  const catName = new Map<string, string>();
  const classes: string[] = [];
  const catList = (categories ?? []) as unknown[];
  const sortedCats: { id: string | number; name: string; at: number }[] = [];
  catList.forEach((c, i) => {
    const r = v.safeParse(CategorySchema, c);
    if (!r.success) return warn.add(`categories[${i}]: ${issueText(r.issues)}; skipped.`);
    const key = String(r.output.id);
    if (catName.has(key)) return warn.add(`categories[${i}]: id ${key} is used twice; the first ("${catName.get(key)}") is kept.`);
    catName.set(key, r.output.name);
    sortedCats.push({ id: r.output.id, name: r.output.name, at: i });
  });
  sortedCats.sort((a, b) =>
    typeof a.id === 'number' && typeof b.id === 'number' ? a.id - b.id : a.at - b.at,
  );
  for (const c of sortedCats) {
    if (classes.includes(c.name)) warn.add(`categories: "${c.name}" is named by more than one id; they are read as one class.`);
    else classes.push(c.name);
  }

  // Images.
  const byId = new Map<string, CocoImage>();
  const out: ParsedImageLabels[] = [];
  images.forEach((img: unknown, i) => {
    const r = v.safeParse(ImageSchema, img);
    if (!r.success) return warn.add(`images[${i}]: ${issueText(r.issues)}; skipped.`);
    const key = String(r.output.id);
    if (byId.has(key)) return warn.add(`images[${i}]: id ${key} is used twice; the first ("${byId.get(key)?.fileName}") is kept.`);
    const entry: ParsedImageLabels = { fileName: r.output.file_name, match: 'path', labels: [] };
    const w = v.safeParse(Side, r.output.width);
    const h = v.safeParse(Side, r.output.height);
    const rec: CocoImage = { fileName: r.output.file_name, entry };
    if (w.success && h.success) {
      entry.width = rec.width = w.output;
      entry.height = rec.height = h.output;
    } else {
      warn.add(
        `images[${i}] ("${r.output.file_name}"): width/height ${preview(r.output.width)}x${preview(r.output.height)} are not a usable size; its labels are kept unclipped and several-polygon objects cannot be read.`,
      );
    }
    byId.set(key, rec);
    out.push(entry);
  });

  // Annotations.
  const anns = (annotations ?? []) as unknown[];
  for (let i = 0; i < anns.length; i++) {
    const raw = anns[i];
    const r = v.safeParse(AnnotationSchema, raw);
    const where = `annotations[${i}]${isRecord(raw) && raw['id'] !== undefined ? ` (id ${preview(raw['id'])})` : ''}`;
    if (!r.success) {
      warn.add(`${where}: ${issueText(r.issues)}; skipped.`);
      continue;
    }
    const a = r.output;
    const img = byId.get(String(a.image_id));
    if (!img) {
      warn.add(`${where}: image_id ${preview(a.image_id)} is not in "images"; skipped.`);
      continue;
    }
    const className = catName.get(String(a.category_id));
    if (className === undefined) {
      warn.add(`${where}: category_id ${preview(a.category_id)} is not in "categories"; skipped.`);
      continue;
    }
    const label: ParsedLabel = { className, geometry: { kind: 'class' } };
    if (a.score !== undefined) {
      if (typeof a.score === 'number' && Number.isFinite(a.score)) label.score = a.score;
      else warn.add(`${where}: score ${preview(a.score)} is not a number; read without a score.`);
    }
    if (a.iscrowd === 1 || a.iscrowd === true) label.crowd = true;

    const hasSeg = a.segmentation !== undefined && a.segmentation !== null && !(Array.isArray(a.segmentation) && a.segmentation.length === 0);
    const hasBox = a.bbox !== undefined && a.bbox !== null;
    let geometry: LabelGeometry | null;
    if (hasSeg && !(options.cocoGeometry === 'box' && hasBox)) geometry = readSegmentation(a.segmentation, img, where, warn);
    else if (hasBox) geometry = readBbox(a.bbox, img, where, warn);
    else geometry = { kind: 'class' };
    if (!geometry) continue;
    label.geometry = geometry;
    img.entry.labels.push(label);
  }
  return { format: 'coco', classes, images: out, warnings: warn.done() };
}

function readBbox(raw: unknown, img: CocoImage, where: string, warn: WarningSink): LabelGeometry | null {
  const r = v.safeParse(BboxSchema, raw);
  if (!r.success) {
    warn.add(`${where}: bbox ${preview(raw)} is not 4 finite numbers; skipped.`);
    return null;
  }
  const [x, y, width, height] = r.output as [number, number, number, number];
  if (width <= 0 || height <= 0) {
    warn.add(`${where}: bbox ${preview(raw)} has no area (width and height must be > 0); skipped.`);
    return null;
  }
  const box = { x, y, width, height };
  if (img.width === undefined || img.height === undefined) {
    if (Math.max(Math.abs(x), Math.abs(y), width, height) > LABEL_LIMITS.maxCoordinate) {
      warn.add(`${where}: bbox ${preview(raw)} is far outside any image; skipped.`);
      return null;
    }
    return { kind: 'box', ...box };
  }
  const c = clipBox(box, img.width, img.height);
  if (!c) {
    warn.add(`${where}: bbox ${preview(raw)} lies outside the ${img.width}x${img.height} image; skipped.`);
    return null;
  }
  if (c.clipped) warn.add(`${where}: bbox ${preview(raw)} reaches outside the ${img.width}x${img.height} image; clipped to it.`);
  return { kind: 'box', ...c.box };
}

function readSegmentation(raw: unknown, img: CocoImage, where: string, warn: WarningSink): LabelGeometry | null {
  if (Array.isArray(raw)) {
    const pr = v.safeParse(PolygonsSchema, raw);
    if (!pr.success) {
      warn.add(`${where}: segmentation is neither a list of polygons nor an RLE; skipped.`);
      return null;
    }
    const polys: [number, number][][] = [];
    for (let k = 0; k < pr.output.length; k++) {
      const flat = pr.output[k] as unknown[];
      if (flat.length > LABEL_LIMITS.maxPolygonPoints * 2) {
        warn.add(`${where}: polygon ${k} has ${flat.length / 2} points, over the ${LABEL_LIMITS.maxPolygonPoints} Fovea reads; skipped.`);
        return null;
      }
      if (flat.length % 2 !== 0 || flat.length < 6) {
        warn.add(`${where}: polygon ${k} has ${flat.length} coordinates (needs an even number, at least 6); skipped.`);
        continue;
      }
      const pts: [number, number][] = [];
      let bad = false;
      let far = false;
      for (let j = 0; j < flat.length; j += 2) {
        const px = flat[j];
        const py = flat[j + 1];
        if (typeof px !== 'number' || typeof py !== 'number' || !Number.isFinite(px) || !Number.isFinite(py)) {
          bad = true;
          break;
        }
        if (Math.abs(px) > LABEL_LIMITS.maxCoordinate || Math.abs(py) > LABEL_LIMITS.maxCoordinate) {
          far = true;
          break;
        }
        pts.push([px, py]);
      }
      if (bad) {
        warn.add(`${where}: polygon ${k} has a coordinate that is not a finite number; skipped.`);
        continue;
      }
      if (far) {
        warn.add(`${where}: polygon ${k} has a point far outside any image; skipped.`);
        continue;
      }
      polys.push(pts);
    }
    if (polys.length === 0) {
      warn.add(`${where}: no usable polygon in its segmentation; skipped.`);
      return null;
    }
    const { width, height } = img;
    if (width === undefined || height === undefined) {
      if (polys.length > 1) {
        warn.add(`${where}: an object of ${polys.length} polygons needs the image size to be read as a mask; only its first polygon is kept.`);
      }
      return { kind: 'polygon', points: polys[0] as [number, number][] };
    }
    if (polys.length === 1) {
      const pts = polys[0] as [number, number][];
      if (polygonInside(pts, width, height)) return { kind: 'polygon', points: pts };
      const clipped = clipPolygonToRect(pts, 0, 0, width, height);
      if (clipped.length < 3) {
        warn.add(`${where}: its polygon lies outside the ${width}x${height} image; skipped.`);
        return null;
      }
      warn.add(`${where}: its polygon reaches outside the ${width}x${height} image; clipped to it.`);
      return { kind: 'polygon', points: clipped };
    }
    try {
      return { kind: 'mask', rle: polygonsToRle(polys, height, width) };
    } catch (e) {
      warn.add(`${where}: its polygons cannot be rasterised (${(e as Error).message}); skipped.`);
      return null;
    }
  }
  const rr = v.safeParse(RleSchema, raw);
  if (!rr.success) {
    warn.add(`${where}: segmentation is neither a list of polygons nor an RLE (${issueText(rr.issues)}); skipped.`);
    return null;
  }
  const [h, w] = rr.output.size as [number, number];
  if (img.width !== undefined && img.height !== undefined && (h !== img.height || w !== img.width)) {
    warn.add(`${where}: its RLE is ${w}x${h} but the image is ${img.width}x${img.height}; skipped.`);
    return null;
  }
  if (h * w > LABEL_LIMITS.maxMaskPixels) {
    warn.add(`${where}: its RLE size ${w}x${h} is larger than Fovea handles; skipped.`);
    return null;
  }
  const counts = rr.output.counts;
  if (typeof counts === 'string') {
    try {
      return { kind: 'mask', rle: rleFromString(counts, h, w) };
    } catch (e) {
      warn.add(`${where}: ${(e as Error).message} Skipped.`);
      return null;
    }
  }
  const rle = { size: [h, w] as [number, number], counts: counts as number[] };
  const problem = rleProblem(rle);
  if (problem) {
    warn.add(`${where}: invalid RLE (${problem}); skipped.`);
    return null;
  }
  return { kind: 'mask', rle: { size: [h, w], counts: counts.slice() as number[] } };
}
