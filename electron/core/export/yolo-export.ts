/**
 * YOLO (Ultralytics / Darknet layout), detection or segmentation (options.task 'detect', the
 * default, or 'segment'):
 *
 *   data.yaml                 path, train/val/test lists, nc, names (index: name)
 *   images.txt                every image, one relative path a line (./images/...)
 *   train.txt val.txt test.txt  the same per split, when the dataset has splits
 *   labels/[split/]NAME.txt   one line per object, coordinates fractions of the image size:
 *                             detect: `class cx cy w h`; segment: `class x1 y1 ... xn yn`
 *   images/[split/]NAME.png   with `withImages` (plain images only)
 *
 * Ultralytics finds an image's label file by replacing /images/ with /labels/ in its path, so
 * both trees share their layout. An image without objects gets an empty .txt (a negative).
 * The label file's stem is the image name's stem: `fovea import-labels` matches it back by stem.
 *
 * What YOLO cannot hold is counted in warnings: image-level classes; in detect, polygons and
 * masks are written as their bounding boxes; in segment, boxes are written as 4-point polygons
 * and masks are traced into polygons (labels/mask-contours.ts): one line per connected component
 * (8-connectivity), outlines on pixel corners simplified by Douglas–Peucker at 1 px as long as
 * the rasterised polygon keeps IoU ≥ 0.99 with the component; holes of 4 pixels or more are cut
 * out through a zero-width bridge (an even-odd fill leaves them empty), smaller ones are filled;
 * specks under 4 pixels beside a larger component are dropped. The warnings count each.
 *
 * With --labels proposals or all, a shape with a score (a model's proposal) ends its line with
 * the score, as Ultralytics writes predictions with save_conf (`class cx cy w h conf`, and
 * `class x1 y1 ... xn yn conf`); `fovea import-labels --format yolo` reads it back as the score.
 */
import { rleToPolygons } from '../labels/mask-contours';
import { rleToBbox } from '../labels/rle';
import { collectExportData, commonWarnings, exportLabelsOption, maybeCopyImage, num, polygonBounds, throwIfCancelled, withoutExtension, type ExportImage } from './export-data';
import type { ExportFormatHandler } from './export-types';

/** YAML single-quoted scalar: the only escape is '' for '. Line breaks become spaces. */
export function yamlQuote(s: string): string {
  return `'${s.replace(/[\r\n]+/gu, ' ').replace(/'/gu, "''")}'`;
}

