/**
 * `--format dicom-seg`: one DICOM Segmentation object (SOP Class 1.2.840.10008.5.1.4.1.1.66.4,
 * SegmentationType BINARY) per DICOM series with region labels, written with dcmjs's DicomDict
 * (Explicit VR Little Endian, file meta (0002,0003) = (0008,0018)).
 *
 * - One segment per label class present (SegmentLabel = class name; algorithm type MANUAL, or
 *   SEMIAUTOMATIC with SegmentAlgorithmName "Fovea" when any of the class's regions in the
 *   series came from a model; category "Physical object" (SCT 260787004), type a local code
 *   (scheme 99FOVEA) whose meaning is the class name; display colour from the class colour).
 * - One frame per (segment, source frame) holding at least one pixel, segment by segment, each
 *   in slice order. Each frame references its source image (DerivationImageSequence >
 *   SourceImageSequence: ReferencedSOPClassUID, ReferencedSOPInstanceUID, ReferencedFrameNumber
 *   for multi-frame sources) and names its segment (SegmentIdentificationSequence) and, when
 *   the source has patient geometry, its position (PlanePositionSequence); orientation and pixel
 *   spacing are shared when all frames agree. ReferencedSeriesSequence lists every instance used.
 * - Patient and study attributes are copied from the source (this is the identified export; the
 *   de-identified one is `--format dicom-deid`); SeriesInstanceUID and SOPInstanceUID are new;
 *   the frame of reference is the source's. Text is written as UTF-8 (ISO_IR 192).
 * - A series whose frames differ in size gets one SEG per size (a SEG has one Rows x Columns).
 *
 * File names: series-<n>.dcm (series-<n>-<m>.dcm), from library numbering only.
 */
import { randomUUID } from 'node:crypto';
import { FoveaException } from '../../contract/result';
import type { DicomView } from '../dicom';
import { getSeriesHeader, type SeriesHeaderRow } from '../store/series-repo';
import type { ExportFormatHandler, ExportFormatResult } from './export-types';
import { buildStacks, parseStoredDicom, readFrameGeometries, seriesDicomItems, type FrameGeometry } from './volume-geometry';
import { collectSeriesRegions, rasterizeRegion, throwIfCancelled, type RegionAnnotation, type VolumeClass } from './volume-labels';
import { dcmjs, el, type DcmDict, type DcmElement } from '../dicom/dcmjs';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const FOVEA_VERSION = '0.1.0';
/** Fovea's implementation UID (2.25 form, fixed). */
const IMPLEMENTATION_UID = '2.25.157829307541234891273849120348712093487';


const seq = (...items: DcmDict[]): DcmElement => ({ vr: 'SQ', Value: items.map(sorted) });
/** dcmjs writes keys in insertion order; DICOM wants ascending tags. */
function sorted(ds: DcmDict): DcmDict {
  const out: DcmDict = {};
  for (const k of Object.keys(ds).sort()) out[k] = ds[k] as DcmElement;
  return out;
}
const code = (value: string, scheme: string, meaning: string): DcmDict => ({
  '00080100': el('SH', value),
  '00080102': el('SH', scheme),
  '00080104': el('LO', meaning.slice(0, 64)),
});

