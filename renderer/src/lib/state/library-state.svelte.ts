/**
 * State of the library home: app info (versions, library, ML backends) and
 * the dataset list. Components read it; only this class talks to the api.
 */
import type { AppInfo, Dataset, EnterprisePolicyView } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { on, request } from '../api';
import { JobState } from './job-state.svelte';

export class LibraryState {
  info = $state.raw<AppInfo | null>(null);
  policy = $state.raw<EnterprisePolicyView | null>(null);
  datasets = $state.raw<Dataset[]>([]);
  loading = $state(true);
  error = $state<FoveaError | null>(null);
  infoLoading = $state(true);
  /** The sample-library job (started here, or found running when the window opened). */
  readonly sampleJob = new JobState('samples');
  samplePhase = $state('');
  sampleFraction = $state(0);
  sampleStarting = $state(false);
  readonly sampleRunning = $derived(this.sampleStarting || this.sampleJob.running);

  readonly totalItems = $derived(this.datasets.reduce((n, d) => n + d.counts.items, 0));
  readonly readOnly = $derived(this.info?.library.readOnly ?? false);

  #unsubscribe: (() => void) | null = null;

  start(): void {
    this.sampleJob
      .on('samples.progress', (e) => {
        this.samplePhase = e.phase;
        this.sampleFraction = e.fraction;
      })
      .on('samples.finished', (e) => {
        if (e.error) this.error = e.error;
        void this.refreshDatasets();
      })
      .connect();
    const off = on('datasets.changed', () => void this.refreshDatasets());
    this.#unsubscribe = () => {
      off();
      this.sampleJob.dispose();
    };
    void this.sampleJob.attach();
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
    const pol = await request('policy.get', {});
    if (pol.ok) this.policy = pol.value;
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

  async createSampleLibrary(): Promise<void> {
    this.samplePhase = 'Starting';
    this.sampleFraction = 0;
    this.sampleStarting = true;
    const res = await this.sampleJob.start(() => request('samples.create', {}));
    this.sampleStarting = false;
    if (!res.ok) this.error = res.error;
  }

  dispose(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}
