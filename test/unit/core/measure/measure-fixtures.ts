/** A library with the real CT (pydicom's CT_small.dcm, 128 x 128, PixelSpacing, rescale to HU) imported. */
import { join } from 'node:path';
import type { Core } from '../../../../electron/core/composition-root';
import { SHARED_TESTDATA } from '../../../helpers/paths';

export const REAL_CT = join(SHARED_TESTDATA, 'dicom/pydicom/CT_small.dcm');

export async function importRealCt(core: Core, name = 'measure CT'): Promise<{ datasetId: number; itemId: number }> {
  const ds = core.datasets.create(name, '');
  await core.importFiles({ datasetId: ds.id, paths: [REAL_CT] });
  const itemId = core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().get(ds.id) as number;
  return { datasetId: ds.id, itemId };
}

/** One ROI of each kind on the CT, some with fractional and out-of-image points. */
export const CT_ROIS = [
  { kind: 'length', points: [[10.25, 20.5], [90.75, 100.125]] },
  { kind: 'angle', points: [[20, 80], [64, 64], [100, 90.5]] },
  { kind: 'rectangle', points: [[30.3, 40.7], [70.9, 60.2]] },
  { kind: 'ellipse', points: [[40.5, 30.25], [90.75, 80.5]] },
  { kind: 'freehand', points: [[50, 20], [100.5, 35.25], [110, 90], [70.5, 110.75], [30.25, 75], [60, 60]] },
  { kind: 'rectangle', points: [[0, 0], [5.5, 4.5]] },
  { kind: 'freehand', points: [[120, 100], [128, 128], [100, 128]] },
  { kind: 'ellipse', points: [[64, 64], [64.9, 64.9]] },
] as const;
