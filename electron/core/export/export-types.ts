/**
 * What every label/image export format receives and returns. One handler per format
 * (coco, yolo, voc, csv, masks, nifti, dicom-seg, dicom-deid), dispatched by label-export.ts.
 * Every file is written through the job's ExportWriter (confined, atomic, hashed).
 */
import type { DatasetExportFormat } from '../../contract/export-formats';
import type { AnnotationStore } from '../store/annotation-store';
import type { BlobStore } from '../store/blob-store';
import type { DatasetStore } from '../store/dataset-store';
import type { Db } from '../store/library-db';
import type { ExportWriter } from './safe-output';


export interface ExportSources {
  db: Db;
  blobs: BlobStore;
  annotations: AnnotationStore;
  datasets: DatasetStore;
}

export interface ExportJob {
  sources: ExportSources;
  datasetId: number;
  /** Only items in this split (train/val/test) when set. */
  split?: 'train' | 'val' | 'test';
  writer: ExportWriter;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Format-specific options (validated by the format). */
  options: Record<string, unknown>;
}

export interface ExportFormatResult {
  format: DatasetExportFormat;
  items: number;
  annotations: number;
  /** Things a person should know (annotation kinds the format cannot hold, ...). */
  warnings: string[];
  /** Items deliberately not exported (e.g. possible burned-in text awaiting confirmation), with why. */
  heldBack: { itemId: number; reason: string }[];
}

export type ExportFormatHandler = (job: ExportJob) => Promise<ExportFormatResult>;
