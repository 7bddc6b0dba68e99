/**
 * What the import engine needs from the DICOM module: recognise a DICOM
 * file, and turn one into an item (indexed attributes, hierarchy, thumbnail)
 * after decoding its first frame with the same decoder that serves display
 * and training, so that a file which cannot be shown is refused at import.
 */
import { FoveaException } from '../../contract/result';
import { classifyDicom } from '../dicom/classify-dicom';
import { decodeFrame, decodeFrameSync, type DecodedFrame } from '../dicom/decode-frame';
import { readDicomDir } from '../dicom/dicomdir';
import { toDisplay } from '../dicom/display';
import { readImageInfo } from '../dicom/image-info';
import { parseDicom, sniffEncoding } from '../dicom/parse-dicom';
import { checkDeclaredSize } from '../dicom/size-limits';
import { THUMB_SIZE } from './plain-image';
import { thumbnailJpeg } from './thumbnail';
import type { DicomSupport } from './import-engine';
import { isPart10, type PreparedDicom } from './prepare-file';

function looksLikeDicom(bytes: Uint8Array): boolean {
  if (isPart10(bytes)) return true;
  // Raw data sets (no preamble, no file meta) start with a group 0x0002..0x0008 element.
  return bytes.length >= 8 && sniffEncoding(bytes, 0) !== undefined;
}

/**
 * The frame, subsampled by an integer step so that its longer side is still at least the
 * thumbnail size (the thumbnail fits inside THUMB_SIZE x THUMB_SIZE): the display pipeline
 * (LUTs, palette, YBR) and the area averaging to the thumbnail then run on a quarter of the
 * pixels of a 512x512 slice or a 640x480 ultrasound. Subsampling before a per-pixel LUT
 * equals subsampling after it.
 */
function thumbnailSource(frame: DecodedFrame): DecodedFrame {
  const step = Math.floor(Math.max(frame.rows, frame.columns) / THUMB_SIZE);
  if (step < 2) return frame;
  const rows = Math.floor(frame.rows / step);
  const columns = Math.floor(frame.columns / step);
  const spp = frame.samplesPerPixel;
  const Ctor = frame.data.constructor as new (n: number) => typeof frame.data;
  const out = new Ctor(rows * columns * spp);
  for (let r = 0; r < rows; r++) {
    const src = r * step * frame.columns;
    for (let c = 0; c < columns; c++) {
      const si = (src + c * step) * spp;
      const di = (r * columns + c) * spp;
      for (let k = 0; k < spp; k++) out[di + k] = frame.data[si + k] as number;
    }
  }
  return { ...frame, rows, columns, data: out };
}

async function prepare(bytes: Uint8Array): Promise<PreparedDicom> {
  const parsed = parseDicom(bytes);
  const cls = classifyDicom(parsed);
  if (cls.kind === 'skip') return cls;
  const info = readImageInfo(parsed);
  if (!info) return { kind: 'skip', reason: 'no pixel data: not an image' };
  // The parser recovers what it can from a file that ends early (the viewer can show it);
  // the library does not take it in: pydicom and dcmtk refuse such files too, and the
  // missing end may be missing data. The user gets the reason and can re-export the file.
  if (parsed.truncated) {
    const why = parsed.warnings.join('; ') || 'the file ends early';
    throw new FoveaException('BAD_INPUT', `The DICOM file is truncated (${why}); re-export it from its source.`);
  }
  checkDeclaredSize(info, bytes.length);
  const frame = await decodeFrame(parsed, 0, { info });
  // Every frame is decoded once at import: a file with a broken frame is refused now,
  // with a reason, rather than failing later in the viewer or in training.
  for (let f = 1; f < info.numberOfFrames; f++) decodeFrameSync(parsed, f, { info });
  const thumbnail = thumbnailJpeg(toDisplay(thumbnailSource(frame), info));
  const studyUid = info.studyInstanceUid ?? `no-study-uid:${info.seriesInstanceUid ?? info.sopInstanceUid ?? 'unknown'}`;
  return {
    kind: 'image',
    thumbnail,
    hierarchy: {
      // Files without PatientID are grouped per study rather than merged into one anonymous patient.
      patientKey: info.patientId?.trim() || `(no Patient ID) ${studyUid}`,
      patientName: info.patientName,
      birthDate: info.patientBirthDate,
      sex: info.patientSex,
      studyUid,
      studyDate: info.studyDate,
      studyTime: info.studyTime,
      studyDescription: info.studyDescription,
      accessionNumber: info.accessionNumber,
      seriesUid: info.seriesInstanceUid ?? `no-series-uid:${info.sopInstanceUid ?? studyUid}`,
      modality: info.modality,
      bodyPart: info.bodyPartExamined,
      seriesDescription: info.seriesDescription,
      seriesNumber: info.seriesNumber,
    },
    item: {
      sopInstanceUid: info.sopInstanceUid,
      sopClassUid: info.sopClassUid,
      modality: info.modality,
      rows: info.rows,
      columns: info.columns,
      frames: info.numberOfFrames,
      samplesPerPixel: info.samplesPerPixel,
      photometric: info.photometricInterpretation,
      transferSyntax: info.transferSyntaxUid,
      pixelSpacingRow: info.pixelSpacing?.[0] ?? null,
      pixelSpacingCol: info.pixelSpacing?.[1] ?? null,
      instanceNumber: info.instanceNumber,
      slicePosition: info.slicePosition,
    },
  };
}

export function createDicomSupport(): DicomSupport {
  return { looksLikeDicom, prepare, readDicomDir };
}
