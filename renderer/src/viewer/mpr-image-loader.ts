/**
 * cornerstone's loader for MPR planes: imageIds `fovea-mpr:SERIES:GENERATION:PLANE:INDEX` are
 * loaded with the `volume.plane` request (cut by the core from its volume) and wrapped as
 * cornerstone images with the plane's pixel spacing, so that cornerstone shows square millimetres
 * (a coronal picture of 2.5 mm slices and 0.8 mm pixels is stretched, never resampled here).
 * GENERATION changes when the core loads the volume again, so stale planes are never reused.
 * The images share the viewer's bounded cache (registerFoveaLoader).
 */
import cornerstone, { type Image } from 'cornerstone-core';
import type { VolumePlane } from '../../../electron/contract/volume';
import { request } from '../lib/api';
import { registerFoveaLoader } from './image-loader';

export const MPR_SCHEME = 'fovea-mpr';

export function mprImageId(seriesId: number, generation: number, plane: VolumePlane, index: number): string {
  return `${MPR_SCHEME}:${seriesId}:${generation}:${plane}:${index}`;
}

function load(imageId: string): { promise: Promise<Image>; cancelFn: () => void } {
  let cancelled = false;
  const promise = (async () => {
    const [, series, , plane, indexText] = imageId.split(':');
    const seriesId = Number(series);
    const index = Number(indexText);
    if (!Number.isInteger(seriesId) || !Number.isInteger(index) || (plane !== 'axial' && plane !== 'coronal' && plane !== 'sagittal')) throw new Error(`Not an MPR image id: ${imageId}`);
    const res = await request('volume.plane', { seriesId, plane, index });
    if (!res.ok) throw new Error(res.error.message);
    if (cancelled) throw new Error('cancelled');
    const p = res.value;
    const data = p.data;
    const image: Image = {
      imageId,
      rows: p.height,
      columns: p.width,
      height: p.height,
      width: p.width,
      rowPixelSpacing: p.pixelSpacing[0],
      columnPixelSpacing: p.pixelSpacing[1],
      // The viewport's voi always overrides these (MprViewport passes the shared window).
      windowCenter: 0,
      windowWidth: 1,
      sizeInBytes: data.byteLength,
      color: false,
      rgba: false,
      invert: false,
      minPixelValue: Math.floor(p.min),
      maxPixelValue: Math.ceil(p.max),
      slope: p.slope,
      intercept: p.intercept,
      getPixelData: () => data,
    };
    return image;
  })();
  return {
    promise,
    cancelFn: () => {
      cancelled = true;
    },
  };
}

let registered = false;

export function registerMprLoader(): void {
  registerFoveaLoader();
  if (registered) return;
  registered = true;
  cornerstone.registerImageLoader(MPR_SCHEME, load);
}
