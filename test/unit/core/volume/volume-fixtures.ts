/** Series for the volume tests: generated CT (regular, uneven, tilted) and real shared series, imported into a core. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Core } from '../../../../electron/core/composition-root';
import { writeSyntheticCtStudies, type SyntheticCtManifest, type SyntheticCtOptions } from '../../../../electron/core/samples/synthetic-ct';
import { REPO_ROOT, SHARED_TESTDATA } from '../../../helpers/paths';

export const PYTHON = '/usr/bin/python3';
export const RESLICE_CHECK = join(REPO_ROOT, 'test', 'reference', 'reslice_check.py');
export const EFFECTS_CHECK = join(REPO_ROOT, 'test', 'reference', 'segment_effects_check.py');
/** A real axial CT series: 5 slices of 16x16, 2.5 mm apart. */
export const REAL_CT_SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/98892001/CT5N');
/** A real CT series of 4 slices, one 202.5 mm away from the other three. */
export const REAL_GAPPED_SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/77654033/CT2');
/** A real MR series whose 7 slices each have another orientation (a radial localizer). */
export const REAL_RADIAL_SERIES = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests/98892003/MR700');

/**
 * The reference tools must be there: a missing one FAILS the test with the command that
 * installs it (a check that skips would prove nothing).
 */
export function requirePython(modules: string): void {
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${PYTHON} cannot import ${modules} (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}); install it: apt-get install python3-pydicom python3-numpy python3-scipy`);
  }
}

export interface ImportedSeries {
  seriesId: number;
  datasetId: number;
  files: string[];
  manifest: SyntheticCtManifest | null;
}

/** Generate one synthetic CT series into dir/name and import it as dataset `name`. */
export async function syntheticSeries(core: Core, dir: string, name: string, options: Omit<SyntheticCtOptions, 'patients'>): Promise<ImportedSeries> {
  const out = join(dir, name);
  const manifest = await writeSyntheticCtStudies(out, { patients: 1, ...options });
  const seriesDir = join(out, manifest.patients[0]?.series.dir ?? '');
  const files = readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).map((f) => join(seriesDir, f));
  return { ...(await importSeries(core, name, files)), manifest };
}

/** Import files (one series) into a new dataset. */
export async function importSeries(core: Core, name: string, files: string[]): Promise<ImportedSeries> {
  const ds = core.datasets.create(name, '');
  await core.importFiles({ datasetId: ds.id, paths: files });
  const seriesId = core.db.prepare('SELECT DISTINCT series_id FROM items WHERE dataset_id = ?').pluck().get(ds.id) as number;
  return { seriesId, datasetId: ds.id, files, manifest: null };
}

export function filesOf(dir: string): string[] {
  return readdirSync(dir).map((f) => join(dir, f));
}
