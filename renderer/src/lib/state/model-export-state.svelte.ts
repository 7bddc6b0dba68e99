/**
 * State of the model export panel (Training screen, run history): which run,
 * the format, the destination folder, and the outcome. Only this class talks
 * to the api. The folder is typed as an absolute path: the contract has no
 * folder picker, and the backend confines every file to that folder.
 */
import type { ModelExportFormat, ModelExportResult } from '../../../../electron/contract/ml';
import type { FoveaError } from '../../../../electron/contract/result';
import { request } from '../api';

export class ModelExportState {
  runId = $state<number | null>(null);
  /** The run's name, when it has one ("name #N" in the heading). */
  runName = $state<string | null>(null);
  format = $state<ModelExportFormat>('onnx');
  outDir = $state('');
  overwrite = $state(false);
  busy = $state(false);
  result = $state.raw<ModelExportResult | null>(null);
  error = $state<FoveaError | null>(null);

  open(runId: number, runName: string | null = null): void {
    this.runId = runId;
    this.runName = runName;
    this.result = null;
    this.error = null;
  }

  close(): void {
    this.runId = null;
  }

  async export(): Promise<void> {
    if (this.runId === null || this.busy) return;
    this.busy = true;
    this.error = null;
    this.result = null;
    const res = await request('models.export', { runId: this.runId, format: this.format, outDir: this.outDir.trim(), overwrite: this.overwrite });
    this.busy = false;
    if (res.ok) this.result = res.value;
    else this.error = res.error;
  }
}
