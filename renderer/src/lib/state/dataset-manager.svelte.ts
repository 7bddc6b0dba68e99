/**
 * Renaming and deleting datasets from the Library home (issue 19). The delete confirmation
 * shows the backend's own preview (counts, what happens to training runs, whether a running job
 * refuses it now), so the dialog says exactly what the delete will do. The delete itself is a job:
 * the notice says it is under way, and what went when it ends.
 */
import type { DatasetDeletePreview } from '../../../../electron/contract/data-management';
import type { Events } from '../../../../electron/contract/api';
import { request } from '../api';
import { JobState } from './job-state.svelte';

export class DatasetManager {
  /** The dataset whose name is being edited, or null. */
  renamingId = $state<number | null>(null);
  renameError = $state<string | null>(null);
  /** The open delete confirmation, or null. */
  preview = $state.raw<DatasetDeletePreview | null>(null);
  deleting = $state(false);
  deleteError = $state<string | null>(null);
  /** What the last delete removed, said once on the home screen. */
  notice = $state<string | null>(null);
  /** The delete job started here (the delete runs in the background; the Jobs panel shows it too). */
  readonly job = new JobState('dataset-delete').on('datasets.delete.finished', (e) => this.#finished(e));
  readonly #refresh: () => Promise<void>;

  constructor(refresh: () => Promise<void>) {
    this.#refresh = refresh;
  }

  startRename(id: number): void {
    this.renamingId = id;
    this.renameError = null;
  }

  cancelRename(): void {
    this.renamingId = null;
    this.renameError = null;
  }

  /** True when renamed (or the name did not change). */
  async rename(id: number, name: string): Promise<boolean> {
    const res = await request('datasets.rename', { id, name });
    if (!res.ok) {
      this.renameError = res.error.message;
      return false;
    }
    this.renamingId = null;
    this.renameError = null;
    this.notice = `Renamed to "${res.value.name}".`;
    await this.#refresh();
    return true;
  }

  async openDelete(id: number): Promise<void> {
    this.deleteError = null;
    const res = await request('datasets.deletePreview', { id });
    if (!res.ok) {
      this.notice = res.error.message;
      return;
    }
    this.preview = res.value;
  }

  closeDelete(): void {
    this.preview = null;
    this.deleteError = null;
  }

  /** Follow delete jobs started here (call when the screen mounts). */
  connect(): void {
    this.job.connect();
  }

  dispose(): void {
    this.job.dispose();
  }

  /**
   * Start the delete (a job): the dataset leaves the list at once, the notice follows the job's
   * progress, and says what went when it ends.
   */
  async confirmDelete(): Promise<void> {
    const p = this.preview;
    if (!p || this.deleting) return;
    this.deleting = true;
    const res = await this.job.start(() => request('datasets.delete', { id: p.datasetId }));
    this.deleting = false;
    if (!res.ok) {
      this.deleteError = res.error.message;
      return;
    }
    this.preview = null;
    // The finished event may already have come (a small dataset): its notice stays.
    if (this.job.running) this.notice = `Deleting "${res.value.name}" (${n(res.value.items, 'item')})…`;
    await this.#refresh();
  }

  #finished(e: Events['datasets.delete.finished']): void {
    const r = e.result;
    if (!r) {
      this.notice = e.error?.message ?? 'The delete failed.';
      return;
    }
    this.notice =
      `Deleted "${r.name}": ${n(r.items, 'item')}, ${n(r.labels, 'label')}` +
      (r.runs > 0 ? `, ${n(r.runs, 'training run')} with ${r.runs === 1 ? 'its' : 'their'} checkpoints.` : '.');
    void this.#refresh();
  }
}

function n(k: number, one: string): string {
  return `${k.toLocaleString('en-US')} ${one}${k === 1 ? '' : 's'}`;
}
