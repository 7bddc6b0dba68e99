import { badInput, unsupported } from './dicom-errors';
import type { DicomView } from './dicom-view';
import type { ParsedDicom } from './parse-dicom';
import { expandSegmentedLut } from './segmented-palette';

/** The attributes Fovea needs to index, order, decode and display an image. */
export interface DicomImageInfo {
  sopClassUid: string | null;
  sopInstanceUid: string | null;
  seriesInstanceUid: string | null;
  studyInstanceUid: string | null;
  frameOfReferenceUid: string | null;
  patientId: string | null;
  patientName: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  studyDescription: string | null;
  accessionNumber: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  modality: string | null;
  bodyPartExamined: string | null;
  instanceNumber: number | null;
  acquisitionNumber: number | null;
  imageType: string[];

  rows: number;
  columns: number;
  numberOfFrames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  photometricInterpretation: string;
  planarConfiguration: 0 | 1;
  /** 'integer' (7FE0,0010), or float/double Pixel Data (7FE0,0008 / 7FE0,0009). */
  pixelDataKind: 'integer' | 'float' | 'double';
  /** Length of the native Pixel Data value in bytes; null when encapsulated. */
  pixelDataByteLength: number | null;
  encapsulated: boolean;

  /** [row spacing, column spacing] in mm (PixelSpacing), or ImagerPixelSpacing when that is all there is. */
  pixelSpacing: [number, number] | null;
  pixelSpacingSource: 'PixelSpacing' | 'ImagerPixelSpacing' | null;
  sliceThickness: number | null;
  spacingBetweenSlices: number | null;
  imagePositionPatient: [number, number, number] | null;
  imageOrientationPatient: [number, number, number, number, number, number] | null;
  /** IPP projected on the slice normal (row x column direction), in mm: sorts a series along its axis. */
  slicePosition: number | null;
  sliceLocation: number | null;

  rescaleSlope: number;
  rescaleIntercept: number;
  rescaleType: string | null;
  /** All window centres/widths in the file, paired; the first is the default. */
  windowCenter: number[];
  windowWidth: number[];
  windowExplanation: string[];
  voiLutFunction: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' | string;
  /** Modality LUT Sequence (0028,3000), first item, when the file uses one instead of rescale. */
  modalityLut: DicomLut | null;
  /** VOI LUT Sequence (0028,3010) items. */
  voiLuts: DicomLut[];
  /** Red, green, blue palette LUTs for PALETTE COLOR. */
  palette: { red: DicomLut; green: DicomLut; blue: DicomLut } | null;
  presentationLutShape: string | null;

  /** true for YES, false for NO, null when absent. */
  burnedInAnnotation: boolean | null;
  lossyImageCompression: boolean | null;
  transferSyntaxUid: string;
  /** ms between frames (FrameTime), or from FrameTimeVector / CineRate when present. */
  frameTime: number | null;
  recommendedDisplayFrameRate: number | null;
  smallestPixelValue: number | null;
  largestPixelValue: number | null;
}

/** A LUT from its descriptor (entries, first mapped value, bits) and data. */
export interface DicomLut {
  entries: number;
  firstMapped: number;
  bits: number;
  data: Uint16Array;
  explanation: string | null;
}

const SUPPORTED_PHOTOMETRIC = new Set([
  'MONOCHROME1',
  'MONOCHROME2',
  'RGB',
  'PALETTE COLOR',
  'YBR_FULL',
  'YBR_FULL_422',
  'YBR_ICT',
  'YBR_RCT',
  'YBR_PARTIAL_420',
  'YBR_PARTIAL_422',
]);

function orNull<T>(v: T | undefined): T | null {
  return v === undefined ? null : v;
}

function finiteNums(view: DicomView, tag: string): number[] {
  return view.nums(tag).filter((n) => Number.isFinite(n));
}

