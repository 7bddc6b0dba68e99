/**
 * Pascal VOC XML: Annotations/NAME.xml, one file per image (+ JPEGImages/NAME.png with
 * `withImages`, plain images only; VOC's folder name, whatever the image type).
 *
 * - <filename> is the image name of export-data.ts: its path relative to what was imported (the
 *   base name for a flat dataset), so images with the same base name in different folders stay
 *   distinct when the file is read back; <path> repeats it. <size> is width, height, depth.
 * - Boxes: VOC's 1-based inclusive pixel indices, xmin = x + 1, xmax = x + width (same for y),
 *   the inverse of parse-voc.ts. Whole-pixel boxes give whole numbers; a sub-pixel box keeps its
 *   fractions rather than being rounded (round-tripping exactly; most readers take floats).
 * - Polygons and masks are written as their bounding boxes (warned); image-level classes as an
 *   <object> without <bndbox> (VOC classification). <difficult> carries the difficult flag.
 * - Text is escaped (& < > " ') and characters XML 1.0 cannot hold (control characters) are
 *   dropped, so every file is well-formed whatever the names hold.
 */
import { rleToBbox } from '../labels/rle';
import { collectExportData, commonWarnings, maybeCopyImage, num, polygonBounds, throwIfCancelled, withoutExtension } from './export-data';
import type { ExportFormatHandler } from './export-types';

// eslint-disable-next-line no-control-regex -- characters XML 1.0 does not allow
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/gu; // with /u, only lone surrogates match the last range

/** Text safe inside an XML element or attribute value. */
export function escapeXml(s: string): string {
  return s
    .replace(NOT_XML, '')
    .replace(/&/gu, '&amp;')
    .replace(/</gu, '&lt;')
    .replace(/>/gu, '&gt;')
    .replace(/"/gu, '&quot;')
    .replace(/'/gu, '&apos;');
}

export const exportVoc: ExportFormatHandler = async (job) => {
  const withImages = job.options['withImages'] === true;
  const data = collectExportData(job, { withImages });
  const warnings = commonWarnings(data, 'Pascal VOC', withImages);
  let converted = 0;
  let written = 0;
  let done = 0;
  const copied = new Set<number>();
  for (const img of data.images) {
    throwIfCancelled(job.signal);
    const slash = img.name.lastIndexOf('/');
    const x: string[] = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<annotation>',
      `  <folder>${escapeXml(slash >= 0 ? img.name.slice(0, slash) : '')}</folder>`,
      `  <filename>${escapeXml(img.name)}</filename>`,
      `  <path>${escapeXml(img.name)}</path>`,
      `  <source><database>${escapeXml(data.datasetName)}</database><annotation>Fovea</annotation></source>`,
      `  <size><width>${img.width}</width><height>${img.height}</height><depth>${img.channels}</depth></size>`,
      `  <segmented>0</segmented>`,
    ];
    for (const a of img.annotations) {
      const g = a.geometry;
      let box: { x: number; y: number; width: number; height: number } | null = null;
      if (g.kind === 'box') box = g;
      else if (g.kind === 'polygon') {
        box = polygonBounds(g.points);
        converted++;
      } else if (g.kind === 'mask') {
        const [bx, by, bw, bh] = rleToBbox(g.rle);
        if (bw === 0 || bh === 0) continue;
        box = { x: bx, y: by, width: bw, height: bh };
        converted++;
      }
      x.push('  <object>', `    <name>${escapeXml(a.className)}</name>`, '    <pose>Unspecified</pose>', '    <truncated>0</truncated>', `    <difficult>${a.difficult ? 1 : 0}</difficult>`);
      if (box) {
        x.push(
          '    <bndbox>',
          `      <xmin>${num(box.x + 1)}</xmin>`,
          `      <ymin>${num(box.y + 1)}</ymin>`,
          `      <xmax>${num(box.x + box.width)}</xmax>`,
          `      <ymax>${num(box.y + box.height)}</ymax>`,
          '    </bndbox>',
        );
      }
      x.push('  </object>');
      written++;
    }
    x.push('</annotation>');
    await job.writer.write(`Annotations/${withoutExtension(img.name)}.xml`, `${x.join('\n')}\n`);
    await maybeCopyImage(job, img, 'JPEGImages', withImages, copied);
    job.onProgress?.(++done, data.images.length);
  }
  if (converted) warnings.push(`${converted} polygon(s)/mask(s) were written as their bounding boxes (VOC holds boxes).`);
  return { format: 'voc', items: new Set(data.images.map((i) => i.itemId)).size, annotations: written, warnings, heldBack: [] };
};
