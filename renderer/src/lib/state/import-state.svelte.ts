/**
 * State of the import screen: what to import, the running job's progress,
 * and the final report. Only this class talks to the api.
 */
import type { ImportProgress, ImportReport } from '../../../../electron/contract/domain';
import type { FoveaError } from '../../../../electron/contract/result';
import { on, pathForFile, request } from '../api';

export class ImportState {
  datasetName = $state('');
  paths = $state.raw<string[]>([]);
  jobId = $state<string | null>(null);
  progress = $state.raw<ImportProgress | null>(null);
  report = $state.raw<ImportReport | null>(null);
  error = $state<FoveaError | null>(null);
  /** Files dropped that the transport could not give a path for. */
  unresolvedDrops = $state(0);
  cancelling = $state(false);

  readonly running = $derived(this.jobId !== null);
  readonly fraction = $derived(this.progress && this.progress.filesTotal > 0 ? this.progress.filesDone / this.progress.filesTotal : 0);

  #off: (() => void)[] = [];

  start(): void {
    this.#off.push(
      on('import.progress', (p) => {
        if (p.jobId === this.jobId) this.progress = p;
      }),
      on('import.finished', (f) => {
        if (f.jobId !== this.jobId) return;
        this.jobId = null;
        this.cancelling = false;
        this.report = f.report;
        if (f.report) this.progress = f.report;
        this.error = f.error;
      }),
    );
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
    const res = await request('import.start', { datasetName: this.datasetName, paths: this.paths });
    if (!res.ok) {
      this.error = res.error;
      return;
    }
    this.jobId = res.value.jobId;
  }

  async cancel(): Promise<void> {
    if (!this.jobId) return;
    this.cancelling = true;
    await request('jobs.cancel', { jobId: this.jobId });
  }

  dispose(): void {
    for (const off of this.#off) off();
    this.#off = [];
  }
}

function unique(list: string[]): string[] {
  return list.filter((p, i) => list.indexOf(p) === i);
}
