/** The Export screen's measurements section: 'measurements.export' as CSV or JSON into a folder. */
import type { MeasurementExportFormat } from '../../../../electron/contract/export-formats';
import type { MeasurementExportResult } from '../../../../electron/contract/measure';
import type { FoveaError } from '../../../../electron/contract/result';
import { request } from '../api';

export class MeasureExportState {
  format = $state<MeasurementExportFormat>('csv');
  outDir = $state('');
  overwrite = $state(false);
  running = $state(false);
  result = $state.raw<MeasurementExportResult | null>(null);
  error = $state.raw<FoveaError | null>(null);

  async run(datasetId: number): Promise<void> {
    this.running = true;
    this.error = null;
    this.result = null;
    try {
      const r = await request('measurements.export', { datasetId, format: this.format, outDir: this.outDir.trim(), overwrite: this.overwrite });
      if (r.ok) this.result = r.value;
      else this.error = r.error;
    } finally {
      this.running = false;
    }
  }
}
