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

export interface SampleLibraryReport {
  datasets: { name: string; id: number; items: number; annotations: number }[];
  seconds: number;
}

/** What making the sample library needs from the core. */
export type SampleLibraryCore = Pick<CoreParts, 'db' | 'datasets' | 'annotations' | 'audit' | 'importFiles' | 'importLabels'>;

export async function createSampleLibrary(
  core: SampleLibraryCore,
  options: { size?: SampleDataSize; signal?: AbortSignal; onProgress?: (phase: string, p: ImportProgress | null) => void } = {},
): Promise<SampleLibraryReport> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'fovea-samples-'));
  const author = 'Fovea sample generator';
  try {
    options.onProgress?.('Generating synthetic CT studies and road scenes', null);
    const manifest = await writeSampleData(work, { size: options.size ?? 'demo' });
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
    options.onProgress?.('Importing the CT series', null);
    await core.importFiles({
      datasetId: ct.id,
      paths: [ctDir],
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => options.onProgress?.('Importing the CT series', p),
    });
    await core.importLabels(ct.id, masksDir, 'masks', author, { classes: ['background', 'lesion'] });
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
    options.onProgress?.('Importing the road scenes', null);
    await core.importFiles({
      datasetId: road.id,
      paths: [join(work, manifest.roadDir, 'images')],
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => options.onProgress?.('Importing the road scenes', p),
    });
    await core.importLabels(road.id, join(work, manifest.roadDir, 'annotations.coco.json'), 'coco', author, { cocoGeometry: 'box' });

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