/** A new UID: 2.25 and a random UUID as an integer (PS3.5 B.2). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString(10)}`;
}

/** A DS value in at most 16 characters. */
function ds(v: number): string {
  if (Object.is(v, -0) || Math.abs(v) < 1e-12) return '0';
  for (let p = 12; p > 0; p--) {
    const s = String(Number(v.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return v.toExponential(8);
}

function dicomDateTime(d: Date): { date: string; time: string } {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return { date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`, time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}` };
}

/** sRGB '#rrggbb' -> DICOM's scaled CIELab (PS3.3 C.10.7.1.1), D65. */
export function hexToDicomLab(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  const [r, g, b] = m ? [m[1], m[2], m[3]].map((h) => parseInt(h ?? '0', 16) / 255) : [0.5, 0.5, 0.5];
  const lin = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [R, G, B] = [lin(r ?? 0), lin(g ?? 0), lin(b ?? 0)];
  const X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  const Y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const L = 116 * f(Y) - 16;
  const a = 500 * (f(X) - f(Y));
  const bb = 200 * (f(Y) - f(Z));
  const clamp = (v: number): number => Math.max(0, Math.min(65535, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((bb + 128) * 65535) / 255)];
}

/** Attributes copied from the source instance (patient, study, frame of reference). */
function copiedAttributes(src: DicomView): DcmDict {
  const out: DcmDict = {};
  const copy = (tag: string, vr: string, required: boolean): void => {
    const v = src.str(tag);
    if (v !== undefined) out[tag] = el(vr, v);
    else if (required) out[tag] = el(vr);
  };
  copy('00080020', 'DA', true); // StudyDate
  copy('00080030', 'TM', true); // StudyTime
  copy('00080050', 'SH', true); // AccessionNumber
  copy('00080090', 'PN', true); // ReferringPhysicianName
  copy('00081030', 'LO', false); // StudyDescription
  copy('00100010', 'PN', true); // PatientName
  copy('00100020', 'LO', true); // PatientID
  copy('00100030', 'DA', true); // PatientBirthDate
  copy('00100040', 'CS', true); // PatientSex
  copy('0020000D', 'UI', true); // StudyInstanceUID
  copy('00200010', 'SH', true); // StudyID
  copy('00200052', 'UI', false); // FrameOfReferenceUID
  copy('00201040', 'LO', false); // PositionReferenceIndicator
  return out;
}

interface SegFrame {
  segment: number;
  source: FrameGeometry;
  /** Index of the source's position among the SEG's distinct positions (1-based), or 0. */
  positionIndex: number;
  mask: Uint8Array;
}

function packBits(frames: readonly SegFrame[], pixels: number): Uint8Array {
  const total = frames.length * pixels;
  const bytes = new Uint8Array(Math.ceil(total / 8) + (Math.ceil(total / 8) % 2));
  let bit = 0;
  for (const f of frames) {
    for (let p = 0; p < pixels; p++, bit++) if (f.mask[p]) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (1 << (bit & 7));
  }
  return bytes;
}

const same = (a: readonly string[] | null, b: readonly string[] | null): boolean => a !== null && b !== null && a.length === b.length && a.every((v, i) => Number(v) === Number(b[i]));

/** One SEG for the given source frames (all of one Rows x Columns). */
function buildSeg(opts: {
  source: DicomView;
  sourceSeriesUid: string;
  sourceSeriesNumber: number | null;
  frames: SegFrame[];
  classes: VolumeClass[];
  semiautomatic: Set<number>;
  rows: number;
  columns: number;
}): Uint8Array {
  const { frames, rows, columns } = opts;
  const sopUid = newUid();
  const now = dicomDateTime(new Date());
  const segments = [...new Set(frames.map((f) => f.segment))].sort((a, b) => a - b);
  const byValue = new Map(opts.classes.map((c) => [c.value, c]));
  const geometric = frames.every((f) => f.source.positionText && f.source.orientationText && f.source.pixelSpacingText);
  const first = frames[0]?.source as FrameGeometry;
  const sharedOrientation = geometric && frames.every((f) => same(f.source.orientationText, first.orientationText));
  const sharedSpacing = geometric && frames.every((f) => same(f.source.pixelSpacingText, first.pixelSpacingText));

  const segmentItems = segments.map((n) => {
    const c = byValue.get(n) as VolumeClass;
    const semi = opts.semiautomatic.has(c.classId);
    const item: DcmDict = {
      '00620003': seq(code('260787004', 'SCT', 'Physical object')),
      '00620004': el('US', n),
      '00620005': el('LO', c.name.slice(0, 64)),
      '00620008': el('CS', semi ? 'SEMIAUTOMATIC' : 'MANUAL'),
      '0062000D': el('US', ...hexToDicomLab(c.color)),
      '0062000F': seq(code(`C${c.value}`, '99FOVEA', c.name)),
    };
    if (semi) item['00620009'] = el('LO', 'Fovea');
    return item;
  });

  const measures = (f: FrameGeometry): DcmDict => {
    const m: DcmDict = { '00280030': el('DS', ...(f.pixelSpacingText as string[])) };
    if (f.sliceThickness !== null) m['00180050'] = el('DS', ds(f.sliceThickness));
    return m;
  };
  const perFrame = frames.map((f) => {
    const sourceItem: DcmDict = {
      '00081150': el('UI', f.source.sopClassUid ?? ''),
      '00081155': el('UI', f.source.sopInstanceUid ?? ''),
      '0040A170': seq(code('121322', 'DCM', 'Source image for image processing operation')),
    };
    if (f.source.frames > 1) sourceItem['00081160'] = el('IS', String(f.source.frameIndex + 1));
    const item: DcmDict = {
      '00089124': seq({ '00082112': seq(sourceItem), '00089215': seq(code('113076', 'DCM', 'Segmentation')) }),
      '00209111': seq({ '00209157': el('UL', ...(geometric ? [f.segment, f.positionIndex] : [f.segment])) }),
      '0062000A': seq({ '0062000B': el('US', f.segment) }),
    };
    if (geometric) item['00209113'] = seq({ '00200032': el('DS', ...(f.source.positionText as string[])) });
    if (geometric && !sharedOrientation) item['00209116'] = seq({ '00200037': el('DS', ...(f.source.orientationText as string[])) });
    if (geometric && !sharedSpacing) item['00289110'] = seq(measures(f.source));
    return item;
  });
  const shared: DcmDict = {};
  if (sharedOrientation) shared['00209116'] = seq({ '00200037': el('DS', ...(first.orientationText as string[])) });
  if (sharedSpacing) shared['00289110'] = seq(measures(first));

  const dimensionOrganizationUid = newUid();
  const dimensionIndex = [
    { '00209164': el('UI', dimensionOrganizationUid), '00209165': el('AT', 0x0062000b), '00209167': el('AT', 0x0062000a), '00209421': el('LO', 'ReferencedSegmentNumber') },
  ];
  if (geometric) {
    dimensionIndex.push({ '00209164': el('UI', dimensionOrganizationUid), '00209165': el('AT', 0x00200032), '00209167': el('AT', 0x00209113), '00209421': el('LO', 'ImagePositionPatient') });
  }

  // Every instance used, once, in frame order.
  const referenced = new Map<string, string>();
  for (const f of frames) if (f.source.sopInstanceUid) referenced.set(f.source.sopInstanceUid, f.source.sopClassUid ?? '');

  const copied = copiedAttributes(opts.source);
  const dict: DcmDict = {
    ...copied,
    '00080005': el('CS', 'ISO_IR 192'),
    '00080008': el('CS', 'DERIVED', 'PRIMARY'),
    '00080012': el('DA', now.date),
    '00080013': el('TM', now.time),
    '00080016': el('UI', SEGMENTATION_STORAGE),
    '00080018': el('UI', sopUid),
    '00080021': el('DA', now.date),
    '00080023': el('DA', now.date),
    '00080031': el('TM', now.time),
    '00080033': el('TM', now.time),
    '00080060': el('CS', 'SEG'),
    '00080070': el('LO', 'Fovea'),
    '0008103E': el('LO', 'Fovea segmentation'),
    '00081090': el('LO', 'Fovea'),
    '00081115': seq({
      '0008114A': { vr: 'SQ', Value: [...referenced].map(([uid, cls]) => sorted({ '00081150': el('UI', cls), '00081155': el('UI', uid) })) },
      '0020000E': el('UI', opts.sourceSeriesUid),
    }),
    '00181000': el('LO', 'FOVEA'),
    '00181020': el('LO', FOVEA_VERSION),
    '0020000E': el('UI', newUid()),
    '00200011': el('IS', String(1000 + (opts.sourceSeriesNumber ?? 0))),
    '00200013': el('IS', '1'),
    '00209221': seq({ '00209164': el('UI', dimensionOrganizationUid) }),
    '00209222': { vr: 'SQ', Value: dimensionIndex.map(sorted) },
    '00280002': el('US', 1),
    '00280004': el('CS', 'MONOCHROME2'),
    '00280008': el('IS', String(frames.length)),
    '00280010': el('US', rows),
    '00280011': el('US', columns),
    '00280100': el('US', 1),
    '00280101': el('US', 1),
    '00280102': el('US', 0),
    '00280103': el('US', 0),
    '00282110': el('CS', '00'),
    '00620001': el('CS', 'BINARY'),
    '00620002': { vr: 'SQ', Value: segmentItems.map(sorted) },
    '00700080': el('CS', 'FOVEA_SEG'),
    '00700081': el('LO', 'Labels exported from Fovea'),
    '00700084': el('PN'),
    '52009229': seq(shared),
    '52009230': { vr: 'SQ', Value: perFrame.map(sorted) },
    '7FE00010': el('OB', packBits(frames, rows * columns).buffer),
  };
  if (geometric && !copied['00200052']) {
    // A frame of reference is required with plane positions; the source had none.
    dict['00200052'] = el('UI', newUid());
  }
  if (dict['00200052'] && !dict['00201040']) dict['00201040'] = el('LO');
  const meta: DcmDict = {
    '00020001': el('OB', new Uint8Array([0, 1]).buffer),
    '00020002': el('UI', SEGMENTATION_STORAGE),
    '00020003': el('UI', sopUid),
    '00020010': el('UI', EXPLICIT_VR_LITTLE_ENDIAN),
    '00020012': el('UI', IMPLEMENTATION_UID),
    '00020013': el('SH', 'FOVEA_0_1'),
  };
  const out = new (dcmjs().data.DicomDict)(meta);
  out.dict = sorted(dict);
  return new Uint8Array(out.write());
}

export const exportDicomSeg: ExportFormatHandler = async (job) => {
  const { db, blobs } = job.sources;
  const regions = collectSeriesRegions(job);
  const warnings = [...regions.warnings];
  const result: ExportFormatResult = { format: 'dicom-seg', items: 0, annotations: 0, warnings, heldBack: [] };
  const valueOf = new Map(regions.classes.map((c) => [c.classId, c.value]));
  let done = 0;
  for (const s of regions.series) {
    throwIfCancelled(job.signal);
    const info = getSeriesHeader(db, s.seriesId) as SeriesHeaderRow;
    const items = seriesDicomItems(db, s.seriesId);
    // Slice order (and position indices) from the volume stacks; frames of other sizes go in another SEG.
    const stacks = buildStacks(readFrameGeometries(blobs, items));
    const ordered = stacks.flatMap((st) => st.slices);
    const sizes = [...new Set(ordered.map((f) => `${f.rows}x${f.columns}`))];
    const frameOf = new Map(ordered.map((f) => [`${f.itemId}/${f.frameIndex}`, f]));
    const orderOf = new Map(ordered.map((f, i) => [f, i]));
    const semiautomatic = new Set<number>();
    // (source frame, class) -> union of its regions.
    const masks = new Map<string, { source: FrameGeometry; value: number; mask: Uint8Array }>();
    const used = new Set<number>();
    for (const a of s.annotations as RegionAnnotation[]) {
      const source = frameOf.get(`${a.itemId}/${a.frameIndex}`);
      if (!source) {
        warnings.push(`series ${s.ordinal}: annotation ${a.id} is on frame ${a.frameIndex + 1}, which its image does not have; left out.`);
        continue;
      }
      const mask = rasterizeRegion(a, source.rows, source.columns);
      if (typeof mask === 'string') {
        warnings.push(`series ${s.ordinal}: annotation ${a.id} was left out: ${mask}.`);
        continue;
      }
      if (!source.sopInstanceUid || !source.sopClassUid) {
        warnings.push(`series ${s.ordinal}: annotation ${a.id} is on an image without SOP Instance/Class UID, which a SEG cannot reference; left out.`);
        continue;
      }
      const value = valueOf.get(a.classId) as number;
      const key = `${a.itemId}/${a.frameIndex}/${value}`;
      const entry = masks.get(key) ?? { source, value, mask: new Uint8Array(source.rows * source.columns) };
      for (let p = 0; p < mask.length; p++) if (mask[p]) entry.mask[p] = 1;
      masks.set(key, entry);
      used.add(a.id);
      if (a.source === 'model') semiautomatic.add(a.classId);
    }
    let m = 0;
    for (const size of sizes) {
      const group = [...masks.values()].filter((e) => `${e.source.rows}x${e.source.columns}` === size && e.mask.some((v) => v !== 0));
      if (group.length === 0) continue;
      m++;
      // Distinct positions in slice order -> 1-based dimension index values.
      const positions = new Map<string, number>();
      for (const f of ordered) {
        if (`${f.rows}x${f.columns}` !== size || !f.positionText) continue;
        const k = f.positionText.map(Number).join('\\');
        if (!positions.has(k)) positions.set(k, positions.size + 1);
      }
      group.sort((a, b) => a.value - b.value || (orderOf.get(a.source) ?? 0) - (orderOf.get(b.source) ?? 0));
      const frames: SegFrame[] = group.map((e) => ({
        segment: e.value,
        source: e.source,
        positionIndex: e.source.positionText ? (positions.get(e.source.positionText.map(Number).join('\\')) ?? 0) : 0,
        mask: e.mask,
      }));
      const firstItem = items.find((it) => it.id === (group[0] as { source: FrameGeometry }).source.itemId);
      if (!firstItem) throw new FoveaException('INTERNAL', `series ${s.ordinal}: the source image of a frame is missing.`);
      const [rows, columns] = size.split('x').map(Number) as [number, number];
      const bytes = buildSeg({
        source: parseStoredDicom(blobs, firstItem),
        sourceSeriesUid: info.uid,
        sourceSeriesNumber: info.number,
        frames,
        classes: regions.classes,
        semiautomatic,
        rows,
        columns,
      });
      const name = sizes.length > 1 && m > 1 ? `series-${s.ordinal}-${m}.dcm` : `series-${s.ordinal}.dcm`;
      await job.writer.write(name, bytes);
      result.items += new Set(group.map((e) => e.source.itemId)).size;
    }
    result.annotations += used.size;
    job.onProgress?.(++done, regions.series.length);
  }
  if (result.items === 0) warnings.push('No DICOM series in this selection has mask or polygon labels: no SEG was written.');
  return result;
};
