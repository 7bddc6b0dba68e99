/**
 * DICOM Segmentation objects (SEG: SOP Class 1.2.840.10008.5.1.4.1.1.66.4, and Label Map
 * Segmentation 1.2.840.10008.5.1.4.1.1.66.7) to the intermediate form: one entry per source
 * image frame, aimed at that image by its SOP Instance UID (target 'sop'), holding one mask per
 * segment (class = SegmentLabel, else the segmented property type's meaning, else "segment N").
 *
 * - Each frame names its segment in SegmentIdentificationSequence (per-frame, else shared) and
 *   its source image in DerivationImageSequence > SourceImageSequence (ReferencedSOPInstanceUID,
 *   ReferencedFrameNumber for multi-frame sources). Frames for the same image and segment are
 *   merged. A frame that names no source image but has a plane position, orientation and pixel
 *   spacing becomes a one-slice label volume that the importer lays onto the DICOM frame in the
 *   same plane (as NIfTI volumes are); one without either is reported and skipped.
 * - BINARY frames: any set bit is in the segment. FRACTIONAL: a pixel is in when its value is at
 *   least half of MaximumFractionalValue (with a warning that it was thresholded). LABELMAP: the
 *   pixel value is the segment number.
 * - Pixels are decoded by Fovea's one DICOM decoder (native 1-bit packing, and every compressed
 *   syntax it reads).
 */
import { dirname, join } from 'node:path';
import { FoveaException } from '../../contract/result';
import { decodeFrame, parseDicom, readImageInfo, type DicomView } from '../dicom';
import {
  extensionOf,
  isDirectory,
  readFileBounded,
  throwIfAborted,
  walkFiles,
  WarningSink,
  type CocoRle,
  type ParsedImageLabels,
  type ParsedLabelFile,
  type ParsedLabelVolume,
  type ParseLabelOptions,
} from './label-types';
import { encodeMask, mergeRles } from './rle';

export const SEG_SOP_CLASSES: Readonly<Record<string, string>> = {
  '1.2.840.10008.5.1.4.1.1.66.4': 'Segmentation',
  '1.2.840.10008.5.1.4.1.1.66.7': 'Label Map Segmentation',
};
const MAX_SEG_BYTES = 2 * 1024 * 1024 * 1024 - 1;
const NOT_DICOM = new Set(['.json', '.txt', '.csv', '.tsv', '.md', '.html', '.pdf', '.xml', '.yaml', '.yml', '.png', '.jpg', '.jpeg', '.gif', '.tif', '.tiff', '.bmp', '.webp', '.nii', '.gz', '.zip']);

/** The item of a functional group sequence for one frame: per-frame first, then shared. */
function group(perFrame: DicomView | undefined, shared: DicomView | undefined, sequence: string, tag: string): DicomView | undefined {
  for (const g of [perFrame, shared]) {
    const item = g?.items(sequence)[0];
    if (item?.has(tag) === true) return item;
  }
  return undefined;
}

function segmentName(item: DicomView, n: number): string {
  return item.str('00620005')?.trim() || item.items('0062000F')[0]?.str('00080104')?.trim() || `segment ${n}`;
}

export async function parseDicomSeg(path: string, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const warn = new WarningSink();
  const folder = await isDirectory(path);
  const dir = folder ? path : dirname(path);
  // In a folder, files that are plainly something else (an export's manifest, class maps, images) are passed over quietly.
  const accept = (n: string): boolean => !NOT_DICOM.has(extensionOf(n)) && !/\.nii\.gz$/i.test(n);
  const files = folder ? await walkFiles(path, accept, { recursive: true, signal: options.signal }) : [path.slice(dir.length + 1)];
  const classes: string[] = [];
  const images: ParsedImageLabels[] = [];
  const volumes: ParsedLabelVolume[] = [];
  let segs = 0;
  let done = 0;
  for (const rel of files) {
    throwIfAborted(options.signal);
    try {
      if (await readSeg(join(dir, rel), rel, { classes, images, volumes, warn }, !folder)) segs++;
    } catch (e) {
      if (!(e instanceof FoveaException) || !['BAD_INPUT', 'UNSUPPORTED', 'TOO_LARGE'].includes(e.code)) throw e;
      warn.add(`${rel}: ${e.message} Skipped.`);
    }
    options.onProgress?.(++done, files.length);
  }
  if (segs === 0) warn.add(`No DICOM Segmentation objects found in ${path}.`);
  return { format: 'dicom-seg', classes, images, ...(volumes.length ? { volumes } : {}), warnings: warn.done() };
}

