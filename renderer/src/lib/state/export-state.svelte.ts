/**
 * State of the export screen: what to export where, the running job's progress, and the result.
 * Only this class talks to the api.
 */
import type { RequestInput } from '../../../../electron/contract/api';
import type { DatasetExportResult } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { request } from '../api';
import { JobState } from './job-state.svelte';

export type ExportFormatChoice = RequestInput<'export.start'>['format'];
export type DeidOptions = NonNullable<RequestInput<'export.start'>['deid']>;

/** The PS3.15 Annex E profile options offered for dicom-deid (all off: the basic profile). */
export const DEID_FLAGS: { id: Exclude<keyof DeidOptions, 'retainLongitudinalDates' | 'pseudonymPrefix' | 'confirmBurnedIn'>; label: string; note: string }[] = [
  { id: 'retainPatientCharacteristics', label: 'Retain patient characteristics', note: 'sex, age, size, weight, …' },
  { id: 'retainDeviceIdentity', label: 'Retain device identity', note: 'station name, serial numbers, …' },
  { id: 'retainInstitutionIdentity', label: 'Retain institution identity', note: 'institution name, address, department' },
  { id: 'retainUids', label: 'Retain UIDs', note: 'keep the original study, series and instance UIDs' },
  { id: 'cleanDescriptors', label: 'Clean descriptors', note: 'keep descriptions and comments, identifying values blanked' },
  { id: 'cleanStructuredContent', label: 'Clean structured content', note: 'keep SR content and acquisition context, cleaned' },
  { id: 'cleanGraphics', label: 'Clean graphics', note: 'keep graphic annotations, cleaned (overlays and curves go anyway)' },
];

/** Formats that carry labels drawn on plain images, and so can copy those images along. */
export const WITH_IMAGES_FORMATS: readonly ExportFormatChoice[] = ['coco', 'yolo', 'voc', 'csv', 'masks'];

/** The formats offered, with what each writes. */
export const EXPORT_CHOICES: { id: ExportFormatChoice; label: string; note: string }[] = [
  { id: 'coco', label: 'COCO JSON', note: 'boxes, polygons, RLE masks, image classes in annotations.json' },
  { id: 'yolo', label: 'YOLO', note: 'labels/*.txt with data.yaml (detect: boxes; segment: polygons, masks traced into polygons)' },
  { id: 'voc', label: 'Pascal VOC', note: 'one XML per image with boxes' },
  { id: 'csv', label: 'CSV', note: 'image classes: filename, label and one 0/1 column per class' },
  { id: 'masks', label: 'PNG masks', note: 'one label map per image (value = class index) and classes.json' },
  { id: 'nifti', label: 'NIfTI', note: 'segmentation volumes per DICOM series' },
  { id: 'dicom-seg', label: 'DICOM SEG', note: 'segmentations referencing the source instances' },
  { id: 'dicom-deid', label: 'De-identified DICOM', note: 'PS3.15 Annex E basic profile, with the options below; plain images without EXIF/XMP/GPS' },
];

export class ExportState {
  datasetId = $state<number | null>(null);
  format = $state<ExportFormatChoice>('coco');
  outDir = $state('');
  split = $state<'' | 'train' | 'val' | 'test'>('');
  overwrite = $state(false);
  withImages = $state(false);
  yoloTask = $state<'detect' | 'segment'>('detect');
  retainLongitudinalDates = $state<'none' | 'full' | 'modified'>('none');
  deidFlags = $state<Record<(typeof DEID_FLAGS)[number]['id'], boolean>>(Object.fromEntries(DEID_FLAGS.map((f) => [f.id, false])) as Record<(typeof DEID_FLAGS)[number]['id'], boolean>);
  pseudonymPrefix = $state('ANON-');
  /** dicom-deid: export files that may show burned-in text too (audited). */
  confirmBurnedIn = $state(false);
  /** The export job this screen started, or found running when it opened. */
  readonly job = new JobState('export');
  done = $state(0);
  total = $state(0);
  result = $state.raw<DatasetExportResult | null>(null);
  error = $state<FoveaError | null>(null);

  readonly running = $derived(this.job.running);
  readonly cancelling = $derived(this.job.cancelling);
  readonly fraction = $derived(this.total > 0 ? this.done / this.total : 0);
  /** The format and folder of the export whose result is shown (for "Confirm and export them"). */
  shown = $state.raw<{ format: ExportFormatChoice; outDir: string; confirmBurnedIn: boolean } | null>(null);

  start(): void {
    this.job
      .on('export.progress', (p) => {
        this.done = p.done;
        this.total = p.total;
      })
      .on('export.finished', (f) => {
        this.result = f.result;
        this.error = f.error;
      })
      .connect();
    void this.job.attach();
  }

  async run(): Promise<void> {
    const datasetId = this.datasetId;
    if (datasetId === null) return;
    this.error = null;
    this.result = null;
    this.done = 0;
    this.total = 0;
    const outDir = this.outDir.trim();
    const res = await this.job.start(() => request('export.start', {
      datasetId,
      format: this.format,
      outDir,
      ...(this.split ? { split: this.split } : {}),
      ...(this.overwrite ? { overwrite: true } : {}),
      ...(this.withImages && WITH_IMAGES_FORMATS.includes(this.format) ? { withImages: true } : {}),
      ...(this.format === 'yolo' ? { yoloTask: this.yoloTask } : {}),
      ...(this.format === 'dicom-deid' ? { deid: this.deidOptions() } : {}),
    }));
    if (!res.ok) {
      this.error = res.error;
      return;
    }
    this.shown = { format: this.format, outDir, confirmBurnedIn: this.format === 'dicom-deid' && this.confirmBurnedIn };
  }

  /** The profile options as the request takes them: only what differs from the basic profile. */
  deidOptions(): DeidOptions {
    const o: DeidOptions = {};
    if (this.retainLongitudinalDates !== 'none') o.retainLongitudinalDates = this.retainLongitudinalDates;
    for (const f of DEID_FLAGS) if (this.deidFlags[f.id]) o[f.id] = true;
    const prefix = this.pseudonymPrefix.trim();
    if (prefix && prefix !== 'ANON-') o.pseudonymPrefix = prefix;
    if (this.confirmBurnedIn) o.confirmBurnedIn = true;
    return o;
  }

  /**
   * The shown de-identified export held items back: export everything again, with them, into a
   * new folder beside the first (new identifiers differ from one export to the next, so the two
   * must not mix). The confirmation is recorded in the audit log by the export.
   */
  async confirmHeldBack(): Promise<void> {
    if (!this.shown || this.shown.format !== 'dicom-deid') return;
    this.format = 'dicom-deid';
    this.confirmBurnedIn = true;
    this.outDir = this.heldBackFolder();
    await this.run();
  }

  /** Where "Confirm and export them" writes: beside the shown export's folder. */
  heldBackFolder(): string {
    return `${(this.shown?.outDir ?? this.outDir).replace(/[\\/]+$/u, '')}-with-burned-in`;
  }

  async cancel(): Promise<void> {
    await this.job.cancel();
  }

  dispose(): void {
    this.job.dispose();
  }
}
