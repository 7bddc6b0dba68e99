/**
 * Per-segment statistics: voxel count, volume, and the mean, minimum and maximum modality value
 * (HU for CT) of the segment's voxels. The volume adds each voxel's own size: pixel area times
 * the thickness its acquired slice stands for along the normal (half the gap to each neighbour;
 * on an evenly spaced series simply the slice gap), so uneven spacing is counted as acquired.
 */
import type { SegmentStatistics } from '../../../contract/volume';
import type { LabelVolume } from '../label-volume';
import type { ScanVolume } from '../scan-volume';

export function segmentStatistics(scan: ScanVolume, labels: LabelVolume, classId: number, name: string): SegmentStatistics {
  const size = labels.sliceSize;
  const area = scan.grid.spacing[0] * scan.grid.spacing[1];
  let voxels = 0;
  let mm3 = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const s of labels.slicesOf(classId)) {
    const m = labels.mask(classId, s) as Uint8Array;
    const base = s * size;
    let n = 0;
    for (let i = 0; i < size; i++) {
      if (!m[i]) continue;
      const v = (scan.data[base + i] as number) * scan.slope + scan.intercept;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      n++;
    }
    voxels += n;
    mm3 += n * area * (scan.grid.sliceThickness[s] as number);
  }
  return {
    classId,
    name,
    voxels,
    volumeMl: mm3 / 1000,
    mean: voxels ? sum / voxels : null,
    min: voxels ? min : null,
    max: voxels ? max : null,
    units: scan.units,
  };
}
