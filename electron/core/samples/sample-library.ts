/**
 * "Open sample library" / `fovea demo`: generates Fovea's own synthetic data
 * into a temporary folder and imports it through the same engine users use,
 * so a newcomer can walk the whole loop (browse, label, train, evaluate,
 * export) minutes after `npm start`:
 *   - "Sample CT (synthetic)": one axial CT series per patient (Part-10 DICOM),
 *     lesion masks per slice, and a series-level lesion/normal class;
 *   - "Sample road scenes (synthetic)": road-like scenes with car, pedestrian
 *     and sign boxes.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ImportProgress } from '../../contract/domain';
import type { CoreParts } from '../core-parts';
import { seriesHasClassLabel } from '../store/annotations-repo';
import { findSeriesByUid } from '../store/series-repo';
import { writeSampleData, type SampleDataSize } from './index';

export const SAMPLE_CT_DATASET = 'Sample CT (synthetic)';
export const SAMPLE_ROAD_DATASET = 'Sample road scenes (synthetic)';

/**
 * The phases of making the sample library, in order, with their share of the time (measured on
 * 'demo' on a 2-core machine: generating the road scenes and importing them take most of it). The
 * bar moves with the work inside each phase (slices, scenes, files), so it never stands still for
 * long, and it only goes forward.
 */
export const SAMPLE_PHASES = [
  { id: 'ct', label: 'Generating synthetic CT studies', weight: 15 },
  { id: 'road', label: 'Generating road scenes', weight: 30 },
  { id: 'ct-import', label: 'Importing the CT series', weight: 15 },
  { id: 'ct-masks', label: 'Reading the CT lesion masks', weight: 2 },
  { id: 'road-import', label: 'Importing the road scenes', weight: 36 },
  { id: 'road-boxes', label: 'Reading the road boxes', weight: 2 },
] as const;

export type SamplePhaseId = (typeof SAMPLE_PHASES)[number]['id'];

/** One step of the sample library: the phase, its own progress when it has one, and the whole. */
export interface SampleLibraryStep {
  phase: string;
  /** 0..1 over the whole library, weighted by phase; never goes back. */
  fraction: number;
  progress: ImportProgress | null;
  /** True for the first step of a phase. */
  phaseStart: boolean;
}

const TOTAL_WEIGHT = SAMPLE_PHASES.reduce((n, p) => n + p.weight, 0);

function stepReporter(onProgress: ((s: SampleLibraryStep) => void) | undefined): (id: SamplePhaseId, done: number, total: number, progress?: ImportProgress | null) => void {
  let current: SamplePhaseId | null = null;
  let best = 0;
  return (id, done, total, progress = null) => {
    if (!onProgress) return;
    const index = SAMPLE_PHASES.findIndex((p) => p.id === id);
    const phase = SAMPLE_PHASES[index] ?? SAMPLE_PHASES[0];
    const before = SAMPLE_PHASES.slice(0, index).reduce((n, p) => n + p.weight, 0);
    const within = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    best = Math.max(best, (before + within * phase.weight) / TOTAL_WEIGHT);
    const phaseStart = current !== id;
    current = id;
    onProgress({ phase: phase.label, fraction: best, progress, phaseStart });
  };
}

export interface SampleLibraryReport {
  datasets: { name: string; id: number; items: number; annotations: number }[];
  seconds: number;
}

/** What making the sample library needs from the core. */
export type SampleLibraryCore = Pick<CoreParts, 'db' | 'datasets' | 'annotations' | 'audit' | 'importFiles' | 'importLabels'>;

export async function createSampleLibrary(
  core: SampleLibraryCore,
  options: { size?: SampleDataSize; signal?: AbortSignal; onProgress?: (step: SampleLibraryStep) => void } = {},
): Promise<SampleLibraryReport> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'fovea-samples-'));
  const author = 'Fovea sample generator';
  try {
    const step = stepReporter(options.onProgress);
    step('ct', 0, 1);
    const manifest = await writeSampleData(work, { size: options.size ?? 'demo', onProgress: (part, done, total) => step(part, done, total) });
    // Move each series' masks out of the folder that is imported as images, keeping their
    // relative layout so that masks match their slices by folder and file stem.
    const ctDir = join(work, manifest.ctDir);
    const masksDir = join(work, 'ct-masks');
    for (const p of manifest.ct.patients) {
      // series.dir is relative to the CT folder.
      const from = join(ctDir, p.series.dir, 'masks');
      const to = join(masksDir, p.series.dir, 'masks');
      mkdirSync(dirname(to), { recursive: true });
      renameSync(from, to);
    }

    const ct = core.datasets.findByName(SAMPLE_CT_DATASET) ?? core.datasets.create(SAMPLE_CT_DATASET, 'Synthetic chest CT with round lesions: segmentation masks and a series-level lesion/normal class.');
    step('ct-import', 0, 1);
    await core.importFiles({
      datasetId: ct.id,
      paths: [ctDir],
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => step('ct-import', p.filesDone, p.filesTotal, p),
    });
    step('ct-masks', 0, 1);
    await core.importLabels(ct.id, masksDir, 'masks', author, { classes: ['background', 'lesion'], onProgress: (done, total) => step('ct-masks', done, total) });
    // Series-level classification from the generator's manifest.
    const lesionClass = core.annotations.ensureClass(ct.id, 'lesion present');
    const normalClass = core.annotations.ensureClass(ct.id, 'normal');

    for (const p of manifest.ct.patients) {
      const seriesId = findSeriesByUid(core.db, ct.id, p.series.seriesInstanceUid);
      if (seriesId === undefined || seriesHasClassLabel(core.db, seriesId)) continue;
      core.annotations.create({
        datasetId: ct.id,
        seriesId,
        classId: p.label === 'lesion' ? lesionClass : normalClass,
        kind: 'class',
        geometry: null,
        source: 'imported',
        author,
      });
    }

    const road = core.datasets.findByName(SAMPLE_ROAD_DATASET) ?? core.datasets.create(SAMPLE_ROAD_DATASET, 'Synthetic road scenes: car, pedestrian and sign boxes.');
    step('road-import', 0, 1);
    await core.importFiles({
      datasetId: road.id,
      paths: [join(work, manifest.roadDir, 'images')],
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => step('road-import', p.filesDone, p.filesTotal, p),
    });
    step('road-boxes', 0, 1);
    await core.importLabels(road.id, join(work, manifest.roadDir, 'annotations.coco.json'), 'coco', author, { cocoGeometry: 'box' });

    step('road-boxes', 1, 1);
    core.audit.append({ action: 'samples.create', objectType: 'dataset', objectId: `${ct.id},${road.id}`, actor: author });
    const datasets = [core.datasets.get(ct.id), core.datasets.get(road.id)].map((d) => ({
      name: d.name,
      id: d.id,
      items: d.counts.items,
      annotations: d.counts.annotations,
    }));
    return { datasets, seconds: (performance.now() - started) / 1000 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
