/**
 * Semantic label maps: masks/NAME.png, one greyscale PNG per image (or per labelled frame of a
 * multi-frame instance), pixel value = class index, 0 = background, and classes.json
 * ({"0": "background", "1": "<first class>", ...}) beside the masks folder, where
 * parse-masks.ts (`fovea import-labels --format masks`) finds it. (+ images/NAME.png with
 * `withImages`.)
 *
 * - Class index = the class's position in the dataset's class order + 1. 8-bit PNGs up to 255
 *   classes, 16-bit beyond. Written with sharp from the exact values (no colour management).
 * - Masks are decoded from their RLE; polygons are rasterised as pycocotools does. Where two
 *   classes cover one pixel, the later annotation wins and the pixels are counted in a warning.
 * - Several masks of one class on an image (instances) become one region: a label map holds
 *   classes, not instances.
 * - Boxes and image-level classes are not segmentation labels: counted in a warning. Images
 *   without any mask or polygon get no PNG (unlabelled and all-background cannot be told apart).
 */
import sharp from 'sharp';
import { isBackgroundName, isIgnoreClassName } from '../labels/class-names';
import { decodeRle, polygonToRle } from '../labels/rle';
import { collectExportData, commonWarnings, maybeCopyImage, throwIfCancelled, withoutExtension } from './export-data';
import type { ExportFormatHandler } from './export-types';

export const CLASS_MAP_FILE = 'classes.json';

/** A row-major label map as a greyscale PNG (8-bit, or 16-bit for a Uint16Array). */
export async function encodeLabelMapPng(values: Uint8Array | Uint16Array, width: number, height: number): Promise<Buffer> {
  const img = sharp(values, { raw: { width, height, channels: 1 } });
  return values instanceof Uint16Array ? img.toColourspace('grey16').png({ compressionLevel: 9 }).toBuffer() : img.png({ compressionLevel: 9 }).toBuffer();
}

export const exportMasks: ExportFormatHandler = async (job) => {
  const withImages = job.options['withImages'] === true;
  const data = collectExportData(job, { withImages });
  const warnings = commonWarnings(data, 'PNG masks', withImages);
  const wide = data.classes.length > 255;
  let overlapPixels = 0;
  let notSegmentation = 0;
  let badSize = 0;
  let withoutMasks = 0;
  let written = 0;
  let done = 0;
  const items = new Set<number>();
  const copied = new Set<number>();
  for (const img of data.images) {
    throwIfCancelled(job.signal);
    const W = img.width;
    const H = img.height;
    const seg = img.annotations.filter((a) => a.geometry.kind === 'mask' || a.geometry.kind === 'polygon');
    notSegmentation += img.annotations.length - seg.length;
    if (seg.length === 0) {
      if (img.annotations.length === 0) withoutMasks++;
      job.onProgress?.(++done, data.images.length);
      continue;
    }
    const map = wide ? new Uint16Array(W * H) : new Uint8Array(W * H);
    let painted = 0;
    for (const a of seg) {
      const g = a.geometry;
      let on: Uint8Array;
      if (g.kind === 'mask') {
        if (g.rle.size[0] !== H || g.rle.size[1] !== W) {
          badSize++;
          continue;
        }
        on = decodeRle(g.rle);
      } else if (g.kind === 'polygon') {
        on = decodeRle(polygonToRle(g.points, H, W));
      } else continue;
      const value = a.classIndex + 1;
      for (let i = 0; i < on.length; i++) {
        if (!on[i]) continue;
        const prev = map[i] as number;
        if (prev !== 0 && prev !== value) overlapPixels++;
        map[i] = value;
      }
      painted++;
    }
    if (painted === 0) {
      job.onProgress?.(++done, data.images.length);
      continue;
    }
    await job.writer.write(`masks/${withoutExtension(img.name)}.png`, await encodeLabelMapPng(map, W, H));
    written += painted;
    items.add(img.itemId);
    await maybeCopyImage(job, img, 'images', withImages, copied);
    job.onProgress?.(++done, data.images.length);
  }
  const classMap: Record<string, string> = { '0': 'background' };
  for (const c of data.classes) classMap[String(c.index + 1)] = c.name;
  await job.writer.write(CLASS_MAP_FILE, `${JSON.stringify(classMap, null, 2)}\n`);
  if (data.classes.some((c) => isBackgroundName(c.name) || isIgnoreClassName(c.name))) {
    warnings.push('A class is named like background or a region to ignore (background, void, ignore, ...): Fovea reads it back as such; other readers of label maps usually skip it.');
  }
  if (notSegmentation) warnings.push(`${notSegmentation} box(es) or image-level class label(s) were not exported: label maps hold masks and polygons.`);
  if (overlapPixels) warnings.push(`${overlapPixels} pixel(s) were covered by two classes; a label map holds one, the later annotation's.`);
  if (badSize) warnings.push(`${badSize} mask(s) whose size differs from their image were skipped.`);
  if (withoutMasks) warnings.push(`${withoutMasks} image(s) without labels got no mask file.`);
  return { format: 'masks', items: items.size, annotations: written, warnings, heldBack: [] };
};