interface Sink {
  classes: string[];
  images: ParsedImageLabels[];
  volumes: ParsedLabelVolume[];
  warn: WarningSink;
}

/** Reads one file; false when it is not a SEG (in a folder, other files are passed over with a note). */
async function readSeg(full: string, rel: string, sink: Sink, single: boolean): Promise<boolean> {
  const bytes = await readFileBounded(full, MAX_SEG_BYTES);
  let parsed;
  try {
    parsed = parseDicom(bytes);
  } catch (e) {
    if (!single && e instanceof FoveaException && e.code === 'BAD_INPUT') {
      sink.warn.add(`${rel}: not a DICOM file; passed over.`);
      return false;
    }
    throw e;
  }
  const sopClass = parsed.str('00080016') ?? parsed.str('00020002') ?? '';
  if (!SEG_SOP_CLASSES[sopClass]) {
    const msg = `not a DICOM Segmentation (SOP Class ${sopClass || 'missing'})`;
    if (single) throw new FoveaException('BAD_INPUT', `${msg}.`);
    sink.warn.add(`${rel}: ${msg}; passed over.`);
    return false;
  }
  const type = (parsed.str('00620001') ?? '').toUpperCase();
  if (!['BINARY', 'FRACTIONAL', 'LABELMAP'].includes(type)) throw new FoveaException('UNSUPPORTED', `SegmentationType "${type}" is not BINARY, FRACTIONAL or LABELMAP.`);
  const info = readImageInfo(parsed);
  if (!info) throw new FoveaException('BAD_INPUT', 'the SEG has no pixel data.');
  const { rows, columns, numberOfFrames } = info;

  const names = new Map<number, string>();
  for (const item of parsed.items('00620002')) {
    const n = item.num('00620004');
    if (n === undefined) continue;
    names.set(n, segmentName(item, n));
  }
  for (const n of [...names.keys()].sort((a, b) => a - b)) {
    const name = names.get(n) as string;
    if (!sink.classes.includes(name)) sink.classes.push(name);
  }
  const maxFractional = parsed.num('0062000E') ?? 255;
  if (type === 'FRACTIONAL') sink.warn.add(`${rel}: FRACTIONAL segments were thresholded at 50% of ${maxFractional}.`);

  const shared = parsed.items('52009229')[0];
  const perFrame = parsed.items('52009230');
  // target key -> segment -> RLEs (merged at the end)
  const byTarget = new Map<string, { entry: ParsedImageLabels; masks: Map<number, CocoRle[]> }>();
  let unplaced = 0;
  for (let f = 0; f < numberOfFrames; f++) {
    const pf = perFrame[f];
    const frame = await decodeFrame(parsed, f, { info });
    const px = frame.data;
    // segment number -> row-major 0/1 mask of this frame
    const masks = new Map<number, Uint8Array>();
    if (type === 'LABELMAP') {
      for (let p = 0; p < px.length; p++) {
        const v = px[p] ?? 0;
        if (v === 0) continue;
        let m = masks.get(v);
        if (!m) masks.set(v, (m = new Uint8Array(rows * columns)));
        m[p] = 1;
      }
    } else {
      const segNumber = group(pf, shared, '0062000A', '0062000B')?.num('0062000B');
      if (segNumber === undefined) {
        sink.warn.add(`${rel}: frame ${f + 1} names no segment (SegmentIdentificationSequence); skipped.`);
        continue;
      }
      const m = new Uint8Array(rows * columns);
      const threshold = type === 'FRACTIONAL' ? maxFractional / 2 : 1;
      let any = false;
      for (let p = 0; p < px.length; p++) {
        if ((px[p] ?? 0) >= threshold) {
          m[p] = 1;
          any = true;
        }
      }
      if (any) masks.set(segNumber, m);
    }
    for (const n of masks.keys()) {
      if (!names.has(n)) {
        names.set(n, `segment ${n}`);
        if (!sink.classes.includes(`segment ${n}`)) sink.classes.push(`segment ${n}`);
        sink.warn.add(`${rel}: segment ${n} is not described in SegmentSequence; named "segment ${n}".`);
      }
    }
    const source = pf?.items('00089124').flatMap((d) => d.items('00082112'))[0] ?? pf?.items('00081140')[0];
    const sop = source?.str('00081155');
    if (sop) {
      const refFrame = source?.num('00081160');
      const frameIndex = refFrame !== undefined && refFrame >= 1 ? refFrame - 1 : undefined;
      const key = `${sop}/${frameIndex ?? ''}`;
      let slot = byTarget.get(key);
      if (!slot) {
        const entry: ParsedImageLabels = {
          fileName: `${rel} (image ${sop}${frameIndex !== undefined ? ` frame ${frameIndex + 1}` : ''})`,
          match: 'path',
          source: rel,
          width: columns,
          height: rows,
          labels: [],
          target: { kind: 'sop', sopInstanceUid: sop, ...(frameIndex !== undefined ? { frameIndex } : {}) },
        };
        slot = { entry, masks: new Map() };
        byTarget.set(key, slot);
        sink.images.push(entry);
      }
      for (const [n, m] of masks) {
        const list = slot.masks.get(n) ?? [];
        list.push(encodeMask(m, rows, columns));
        slot.masks.set(n, list);
      }
      continue;
    }
    // No source image named: place the frame by its plane, if it has one.
    const ipp = group(pf, shared, '00209113', '00200032')?.nums('00200032') ?? [];
    const iop = group(pf, shared, '00209116', '00200037')?.nums('00200037') ?? [];
    const ps = group(pf, shared, '00289110', '00280030')?.nums('00280030') ?? [];
    if (masks.size === 0) continue;
    if (ipp.length < 3 || iop.length < 6 || ps.length < 2 || ![...ipp, ...iop, ...ps].every(Number.isFinite)) {
      unplaced++;
      continue;
    }
    const [u0 = 0, u1 = 0, u2 = 0, v0 = 0, v1 = 0, v2 = 0] = iop;
    const n = [u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0];
    const [rs = 1, cs = 1] = ps;
    const voxelToLps = [
      [u0 * cs, v0 * rs, n[0] ?? 0, ipp[0] ?? 0],
      [u1 * cs, v1 * rs, n[1] ?? 0, ipp[1] ?? 0],
      [u2 * cs, v2 * rs, n[2] ?? 0, ipp[2] ?? 0],
      [0, 0, 0, 1],
    ];
    for (const [segment, m] of masks) {
      sink.volumes.push({
        fileName: `${rel} (frame ${f + 1})`,
        dims: [columns, rows, 1],
        values: m,
        voxelToLps,
        classes: new Map([[1, names.get(segment) as string]]),
      });
    }
  }
  if (unplaced > 0) sink.warn.add(`${rel}: ${unplaced} frame(s) name no source image and have no plane position; skipped.`);
  for (const { entry, masks } of byTarget.values()) {
    for (const n of [...masks.keys()].sort((a, b) => a - b)) {
      const rles = masks.get(n) as CocoRle[];
      entry.labels.push({ className: names.get(n) as string, geometry: { kind: 'mask', rle: rles.length === 1 ? (rles[0] as CocoRle) : mergeRles(rles) } });
    }
  }
  return true;
}
