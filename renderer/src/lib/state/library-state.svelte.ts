/**
 * State of the library home: app info (versions, library, ML backends) and
 * the dataset list. Components read it; only this class talks to the api.
 */
import type { AppInfo, Dataset } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { on, request } from '../api';

export class LibraryState {
  info = $state.raw<AppInfo | null>(null);
  datasets = $state.raw<Dataset[]>([]);
  loading = $state(true);
  error = $state<FoveaError | null>(null);
  infoLoading = $state(true);

  readonly totalItems = $derived(this.datasets.reduce((n, d) => n + d.counts.items, 0));
  readonly readOnly = $derived(this.info?.library.readOnly ?? false);

  #unsubscribe: (() => void) | null = null;

  start(): void {
    this.#unsubscribe = on('datasets.changed', () => void this.refreshDatasets());
    void this.refreshDatasets();
    void this.refreshInfo();
  }

  async refreshDatasets(): Promise<void> {
    const res = await request('datasets.list', {});
    this.loading = false;
    if (res.ok) {
      this.datasets = res.value;
      this.error = null;
    } else {
      this.error = res.error;
    }
  }

  async refreshInfo(): Promise<void> {
    this.infoLoading = true;
    const res = await request('app.info', {});
    this.infoLoading = false;
    if (res.ok) this.info = res.value;
    else this.error = res.error;
  }

  /** Returns an error message for the form, or null on success. */
  async createDataset(name: string, description: string): Promise<string | null> {
    const res = await request('datasets.create', { name, description });
    if (!res.ok) return res.error.message;
    await this.refreshDatasets();
    return null;
  }

  dispose(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}
