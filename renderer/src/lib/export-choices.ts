/**
 * What the export screen offers, from the contract's lists (no second copy):
 * every dataset export format with what it writes, the label formats that can
 * copy images, and the de-identification profile options. Plain data, so
 * Node tests read it as the screen does.
 */
import { DEID_PROFILE_FLAGS, type DeidProfileFlag } from '../../../electron/contract/deid-options';
import { EXPORT_START_FORMATS, LABEL_EXPORT_FORMATS, type ExportStartFormat } from '../../../electron/contract/export-formats';

export type ExportFormatChoice = ExportStartFormat;

/** What each format writes (a Record: a format added to the contract must be described here). */
const FORMAT_TEXT: Record<ExportFormatChoice, { label: string; note: string }> = {
  coco: { label: 'COCO JSON', note: 'boxes, polygons, RLE masks, image classes in annotations.json' },
  yolo: { label: 'YOLO', note: 'labels/*.txt with data.yaml (detect: boxes; segment: polygons, masks traced into polygons)' },
  voc: { label: 'Pascal VOC', note: 'one XML per image with boxes' },
  csv: { label: 'CSV', note: 'image classes: filename, label and one 0/1 column per class' },
  masks: { label: 'PNG masks', note: 'one label map per image (value = class index) and classes.json' },
  nifti: { label: 'NIfTI', note: 'segmentation volumes per DICOM series' },
  'dicom-seg': { label: 'DICOM SEG', note: 'segmentations referencing the source instances' },
  'dicom-deid': { label: 'De-identified DICOM', note: 'PS3.15 Annex E basic profile, with the options below; plain images without EXIF/XMP/GPS' },
  pytorch: {
    label: 'PyTorch training (train.py)',
    note: 'images as PNG, labels, the patient-grouped split, plan.json and a train.py for torchrun; its model.onnx comes back with Import model. Needs a new or empty folder.',
  },
};

/** The formats offered, in the contract's order, with what each writes. */
export const EXPORT_CHOICES: { id: ExportFormatChoice; label: string; note: string }[] = EXPORT_START_FORMATS.map((id) => ({ id, ...FORMAT_TEXT[id] }));

/** Formats that carry labels drawn on plain images, and so can copy those images along. */
export const WITH_IMAGES_FORMATS: readonly ExportFormatChoice[] = LABEL_EXPORT_FORMATS;

const DEID_TEXT: Record<DeidProfileFlag, { label: string; note: string }> = {
  retainPatientCharacteristics: { label: 'Retain patient characteristics', note: 'sex, age, size, weight, …' },
  retainDeviceIdentity: { label: 'Retain device identity', note: 'station name, serial numbers, …' },
  retainInstitutionIdentity: { label: 'Retain institution identity', note: 'institution name, address, department' },
  retainUids: { label: 'Retain UIDs', note: 'keep the original study, series and instance UIDs' },
  cleanDescriptors: { label: 'Clean descriptors', note: 'keep descriptions and comments, identifying values blanked' },
  cleanStructuredContent: { label: 'Clean structured content', note: 'keep SR content and acquisition context, cleaned' },
  cleanGraphics: { label: 'Clean graphics', note: 'keep graphic annotations, cleaned (overlays and curves go anyway)' },
};

/** The PS3.15 Annex E profile options offered for dicom-deid (all off: the basic profile). */
export const DEID_FLAGS: { id: DeidProfileFlag; label: string; note: string }[] = DEID_PROFILE_FLAGS.map((id) => ({ id, ...DEID_TEXT[id] }));
