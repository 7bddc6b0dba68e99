/**
 * The contract's volume requests (contract/volume.ts) bound to the volume service. The CLI's
 * `fovea reslice` and `fovea segment-stats` go through the same requests (core.dispatch).
 */
import type { RequestPayload } from '../../contract/api';
import type { VolumeResponses } from '../../contract/volume';
import type { VolumeService } from './volume-service';

type VolumeRequest = keyof VolumeResponses;
type VolumeHandlers = { [K in VolumeRequest]: (payload: RequestPayload<K>) => Promise<VolumeResponses[K]> | VolumeResponses[K] };

export function volumeHandlers(volumes: VolumeService): VolumeHandlers {
  return {
    'volume.open': ({ seriesId }) => volumes.open(seriesId),
    'volume.close': ({ seriesId }) => volumes.close(seriesId),
    'volume.plane': ({ seriesId, plane, index }) => volumes.plane(seriesId, plane, index),
    'volume.labels': ({ seriesId, plane, index }) => volumes.labels(seriesId, plane, index),
    'volume.paint': (p) => volumes.paint(p),
    'volume.preview': ({ seriesId, effect }) => volumes.preview(seriesId, effect),
    'volume.apply': ({ seriesId }) => volumes.apply(seriesId),
    'volume.cancel': ({ seriesId }) => volumes.cancel(seriesId),
    'volume.undo': ({ seriesId }) => volumes.undo(seriesId),
    'volume.redo': ({ seriesId }) => volumes.redo(seriesId),
    'volume.stats': ({ seriesId }) => volumes.stats(seriesId),
  };
}