/** Functional groups (enhanced multi-frame objects): shared first, then the first frame's. */
function functionalGroupValue(parsed: DicomView, sequence: string, tag: string): DicomView | undefined {
  for (const groups of ['52009229', '52009230']) {
    const first = parsed.items(groups)[0];
    const item = first?.items(sequence)[0];
    if (item?.has(tag) === true) return item;
  }
  return undefined;
}

function requireUint(parsed: DicomView, tag: string, name: string, min: number, max: number): number {
  const v = parsed.numStrict(tag);
  if (v === undefined) throw badInput(`The DICOM image has no ${name} (${tag.slice(0, 4)},${tag.slice(4)}); it cannot be decoded.`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw badInput(`The DICOM image declares ${name} = ${v}, which is not valid (expected ${min} to ${max}).`);
  }
  return v;
}

export function readLut(view: DicomView, descriptorTag: string, dataTag: string, pixelRepresentation: number): DicomLut | null {
  const descriptor = view.nums(descriptorTag);
  const raw = view.valueBytes(dataTag);
  if (descriptor.length < 3 || raw === undefined) return null;
  let entries = descriptor[0] ?? 0;
  if (entries === 0) entries = 65536; // PS3.3 C.11.1.1: 0 means 2^16
  let firstMapped = descriptor[1] ?? 0;
  // Second value follows the pixel data's signedness (read as US here).
  if (pixelRepresentation === 1 && firstMapped > 32767) firstMapped -= 65536;
  let bits = descriptor[2] ?? 16;
  const little = view.littleEndian;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let data: Uint16Array;
  if (raw.length === entries) {
    // 8-bit entries packed one per byte (OB, or an 8-bit palette written that way).
    data = Uint16Array.from(raw);
    bits = 8;
  } else {
    const n = Math.min(entries, Math.floor(raw.length / 2));
    data = new Uint16Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getUint16(i * 2, little);
    if (bits === 8 && raw.length === entries * 2) {
      // "8 bits" stored in 16-bit words: the values are in the low byte (or
      // high, for some writers): scale up by what is there.
      let max = 0;
      for (const v of data) max = Math.max(max, v);
      if (max > 255) for (let i = 0; i < n; i++) data[i] = (data[i] ?? 0) >> 8;
    }
  }
  if (data.length === 0) return null;
  return { entries, firstMapped, bits, data, explanation: orNull(view.str('00283003')) };
}

/**
 * A palette table given as Segmented Palette Color Lookup Table Data
 * (PS3.3 C.7.9.2), expanded to the full table its descriptor describes.
 */
export function readSegmentedLut(view: DicomView, descriptorTag: string, dataTag: string, what: string): DicomLut | null {
  const descriptor = view.nums(descriptorTag);
  const raw = view.valueBytes(dataTag);
  if (descriptor.length < 3 || raw === undefined) return null;
  const entries = (descriptor[0] ?? 0) === 0 ? 65536 : (descriptor[0] ?? 0);
  const bits = descriptor[2] ?? 16;
  // Palette LUTs are indexed by unsigned stored values (PALETTE COLOR data is unsigned).
  const firstMapped = descriptor[1] ?? 0;
  const little = view.littleEndian;
  let units: Uint16Array | Uint8Array;
  if (bits <= 8) {
    // 8-bit units, in the order the OW words hold them in little endian.
    units = new Uint8Array(raw.length - (raw.length % 2));
    for (let i = 0; i < units.length; i++) units[i] = raw[little ? i : i ^ 1] ?? 0;
  } else {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    units = new Uint16Array(raw.length >> 1);
    for (let i = 0; i < units.length; i++) units[i] = dv.getUint16(i * 2, little);
  }
  const data = expandSegmentedLut(units, entries, bits <= 8 ? 8 : 16, what);
  return { entries, firstMapped, bits: bits <= 8 ? 8 : bits, data, explanation: null };
}

/**
 * The image attributes of a parsed object, or null when it has no pixel data.
 * Throws BAD_INPUT when pixel data is present but the attributes that say
 * how to read it are missing or impossible, UNSUPPORTED for layouts Fovea
 * does not handle (e.g. 4 samples per pixel).
 */
