/**
 * `fovea reslice --item ID --plane axial|coronal|sagittal --index I --out F.bin [--json]`
 *   One plane of the MPR views of the item's series, as the viewer gets it ('volume.plane'):
 *   little-endian int16 (the stored values, on the acquisition grid) or float32 (resampled:
 *   interpolated; or modality values), row by row from the top-left pixel. The JSON says which
 *   (dtype), with the size, pixel spacing, orientation (DICOM-style ImageOrientationPatient), the
 *   patient position of the first pixel's centre, the rescale, and whether it is exact.
 * `fovea segment-stats --item ID [--json]`
 *   Per segment (label class with voxels on the series): voxels, volume in mL, mean/min/max HU.
 * Both load the series as a volume in the core (the same requests the app uses).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RequestInput, RequestName, Responses } from '../../contract/api';
import { FoveaException } from '../../contract/result';
import { VOLUME_PLANES, type VolumePlane } from '../../contract/volume';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';

export const resliceHelp = 'fovea reslice --item ID --plane axial|coronal|sagittal --index I --out F.bin [--json]   one MPR plane of the item\'s series (int16 or float32, little-endian)';
export const resliceOptions = { item: { type: 'string' }, plane: { type: 'string' }, index: { type: 'string' }, out: { type: 'string' } } as const;
export const segmentStatsHelp = 'fovea segment-stats --item ID [--json]   per segment of the item\'s series: voxels, volume (mL), mean/min/max HU';
export const segmentStatsOptions = { item: { type: 'string' } } as const;

function itemOf(values: Record<string, unknown>): number {
  const id = Number(values['item']);
  if (values['item'] === undefined || !Number.isInteger(id) || id < 1) throw new UsageError('--item takes an item id (an image of the series)');
  return id;
}

/** The same door as the app: validated, policy- and read-only-checked requests. */
async function call<K extends RequestName>(ctx: CliContext, name: K, input: RequestInput<K>): Promise<Responses[K]> {
  const r = await ctx.core().dispatch(name, input);
  if (!r.ok) throw new FoveaException(r.error.code, r.error.message, r.error.details);
  return r.value as Responses[K];
}

async function openWithProgress(ctx: CliContext, seriesId: number): Promise<Responses['volume.open']> {
  const off = ctx.isTty && !ctx.json ? ctx.core().on('volume.progress', (p) => process.stderr.write(`\rLoading the series: ${p.done}/${p.total} slices`)) : null;
  try {
    return await call(ctx, 'volume.open', { seriesId });
  } finally {
    if (off) {
      off();
      process.stderr.write('\n');
    }
  }
}

export async function runReslice(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const itemId = itemOf(values);
  const plane = values['plane'] as string | undefined;
  if (!plane || !(VOLUME_PLANES as readonly string[]).includes(plane)) throw new UsageError(`--plane must be one of ${VOLUME_PLANES.join(', ')}`);
  const index = Number(values['index']);
  if (values['index'] === undefined || !Number.isInteger(index) || index < 0) throw new UsageError('--index takes a plane number from 0');
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out F.bin is required');
  const seriesId = ctx.core().volumes.seriesOfItem(itemId);
  const info = await openWithProgress(ctx, seriesId);
  const view = info.views[plane as VolumePlane];
  if (index >= view.count) throw new UsageError(`--index ${index} is out of range: the ${plane} view has planes 0 to ${view.count - 1}`);
  const p = await call(ctx, 'volume.plane', { seriesId, plane: plane as VolumePlane, index });
  const bytes = new Uint8Array(p.data.length * p.data.BYTES_PER_ELEMENT);
  const dv = new DataView(bytes.buffer);
  // Little-endian whatever the host's byte order.
  if (p.data instanceof Int16Array) for (let i = 0; i < p.data.length; i++) dv.setInt16(i * 2, p.data[i] as number, true);
  else for (let i = 0; i < p.data.length; i++) dv.setFloat32(i * 4, p.data[i] as number, true);
  writeFileSync(resolve(out), bytes);
  const description = {
    seriesId,
    plane: p.plane,
    index: p.index,
    planes: view.count,
    dtype: p.dtype,
    rows: p.height,
    columns: p.width,
    shape: [p.height, p.width],
    bytes: bytes.length,
    pixelSpacing: p.pixelSpacing,
    imageOrientationPatient: p.imageOrientationPatient,
    imagePositionPatient: p.imagePositionPatient,
    orientationLabels: view.labels,
    values: info.values,
    rescaleSlope: p.slope,
    rescaleIntercept: p.intercept,
    units: info.units,
    exact: p.exact,
    interpolation: p.interpolation,
    resampled: info.resampled,
    warnings: info.warnings,
  };
  if (ctx.json) ctx.jsonLine(description);
  else {
    ctx.out(`Wrote ${bytes.length} bytes (${p.dtype} ${p.height}x${p.width}, ${plane} plane ${index} of ${view.count}) to ${out}`);
    ctx.out(`  spacing ${p.pixelSpacing.map((x) => x.toFixed(4)).join(' x ')} mm, first pixel at (${p.imagePositionPatient.map((x) => x.toFixed(3)).join(', ')}) mm LPS`);
    ctx.out(`  ${p.exact ? 'stored values of the acquired voxels' : `interpolated: ${p.interpolation ?? ''}`}`);
    for (const w of info.warnings) ctx.err(`warning: ${w}`);
  }
  return EXIT_OK;
}

export async function runSegmentStats(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const seriesId = ctx.core().volumes.seriesOfItem(itemOf(values));
  await openWithProgress(ctx, seriesId);
  const stats = await call(ctx, 'volume.stats', { seriesId });
  if (ctx.json) ctx.jsonLine({ seriesId, segments: stats });
  else if (stats.length === 0) ctx.out('No segment has voxels on this series.');
  else {
    for (const s of stats) {
      const u = s.units ? ` ${s.units}` : '';
      ctx.out(`${s.name}: ${s.voxels} voxels, ${s.volumeMl.toFixed(3)} mL, mean ${s.mean?.toFixed(1)}${u}, min ${s.min}${u}, max ${s.max}${u}`);
    }
  }
  return EXIT_OK;
}