export const exportYolo: ExportFormatHandler = async (job) => {
  const task = job.options['task'] === 'segment' ? 'segment' : 'detect';
  const withImages = job.options['withImages'] === true;
  const data = collectExportData(job, { withImages });
  const withScores = exportLabelsOption(job.options) !== 'human';
  const warnings = commonWarnings(data, 'YOLO', withImages);
  let classLabels = 0;
  let converted = 0;
  const traced = { masks: 0, lines: 0, empty: 0, specks: 0, speckPixels: 0, holes: 0, holePixels: 0, cutHoles: 0 };
  let written = 0;
  const lists = new Map<string, string[]>();
  const copied = new Set<number>();
  let done = 0;
  const fmt = (v: number): string => num(Math.round(v * 1e12) / 1e12);
  const conf = (score: number | null): string[] => (withScores && score !== null ? [num(score)] : []);

  const linesFor = (img: ExportImage): string[] => {
    const W = img.width;
    const H = img.height;
    const lines: string[] = [];
    for (const a of img.annotations) {
      const g = a.geometry;
      if (g.kind === 'class') {
        classLabels++;
        continue;
      }
      let box: { x: number; y: number; width: number; height: number } | null = null;
      let poly: [number, number][] | null = null;
      if (g.kind === 'box') {
        if (task === 'detect') box = g;
        else {
          poly = [[g.x, g.y], [g.x + g.width, g.y], [g.x + g.width, g.y + g.height], [g.x, g.y + g.height]];
          converted++;
        }
      } else if (g.kind === 'polygon') {
        if (task === 'segment') poly = g.points;
        else {
          box = polygonBounds(g.points);
          converted++;
        }
      } else if (task === 'detect') {
        const [x, y, w, h] = rleToBbox(g.rle);
        if (w === 0 || h === 0) continue;
        box = { x, y, width: w, height: h };
        converted++;
      } else {
        // segment: each connected component of the mask is one polygon line.
        const [mh, mw] = g.rle.size;
        const c = rleToPolygons(g.rle);
        if (c.polygons.length === 0) {
          traced.empty++;
          continue;
        }
        traced.masks++;
        traced.lines += c.polygons.length;
        traced.specks += c.droppedComponents;
        traced.speckPixels += c.droppedPixels;
        traced.holes += c.holes;
        traced.holePixels += c.holePixels;
        traced.cutHoles += c.cutHoles;
        for (const ring of c.polygons) lines.push([String(a.classIndex), ...ring.flatMap(([x, y]) => [fmt(x / mw), fmt(y / mh)]), ...conf(a.score)].join(' '));
        written++;
        continue;
      }
      if (box) {
        lines.push([...[a.classIndex, (box.x + box.width / 2) / W, (box.y + box.height / 2) / H, box.width / W, box.height / H].map((v, k) => (k === 0 ? String(v) : fmt(v))), ...conf(a.score)].join(' '));
      } else if (poly) {
        lines.push([String(a.classIndex), ...poly.flatMap(([x, y]) => [fmt(x / W), fmt(y / H)]), ...conf(a.score)].join(' '));
      }
      written++;
    }
    return lines;
  };

  for (const img of data.images) {
    throwIfCancelled(job.signal);
    const folder = img.split ? `${img.split}/` : '';
    const lines = linesFor(img);
    await job.writer.write(`labels/${folder}${withoutExtension(img.name)}.txt`, lines.length ? `${lines.join('\n')}\n` : '');
    await maybeCopyImage(job, { ...img, name: `${folder}${img.name}` }, 'images', withImages, copied);
    const listed = `./images/${folder}${img.name}`;
    for (const key of ['images', ...(img.split ? [img.split] : [])]) {
      const l = lists.get(key);
      if (l) l.push(listed);
      else lists.set(key, [listed]);
    }
    job.onProgress?.(++done, data.images.length);
  }
  for (const [key, l] of lists) await job.writer.write(`${key}.txt`, `${l.join('\n')}\n`);

  const hasSplits = lists.has('train') || lists.has('val') || lists.has('test');
  const yaml: string[] = [
    `# YOLO ${task} dataset exported by Fovea from ${yamlQuote(data.datasetName)}`,
    '# Labels: labels/<image path>.txt, one object a line, coordinates as fractions of the image size.',
    'path: .',
  ];
  if (hasSplits) {
    yaml.push(`train: ${lists.has('train') ? 'train.txt' : 'images.txt'}`);
    if (!lists.has('val')) yaml.push('# no validation split was assigned: val lists the training images');
    yaml.push(`val: ${lists.has('val') ? 'val.txt' : lists.has('train') ? 'train.txt' : 'images.txt'}`);
    if (lists.has('test')) yaml.push('test: test.txt');
  } else {
    yaml.push('# no splits were assigned in Fovea: train and val both list every image', 'train: images.txt', 'val: images.txt');
  }
  yaml.push(`nc: ${data.classes.length}`, 'names:');
  for (const c of data.classes) yaml.push(`  ${c.index}: ${yamlQuote(c.name)}`);
  await job.writer.write('data.yaml', `${yaml.join('\n')}\n`);

  if (classLabels) warnings.push(`${classLabels} image-level class label(s) were not exported: YOLO holds objects only (use csv).`);
  if (converted) {
    warnings.push(
      task === 'detect'
        ? `${converted} polygon(s)/mask(s) were written as their bounding boxes (YOLO detect holds boxes).`
        : `${converted} box(es) were written as 4-point polygons (YOLO segment holds polygons).`,
    );
  }
  if (traced.masks) {
    warnings.push(
      `${traced.masks} mask(s) were traced into ${traced.lines} polygon line(s) (one per connected part; outlines simplified by at most 1 px, IoU ≥ 0.99 with each part).` +
        (traced.cutHoles ? ` ${traced.cutHoles} hole(s) were cut out through a zero-width bridge (tools that fill polygons even-odd, as pycocotools and OpenCV do, keep them empty).` : ''),
    );
  }
  if (traced.holes) warnings.push(`${traced.holes} small hole(s) in masks (${traced.holePixels} pixels, under 4 pixels each) were filled: YOLO polygons hold them as solid.`);
  if (traced.specks) warnings.push(`${traced.specks} mask speck(s) (${traced.speckPixels} pixels, under 4 pixels each, beside a larger part of the same mask) were not exported.`);
  if (traced.empty) warnings.push(`${traced.empty} empty mask(s) were skipped.`);
  return { format: 'yolo', items: new Set(data.images.map((i) => i.itemId)).size, annotations: written, warnings, heldBack: [] };
};