export function readImageInfo(parsed: ParsedDicom): DicomImageInfo | null {
  const integer = parsed.element('7FE00010');
  const float = parsed.element('7FE00008');
  const double = parsed.element('7FE00009');
  const pixelElement = integer ?? float ?? double;
  if (pixelElement === undefined) return null;
  const pixelDataKind = integer !== undefined ? 'integer' : float !== undefined ? 'float' : 'double';

  const rows = requireUint(parsed, '00280010', 'Rows', 1, 65535);
  const columns = requireUint(parsed, '00280011', 'Columns', 1, 65535);
  const samplesPerPixel = parsed.has('00280002') ? requireUint(parsed, '00280002', 'SamplesPerPixel', 1, 4) : 1;
  const bitsAllocated =
    pixelDataKind === 'float' ? 32 : pixelDataKind === 'double' ? 64 : requireUint(parsed, '00280100', 'BitsAllocated', 1, 64);
  const allowed = pixelDataKind === 'integer' ? [1, 8, 16, 32] : pixelDataKind === 'float' ? [32] : [64];
  if (!allowed.includes(bitsAllocated)) {
    throw unsupported(`The DICOM image uses BitsAllocated = ${bitsAllocated}, which Fovea does not read (it reads ${allowed.join(', ')}).`);
  }
  const bitsStored = parsed.has('00280101') ? requireUint(parsed, '00280101', 'BitsStored', 1, bitsAllocated) : bitsAllocated;
  const highBit = parsed.has('00280102') ? requireUint(parsed, '00280102', 'HighBit', bitsStored - 1, bitsAllocated - 1) : bitsStored - 1;
  const pr = parsed.has('00280103') ? requireUint(parsed, '00280103', 'PixelRepresentation', 0, 1) : 0;
  const pixelRepresentation: 0 | 1 = pr === 1 ? 1 : 0;
  let photometricInterpretation = (parsed.str('00280004') ?? '').toUpperCase().replace(/\s+$/, '');
  if (photometricInterpretation === '') {
    if (samplesPerPixel === 1) photometricInterpretation = 'MONOCHROME2';
    else if (samplesPerPixel === 3) photometricInterpretation = 'RGB';
  }
  if (!SUPPORTED_PHOTOMETRIC.has(photometricInterpretation)) {
    throw unsupported(
      `The DICOM image has PhotometricInterpretation ${JSON.stringify(photometricInterpretation)} with ${samplesPerPixel} samples per pixel, which Fovea does not display.`,
    );
  }
  const expectedSamples = photometricInterpretation.startsWith('MONOCHROME') || photometricInterpretation === 'PALETTE COLOR' ? 1 : 3;
  if (samplesPerPixel !== expectedSamples) {
    throw badInput(
      `The DICOM image is ${photometricInterpretation} but declares ${samplesPerPixel} samples per pixel (expected ${expectedSamples}).`,
    );
  }
  const planar = parsed.numStrict('00280006') ?? 0;
  if (samplesPerPixel > 1 && planar !== 0 && planar !== 1) {
    throw badInput(`The DICOM image declares PlanarConfiguration = ${planar} (expected 0 or 1).`);
  }
  const nf = parsed.numStrict('00280008');
  if (nf !== undefined && (!Number.isInteger(nf) || nf < 0)) {
    throw badInput(`The DICOM image declares NumberOfFrames = ${nf}, which is not a valid frame count.`);
  }
  const numberOfFrames = nf === undefined || nf === 0 ? 1 : nf;

  // Geometry: the top level first, then the functional groups of enhanced objects.
  const measures = functionalGroupValue(parsed, '00289110', '00280030');
  let pixelSpacing: [number, number] | null = null;
  let pixelSpacingSource: DicomImageInfo['pixelSpacingSource'] = null;
  const ps = finiteNums(parsed, '00280030');
  const fgps = measures !== undefined ? finiteNums(measures, '00280030') : [];
  const ips = finiteNums(parsed, '00181164');
  if (ps.length >= 2 && (ps[0] ?? 0) > 0 && (ps[1] ?? 0) > 0) {
    pixelSpacing = [ps[0] ?? 0, ps[1] ?? 0];
    pixelSpacingSource = 'PixelSpacing';
  } else if (fgps.length >= 2 && (fgps[0] ?? 0) > 0 && (fgps[1] ?? 0) > 0) {
    pixelSpacing = [fgps[0] ?? 0, fgps[1] ?? 0];
    pixelSpacingSource = 'PixelSpacing';
  } else if (ips.length >= 2 && (ips[0] ?? 0) > 0 && (ips[1] ?? 0) > 0) {
    pixelSpacing = [ips[0] ?? 0, ips[1] ?? 0];
    pixelSpacingSource = 'ImagerPixelSpacing';
  }
  const thicknessSource = parsed.has('00180050') ? parsed : functionalGroupValue(parsed, '00289110', '00180050');
  const ippSource = parsed.has('00200032') ? parsed : functionalGroupValue(parsed, '00209113', '00200032');
  const iopSource = parsed.has('00200037') ? parsed : functionalGroupValue(parsed, '00209116', '00200037');
  const ipp = ippSource !== undefined ? finiteNums(ippSource, '00200032') : [];
  const iop = iopSource !== undefined ? finiteNums(iopSource, '00200037') : [];
  const imagePositionPatient: [number, number, number] | null =
    ipp.length >= 3 ? [ipp[0] ?? 0, ipp[1] ?? 0, ipp[2] ?? 0] : null;
  const imageOrientationPatient: DicomImageInfo['imageOrientationPatient'] =
    iop.length >= 6 ? [iop[0] ?? 0, iop[1] ?? 0, iop[2] ?? 0, iop[3] ?? 0, iop[4] ?? 0, iop[5] ?? 0] : null;
  let slicePosition: number | null = null;
  if (imagePositionPatient !== null && imageOrientationPatient !== null) {
    const [r0, r1, r2, c0, c1, c2] = imageOrientationPatient;
    const n = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0] as const;
    const norm = Math.hypot(n[0], n[1], n[2]);
    if (norm > 1e-6) {
      slicePosition = (imagePositionPatient[0] * n[0] + imagePositionPatient[1] * n[1] + imagePositionPatient[2] * n[2]) / norm;
    }
  }

  // Modality LUT: rescale at the top level, or in Pixel Value Transformation groups.
  const rescaleSource = parsed.has('00281053') ? parsed : functionalGroupValue(parsed, '00289145', '00281053');
  const slope = rescaleSource?.num('00281053');
  const intercept = rescaleSource?.num('00281052');
  const voiSource = parsed.has('00281050') ? parsed : functionalGroupValue(parsed, '00289132', '00281050') ?? parsed;
  const centers = finiteNums(voiSource, '00281050');
  const widths = finiteNums(voiSource, '00281051');
  const pairs = Math.min(centers.length, widths.length);

  const modalityLutItem = parsed.items('00283000')[0];
  const modalityLut = modalityLutItem !== undefined ? readLut(modalityLutItem, '00283002', '00283006', pixelRepresentation) : null;
  const voiLuts: DicomLut[] = [];
  for (const item of parsed.items('00283010')) {
    const lut = readLut(item, '00283002', '00283006', pixelRepresentation);
    if (lut !== null) voiLuts.push(lut);
  }
  let palette: DicomImageInfo['palette'] = null;
  if (photometricInterpretation === 'PALETTE COLOR') {
    const segmented = !parsed.has('00281201') && parsed.has('00281221');
    const red = segmented ? readSegmentedLut(parsed, '00281101', '00281221', 'red') : readLut(parsed, '00281101', '00281201', 0);
    const green = segmented ? readSegmentedLut(parsed, '00281102', '00281222', 'green') : readLut(parsed, '00281102', '00281202', 0);
    const blue = segmented ? readSegmentedLut(parsed, '00281103', '00281223', 'blue') : readLut(parsed, '00281103', '00281203', 0);
    if (red === null || green === null || blue === null) {
      throw badInput('The DICOM image is PALETTE COLOR but its red, green and blue palette tables are missing or empty.');
    }
    palette = { red, green, blue };
  }

  const yesNo = (tag: string): boolean | null => {
    const v = parsed.str(tag)?.toUpperCase();
    if (v === 'YES') return true;
    if (v === 'NO') return false;
    if (v === '01') return true; // LossyImageCompression uses 00/01
    if (v === '00') return false;
    return null;
  };

  let frameTime = parsed.num('00181063') ?? null;
  if (frameTime === null) {
    const vector = finiteNums(parsed, '00181065');
    if (vector.length > 1) frameTime = vector[1] ?? null;
    else if (parsed.num('00180040') !== undefined) frameTime = 1000 / (parsed.num('00180040') ?? 1);
  }

  return {
    sopClassUid: orNull(parsed.str('00080016') ?? parsed.str('00020002')),
    sopInstanceUid: orNull(parsed.str('00080018') ?? parsed.str('00020003')),
    seriesInstanceUid: orNull(parsed.str('0020000E')),
    studyInstanceUid: orNull(parsed.str('0020000D')),
    frameOfReferenceUid: orNull(parsed.str('00200052')),
    patientId: orNull(parsed.str('00100020')),
    patientName: orNull(parsed.str('00100010')),
    patientBirthDate: orNull(parsed.str('00100030')),
    patientSex: orNull(parsed.str('00100040')),
    studyDate: orNull(parsed.str('00080020')),
    studyTime: orNull(parsed.str('00080030')),
    studyDescription: orNull(parsed.str('00081030')),
    accessionNumber: orNull(parsed.str('00080050')),
    seriesDescription: orNull(parsed.str('0008103E')),
    seriesNumber: orNull(parsed.num('00200011')),
    modality: orNull(parsed.str('00080060')),
    bodyPartExamined: orNull(parsed.str('00180015')),
    instanceNumber: orNull(parsed.num('00200013')),
    acquisitionNumber: orNull(parsed.num('00200012')),
    imageType: parsed.strs('00080008'),
    rows,
    columns,
    numberOfFrames,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    photometricInterpretation,
    planarConfiguration: samplesPerPixel > 1 && planar === 1 ? 1 : 0,
    pixelDataKind,
    pixelDataByteLength: pixelElement.encapsulatedPixelData === true ? null : pixelElement.length,
    encapsulated: pixelElement.encapsulatedPixelData === true,
    pixelSpacing,
    pixelSpacingSource,
    sliceThickness: orNull(thicknessSource?.num('00180050')),
    spacingBetweenSlices: orNull(parsed.num('00180088')),
    imagePositionPatient,
    imageOrientationPatient,
    slicePosition,
    sliceLocation: orNull(parsed.num('00201041')),
    rescaleSlope: slope !== undefined && slope !== 0 ? slope : 1,
    rescaleIntercept: intercept ?? 0,
    rescaleType: orNull(rescaleSource?.str('00281054') ?? parsed.str('00281054')),
    windowCenter: centers.slice(0, pairs),
    windowWidth: widths.slice(0, pairs),
    windowExplanation: parsed.strs('00281055'),
    voiLutFunction: (voiSource.str('00281056') ?? 'LINEAR').toUpperCase(),
    modalityLut,
    voiLuts,
    palette,
    presentationLutShape: orNull(parsed.str('20500020')),
    burnedInAnnotation: yesNo('00280301'),
    lossyImageCompression: yesNo('00282110'),
    transferSyntaxUid: parsed.transferSyntaxUid,
    frameTime,
    recommendedDisplayFrameRate: orNull(parsed.num('00082144')),
    smallestPixelValue: orNull(parsed.num('00280106')),
    largestPixelValue: orNull(parsed.num('00280107')),
  };
}
