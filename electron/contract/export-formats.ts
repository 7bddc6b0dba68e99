/**
 * The export formats, each list defined once: the request schema, the core's
 * dispatcher, the CLI's help and checks, the IT policy and the renderer's
 * choices all read these.
 */

/** Label and image formats written from a dataset ('export.start', `fovea export`). */
export const DATASET_EXPORT_FORMATS = ['coco', 'yolo', 'voc', 'csv', 'masks', 'nifti', 'dicom-seg', 'dicom-deid'] as const;
export type DatasetExportFormat = (typeof DATASET_EXPORT_FORMATS)[number];

/**
 * The 2-D label formats: they take the `labels` choice and can copy plain
 * images along (`withImages`).
 */
export const LABEL_EXPORT_FORMATS = ['coco', 'yolo', 'voc', 'csv', 'masks'] as const satisfies readonly DatasetExportFormat[];
export type LabelExportFormat = (typeof LABEL_EXPORT_FORMATS)[number];

/** Training hand-offs to another engine ('export.start', `fovea export-training --target`). */
export const TRAINING_EXPORT_TARGETS = ['pytorch'] as const;
export type TrainingExportTarget = (typeof TRAINING_EXPORT_TARGETS)[number];

/** What 'export.start' and the Export screen offer: the dataset formats and the training hand-offs. */
export const EXPORT_START_FORMATS = [...DATASET_EXPORT_FORMATS, ...TRAINING_EXPORT_TARGETS] as const;
export type ExportStartFormat = (typeof EXPORT_START_FORMATS)[number];

/** A trained model's formats ('models.export', `fovea export-model`). */
export const MODEL_EXPORT_FORMATS = ['tfjs', 'onnx'] as const;
export type ModelExportFormat = (typeof MODEL_EXPORT_FORMATS)[number];

/** Every export Fovea can make, as the IT policy's allowedExportFormats names them ('report': a run's report). */
export const EXPORT_FORMATS = [...DATASET_EXPORT_FORMATS, ...TRAINING_EXPORT_TARGETS, ...MODEL_EXPORT_FORMATS, 'report', 'measurements'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A dataset's kept measurements ('measurements.export', `fovea measurements`); the policy names both 'measurements'. */
export const MEASUREMENT_EXPORT_FORMATS = ['csv', 'json'] as const;
export type MeasurementExportFormat = (typeof MEASUREMENT_EXPORT_FORMATS)[number];

/** Which annotations a label format takes: people's labels (default), a model's unreviewed proposals, or both. */
export const EXPORT_LABELS = ['human', 'proposals', 'all'] as const;
export type ExportLabels = (typeof EXPORT_LABELS)[number];

export function isDatasetExportFormat(x: unknown): x is DatasetExportFormat {
  return typeof x === 'string' && (DATASET_EXPORT_FORMATS as readonly string[]).includes(x);
}

export function isLabelExportFormat(x: unknown): x is LabelExportFormat {
  return typeof x === 'string' && (LABEL_EXPORT_FORMATS as readonly string[]).includes(x);
}
