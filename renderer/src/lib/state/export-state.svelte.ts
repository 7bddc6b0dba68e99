/**
 * State of the export screen: what to export where, the running job's progress, and the result.
 * Only this class talks to the api.
 */
import type { RequestInput } from '../../../../electron/contract/api';
import type { DatasetExportResult } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { on, request } from '../api';

export type ExportFormatChoice = RequestInput<'export.start'>['format'];

/** The formats offered, with what each writes. */
export const EXPORT_CHOICES: { id: ExportFormatChoice; label: string; note: string }[] = [
  { id: 'coco', label: 'COCO JSON', note: 'boxes, polygons, RLE masks, image classes in annotations.json' },
  { id: 'yolo', label: 'YOLO', note: 'labels/*.txt with data.yaml (detect: boxes, segment: polygons)' },
  { id: 'voc', label: 'Pascal VOC', note: 'one XML per image with boxes' },
  { id: 'csv', label: 'CSV', note: 'image classes: filename, label and one 0/1 column per class' },
  { id: 'masks', label: 'PNG masks', note: 'one label map per image (value = class index) and classes.json' },
  { id: 'nifti', label: 'NIfTI', note: 'segmentation volumes per DICOM series' },
  { id: 'dicom-seg', label: 'DICOM SEG', note: 'segmentations referencing the source instances' },
  { id: 'dicom-deid', label: 'De-identified DICOM', note: 'PS3.15 Annex E basic profile' },
];

export class ExportState {
  datasetId = $state<number | null>(null);
  format = $state<ExportFormatChoice>('coco');
  outDir = $state('');
  split = $state<'' | 'train' | 'val' | 'test'>('');
  overwrite = $state(false);
  withImages = $state(false);
  yoloTask = $state<'detect' | 'segment'>('detect');
  jobId = $state<string | null>(null);
  done = $state(0);
  total = $state(0);
  result = $state.raw<DatasetExportResult | null>(null);
  error = $state<FoveaError | null>(null);
  cancelling = $state(false);

  readonly running = $derived(this.jobId !== null);
  readonly fraction = $derived(this.total > 0 ? this.done / this.total : 0);

  #off: (() => void)[] = [];

  start(): void {
    this.#off.push(
      on('export.progress', (p) => {
        if (p.jobId !== this.jobId) return;
        this.done = p.done;
        this.total = p.total;
      }),
      on('export.finished', (f) => {
        if (f.jobId !== this.jobId) return;
        this.jobId = null;
        this.cancelling = false;
        this.result = f.result;
        this.error = f.error;
      }),
    );
  }

  async run(): Promise<void> {
    if (this.datasetId === null) return;
    this.error = null;
    this.result = null;
    this.done = 0;
    this.total = 0;
    const res = await request('export.start', {
      datasetId: this.datasetId,
      format: this.format,
      outDir: this.outDir.trim(),
      ...(this.split ? { split: this.split } : {}),
      ...(this.overwrite ? { overwrite: true } : {}),
      ...(this.withImages ? { withImages: true } : {}),
      ...(this.format === 'yolo' ? { yoloTask: this.yoloTask } : {}),
    });
    if (!res.ok) {
      this.error = res.error;
      return;
    }
    this.jobId = res.value.jobId;
  }

  async cancel(): Promise<void> {
    if (!this.jobId) return;
    this.cancelling = true;
    await request('jobs.cancel', { jobId: this.jobId });
  }

  dispose(): void {
    for (const off of this.#off) off();
    this.#off = [];
  }
}
