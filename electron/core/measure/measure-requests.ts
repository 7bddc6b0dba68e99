/**
 * The contract's measurement requests (contract/measure.ts) bound to the measure service and
 * export. The CLI's `fovea measurements` goes through the same requests (core.dispatch).
 */
import type { RequestPayload } from '../../contract/api';
import type { MeasureResponses } from '../../contract/measure';
import { exportMeasurements, type MeasureExportDeps } from './measure-export';
import type { MeasureService } from './measure-service';

type MeasureRequest = keyof MeasureResponses;
type MeasureHandlers = { [K in MeasureRequest]: (payload: RequestPayload<K>) => Promise<MeasureResponses[K]> | MeasureResponses[K] };

export function measureHandlers(service: MeasureService, exportDeps: () => MeasureExportDeps): MeasureHandlers {
  return {
    'measurements.list': (q) => service.list(q),
    'measurements.create': (p) => service.create(p),
    'measurements.update': (p) => service.update(p),
    'measurements.delete': ({ id }) => service.delete(id),
    'measurements.export': (p) => exportMeasurements(exportDeps(), p),
  };
}
