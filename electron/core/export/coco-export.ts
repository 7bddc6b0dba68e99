/**
 * COCO "instances" JSON: annotations.json (+ images/ with `withImages`).
 *
 * - images: {id, file_name, width, height}; file_name is the image name of export-data.ts.
 * - categories: every class of the dataset, id = class index + 1 (COCO ids start at 1), in the
 *   dataset's class order, so class order survives a round trip.
 * - annotations: {id, image_id, category_id, bbox [x,y,w,h], area, iscrowd, segmentation}
 *   - box: bbox as stored (continuous pixels, as COCO), segmentation [] (a box is not a shape;
 *     writing its corners as a polygon would come back as a polygon), area = w*h;
 *   - polygon: segmentation [[x0,y0,x1,y1,...]], bbox its bounds, area its rasterised pixel
 *     count (what pycocotools computes for a polygon);
 *   - mask: segmentation {size:[h,w], counts:"..."} in pycocotools' compressed string (which
 *     parse-coco, pycocotools and Detectron2 read), bbox = pycocotools' toBbox, area = pixels;
 *   - image-level class: no bbox and no segmentation (parse-coco reads that back as a class label;
 *     some tools export classification datasets this way);
 *   - iscrowd 1 for crowd regions; score when the label has one (a model's proposal: pycocotools'
 *     loadRes and `fovea evaluate --predictions` read it as the detection's confidence);
 *   - with --labels proposals or all: "source" (human, imported, model), "proposed" (true for a
 *     model's unreviewed proposal) and "run_id" (the run whose model made it) on every annotation.
 */
import { polygonToRle, rleArea, rleToBbox, rleToString } from '../labels/rle';
import { collectExportData, commonWarnings, exportLabelsOption, maybeCopyImage, polygonBounds, throwIfCancelled } from './export-data';
import type { ExportFormatHandler, ExportFormatResult } from './export-types';

export const COCO_FILE = 'annotations.json';

interface CocoAnn {
  id: number;
  image_id: number;
  category_id: number;
  iscrowd: 0 | 1;
  area: number;
  bbox?: [number, number, number, number];
  segmentation?: number[][] | { size: [number, number]; counts: string };
  score?: number;
  source?: 'human' | 'imported' | 'model';
  proposed?: boolean;
  run_id?: number | null;
}

export const exportCoco: ExportFormatHandler = async (job) => {
  const withImages = job.options['withImages'] === true;
  const data = collectExportData(job, { withImages });
  const withSource = exportLabelsOption(job.options) !== 'human';
  const warnings = commonWarnings(data, 'COCO', withImages);
  let badMasks = 0;
  const out = {
    info: { description: `${data.datasetName} (exported by Fovea)`, version: '1.0', date_created: new Date().toISOString() },
    licenses: [] as unknown[],
    images: [] as { id: number; file_name: string; width: number; height: number }[],
    categories: data.classes.map((c) => ({ id: c.index + 1, name: c.name, supercategory: '' })),
    annotations: [] as CocoAnn[],
  };
  const copied = new Set<number>();
  let annId = 0;
  let done = 0;
  for (const [i, img] of data.images.entries()) {
    throwIfCancelled(job.signal);
    const imageId = i + 1;
    out.images.push({ id: imageId, file_name: img.name, width: img.width, height: img.height });
    for (const a of img.annotations) {
      const base: CocoAnn = { id: ++annId, image_id: imageId, category_id: a.classIndex + 1, iscrowd: a.crowd ? 1 : 0, area: 0 };
      const g = a.geometry;
      if (g.kind === 'box') {
        base.bbox = [g.x, g.y, g.width, g.height];
        base.area = g.width * g.height;
        base.segmentation = [];
      } else if (g.kind === 'polygon') {
        const b = polygonBounds(g.points);
        base.bbox = [b.x, b.y, b.width, b.height];
        base.segmentation = [g.points.flat()];
        base.area = rleArea(polygonToRle(g.points, img.height, img.width));
      } else if (g.kind === 'mask') {
        if (g.rle.size[0] !== img.height || g.rle.size[1] !== img.width) {
          badMasks++;
          annId--;
          continue;
        }
        base.bbox = rleToBbox(g.rle);
        base.area = rleArea(g.rle);
        base.segmentation = { size: [g.rle.size[0], g.rle.size[1]], counts: rleToString(g.rle) };
      }
      if (a.score !== null) base.score = a.score;
      if (withSource) {
        base.source = a.source;
        base.proposed = a.proposed;
        base.run_id = a.runId;
      }
      out.annotations.push(base);
    }
    await maybeCopyImage(job, img, 'images', withImages, copied);
    job.onProgress?.(++done, data.images.length);
  }
  if (badMasks > 0) warnings.push(`${badMasks} mask(s) whose size differs from their image were skipped.`);
  await job.writer.write(COCO_FILE, `${JSON.stringify(out)}\n`);
  const result: ExportFormatResult = {
    format: 'coco',
    items: new Set(data.images.map((i) => i.itemId)).size,
    annotations: out.annotations.length,
    warnings,
    heldBack: [],
  };
  return result;
};
