/**
 * State of the import screen: what to import, the running job's progress,
 * and the final report. Only this class talks to the api.
 */
import type { ImportProgress, ImportReport } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { pathForFile, request } from '../api';
import { JobState } from './job-state.svelte';

export class ImportState {
  datasetName = $state('');
  paths = $state.raw<string[]>([]);
  /** The import job this screen started, or found running when it opened. */
  readonly job = new JobState('import');
  progress = $state.raw<ImportProgress | null>(null);
  report = $state.raw<ImportReport | null>(null);
  error = $state<FoveaError | null>(null);
  /** Files dropped that the transport could not give a path for. */
  unresolvedDrops = $state(0);

  readonly running = $derived(this.job.running);
  readonly cancelling = $derived(this.job.cancelling);
  readonly fraction = $derived(this.progress && this.progress.filesTotal > 0 ? this.progress.filesDone / this.progress.filesTotal : this.job.fraction);

  /** Subscribe, and show an import that is still running (started before this screen opened). */
  start(): void {
    this.job
      .on('import.progress', (p) => {
        this.progress = p;
      })
      .on('import.finished', (f) => {
        this.report = f.report;
        if (f.report) this.progress = f.report;
        this.error = f.error;
      })
      .connect();
    void this.job.attach();
  }

  addPaths(text: string): void {
    const extra = text
      .split(/\r?\n/)
      .map((p) => p.trim())
      .filter(Boolean);
    this.paths = unique([...this.paths, ...extra]);
  }

  addDropped(files: Iterable<unknown>): void {
    const resolved: string[] = [];
    let missing = 0;
    for (const f of files) {
      const p = pathForFile(f);
      if (p) resolved.push(p);
      else missing++;
    }
    this.unresolvedDrops = missing;
    this.paths = unique([...this.paths, ...resolved]);
  }

  removePath(p: string): void {
    this.paths = this.paths.filter((x) => x !== p);
  }

  async run(): Promise<void> {
    this.error = null;
    this.report = null;
    this.progress = null;
    const res = await this.job.start(() => request('import.start', { datasetName: this.datasetName, paths: this.paths }));
    if (!res.ok) this.error = res.error;
  }

  async cancel(): Promise<void> {
    await this.job.cancel();
  }

  dispose(): void {
    this.job.dispose();
  }
}

function unique(list: string[]): string[] {
  return list.filter((p, i) => list.indexOf(p) === i);
}
