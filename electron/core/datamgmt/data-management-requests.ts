/**
 * The contract's data-management requests (contract/data-management.ts) bound to the service.
 * The CLI's `fovea datasets rename|delete` and `fovea items ...` call the same service methods.
 */
import type { RequestPayload } from '../../contract/api';
import type { DataManagementResponses } from '../../contract/data-management';
import type { DataManagementService } from './data-management-service';

type DataManagementRequest = keyof DataManagementResponses;
type DataManagementHandlers = { [K in DataManagementRequest]: (payload: RequestPayload<K>) => DataManagementResponses[K] };

export function dataManagementHandlers(service: DataManagementService): DataManagementHandlers {
  return {
    'datasets.rename': ({ id, name }) => service.rename(id, name),
    'datasets.deletePreview': ({ id }) => service.deletePreview(id),
    'datasets.delete': ({ id }) => service.deleteDataset(id),
    'items.delete': ({ datasetId, itemIds }) => service.deleteItems(datasetId, itemIds),
    'items.setStatusMany': ({ datasetId, itemIds, status, comment }) => service.setStatus(datasetId, itemIds, status, comment),
    'items.setSplit': ({ datasetId, itemIds, split }) => service.setSplit(datasetId, itemIds, split),
  };
}
