/**
 * What the composition root hands to the services that work across several stores: each service
 * names the parts it needs as `Pick<CoreParts, ...>` (VS Code's constructors list their
 * dependencies), so no service imports the root or sees the whole container. The root's `Core`
 * implements this interface; tests may pass any object with the picked parts.
 */
import type { LibraryStatus, ImportReport } from '../contract/domain';
import type { MlEngine } from '../contract/ml';
import type { EventHub } from './events';
import type { ImportRequest } from './import/import-engine';
import type { LabelImportReport } from './import/label-importer';
import type { JobRunner } from './jobs/job-runner';
import type { LabelFormat, ParseLabelOptions } from './labels';
import type { AnnotationStore } from './store/annotation-store';
import type { AuditLog } from './store/audit-log';
import type { BlobStore } from './store/blob-store';
import type { DatasetStore } from './store/dataset-store';
import type { Db } from './store/library-db';
import type { RunStore } from './store/run-store';
import type { SplitService } from './training/splits';
import type { TrainingService } from './training/training-service';

export interface CoreParts {
  readonly db: Db;
  readonly library: LibraryStatus;
  readonly events: EventHub;
  readonly jobs: JobRunner;
  readonly audit: AuditLog;
  readonly datasets: DatasetStore;
  readonly annotations: AnnotationStore;
  readonly blobs: BlobStore;
  readonly ml: MlEngine;
  readonly runs: RunStore;
  readonly splits: SplitService;
  readonly training: TrainingService;
  /** Run an import to completion (read-only refused). */
  importFiles(req: ImportRequest): Promise<ImportReport>;
  /** Read a label file made by another tool and apply it (read-only refused). */
  importLabels(datasetId: number, path: string, format: LabelFormat, author: string, options?: ParseLabelOptions): Promise<LabelImportReport>;
}
