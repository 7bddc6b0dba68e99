/**
 * Fovea's DICOM module: parsing, classification, image attributes, pixel
 * decoding for every transfer syntax Fovea supports, display mapping,
 * attribute dumps and DICOMDIR reading. Node only (no DOM, no network).
 */
export { parseDicom, ParsedDicom, sniffEncoding, MAX_SEQUENCE_DEPTH, DEFAULT_MAX_PIXEL_BYTES } from './parse-dicom';
export type { ParseDicomOptions } from './parse-dicom';
export { DicomView } from './dicom-view';
export type { TagInput } from './dicom-view';
export { classifyDicom } from './classify-dicom';
export type { DicomClassification } from './classify-dicom';
export { readImageInfo } from './image-info';
export type { DicomImageInfo, DicomLut } from './image-info';
export { checkDeclaredSize, DEFAULT_PIXEL_LIMITS } from './size-limits';
export type { DeclaredSize, PixelLimits } from './size-limits';
export { decodeFrame, decodeFrameSync, prepareCodecs, pixelDtype } from './decode-frame';
export type { DecodedFrame, DecodeFrameOptions, PixelArray, PixelDtype } from './decode-frame';
export { toDisplay, modalityValues, linearVoi, linearExactVoi, sigmoidVoi } from './display';
export type { DisplayImage, DisplayWindow, ToDisplayOptions } from './display';
export { inspectDicom } from './inspect-dicom';
export type { InspectedAttribute, InspectedDataSet } from './inspect-dicom';
export { toTagRows } from './tag-rows';
export { readDicomDir } from './dicomdir';
export { transferSyntaxInfo, transferSyntaxName } from './transfer-syntax';
export type { TransferSyntaxInfo } from './transfer-syntax';
export { SOP_CLASSES } from './sop-classes';
