/**
 * The region labels of a dataset's DICOM series, gathered for the volumetric formats
 * (NIfTI label volumes, DICOM SEG): active mask and polygon annotations on DICOM items that
 * belong to a series, grouped per series, each rasterised to a row-major 0/1 mask of its frame.
 *
 * Series are numbered 1, 2, ... in the order of their library id: output names derive from
 * that number (series-<n>), never from patient names, UIDs or source paths.
 */
import { FoveaException } from '../../contract/result';
import { decodeRle, polygonToRle, rleProblem } from '../labels/rle';
import type { CocoRle } from '../labels';
import { listClasses } from '../store/classes-repo';
import { countDicomNonRegionLabels, listVolumeRegions } from '../store/export-repo';
import { listSeriesIds } from '../store/series-repo';
import type { ExportJob } from './export-types';

export interface VolumeClass {
  classId: number;
  name: string;
  color: string;
  /** The voxel value in label volumes and the segment number in SEG: 1, 2, ... */
  value: number;
}

export interface RegionAnnotation {
  id: number;
  itemId: number;
  /** 0-based frame; 0 for single-frame instances (stored as NULL). */
  frameIndex: number;
  classId: number;
  kind: 'mask' | 'polygon';
  geometry: unknown;
  source: 'human' | 'model' | 'imported';
}

export interface SeriesRegions {
  seriesId: number;
  /** 1-based, stable within an export: the n of series-<n>. */
  ordinal: number;
  annotations: RegionAnnotation[];
}

export interface DatasetRegions {
  series: SeriesRegions[];
  /** Classes that have at least one exported region, in the dataset's class order. */
  classes: VolumeClass[];
  warnings: string[];
}

/** Collects the dataset's (or split's) mask and polygon labels on DICOM series. */
export function collectSeriesRegions(job: ExportJob): DatasetRegions {
  const db = job.sources.db;
  const rows = listVolumeRegions(db, job.datasetId, job.split);
  const warnings: string[] = [];
  const other = countDicomNonRegionLabels(db, job.datasetId, job.split);
  for (const o of other) warnings.push(`${o.n} ${o.kind === 'box' ? 'box' : 'class'} label(s) on DICOM images are not regions and are not in label volumes.`);
  const polygons = rows.filter((r) => r.kind === 'polygon').length;
  if (polygons > 0) warnings.push(`${polygons} polygon(s) were filled into the label volumes as masks.`);

  const bySeries = new Map<number, RegionAnnotation[]>();
  for (const r of rows) {
    let geometry: unknown;
    try {
      geometry = r.geometry == null ? null : JSON.parse(r.geometry);
    } catch {
      warnings.push(`Annotation ${r.id} has unreadable geometry; skipped.`);
      continue;
    }
    const list = bySeries.get(r.seriesId) ?? [];
    list.push({ id: r.id, itemId: r.itemId, frameIndex: r.frameIndex ?? 0, classId: r.classId, kind: r.kind, geometry, source: r.source });
    bySeries.set(r.seriesId, list);
  }
  // Number every DICOM series of the dataset, labelled or not, so that series-<n> stays the same
  // whichever split or subset is exported.
  const allSeries = listSeriesIds(db, job.datasetId);
  const series: SeriesRegions[] = [];
  allSeries.forEach((id, i) => {
    const annotations = bySeries.get(id);
    if (annotations) series.push({ seriesId: id, ordinal: i + 1, annotations });
  });
  const used = new Set(rows.map((r) => r.classId));
  const classes = listClasses(db, job.datasetId)
    .filter((c) => used.has(c.id))
    .map((c, i) => ({ classId: c.id, name: c.name, color: c.color, value: i + 1 }));
  if (classes.length > 65535) throw new FoveaException('TOO_LARGE', `${classes.length} classes do not fit in a 16-bit label volume.`);
  return { series, classes, warnings };
}

/**
 * The annotation as a row-major rows x columns 0/1 mask, or a reason why it cannot be (a mask
 * made for another image size, a broken RLE).
 */
export function rasterizeRegion(a: RegionAnnotation, rows: number, columns: number): Uint8Array | string {
  const g = a.geometry as { rle?: CocoRle; points?: [number, number][] } | null;
  if (a.kind === 'mask') {
    const rle = g?.rle;
    if (!rle || !Array.isArray(rle.size) || !Array.isArray(rle.counts)) return 'its mask has no RLE';
    const problem = rleProblem(rle);
    if (problem) return `its mask is broken (${problem})`;
    if (rle.size[0] !== rows || rle.size[1] !== columns) return `its mask is ${rle.size[1]}x${rle.size[0]} but the image is ${columns}x${rows}`;
    return decodeRle(rle);
  }
  const points = g?.points;
  if (!Array.isArray(points) || points.length < 3) return 'its polygon has fewer than 3 points';
  return decodeRle(polygonToRle(points, rows, columns));
}

/** Ends an export between series when the caller cancelled it. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FoveaException('CANCELLED', 'The export was cancelled; files already written are listed in the manifest.');
}
