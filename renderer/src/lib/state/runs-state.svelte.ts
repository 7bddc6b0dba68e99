/**
 * The training loop's UI state (issue 19): editing a run's name and notes,
 * and comparing runs. Only these classes talk to the api for it; the
 * components read them.
 *
 * Comparing: runs are ticked in the history; only runs of the first ticked
 * run's dataset and task can join (the core refuses the rest too), and the
 * comparison is fetched again when the ticks change.
 */
import type { RunDetail, RunSummary } from '../../../../electron/contract/domain';
import type { RunComparison } from '../../../../electron/contract/runs';
import type { FoveaError } from '../../../../electron/contract/result';
import { request } from '../api';

/** The name and notes form of one run. */
export class RunLabelState {
  editing = $state(false);
  name = $state('');
  notes = $state('');
  saving = $state(false);
  error = $state<FoveaError | null>(null);
  #runId: number | null = null;

  /** Open the form on a run's current name and notes. */
  begin(run: Pick<RunSummary, 'id' | 'name' | 'notes'>): void {
    this.#runId = run.id;
    this.name = run.name ?? '';
    this.notes = run.notes;
    this.error = null;
    this.editing = true;
  }

  cancel(): void {
    this.editing = false;
    this.error = null;
  }

  /** Save; the updated summary, or null (the error is shown). */
  async save(): Promise<RunSummary | null> {
    if (this.#runId === null) return null;
    this.saving = true;
    const res = await request('runs.update', { runId: this.#runId, name: this.name, notes: this.notes });
    this.saving = false;
    if (!res.ok) {
      this.error = res.error;
      return null;
    }
    this.editing = false;
    this.error = null;
    return res.value;
  }
}

export class RunCompareState {
  /** Ticked run ids, in the order ticked. */
  chosen = $state.raw<number[]>([]);
  comparison = $state.raw<RunComparison | null>(null);
  error = $state<FoveaError | null>(null);
  loading = $state(false);
  #seq = 0;

  isChosen(id: number): boolean {
    return this.chosen.includes(id);
  }

  /** Whether a run may join the ticked ones: same dataset and task as the first. */
  canJoin(run: Pick<RunSummary, 'id' | 'datasetId' | 'task'>, runs: readonly Pick<RunSummary, 'id' | 'datasetId' | 'task'>[]): boolean {
    const first = runs.find((r) => r.id === this.chosen[0]);
    return !first || this.isChosen(run.id) || (first.datasetId === run.datasetId && first.task === run.task);
  }

  async toggle(id: number): Promise<void> {
    this.chosen = this.isChosen(id) ? this.chosen.filter((x) => x !== id) : [...this.chosen, id];
    await this.refresh();
  }

  /** Fetch the comparison of the ticked runs (two or more), dropping answers that came too late. */
  async refresh(): Promise<void> {
    const seq = ++this.#seq;
    if (this.chosen.length < 2) {
      this.comparison = null;
      this.error = null;
      return;
    }
    this.loading = true;
    const res = await request('runs.compare', { runIds: this.chosen });
    if (seq !== this.#seq) return;
    this.loading = false;
    if (res.ok) {
      this.comparison = res.value;
      this.error = null;
    } else {
      this.comparison = null;
      this.error = res.error;
    }
  }

  clear(): void {
    this.chosen = [];
    this.comparison = null;
    this.error = null;
  }
}

/** A run's augmentation in words, for the run detail and the comparison table. */
export function describeAugment(a: RunDetail['config']['augment']): string {
  const parts = [
    a.flipHorizontal ? 'flip ↔' : null,
    a.flipVertical ? 'flip ↕' : null,
    a.rotateDegrees ? `rotate ±${a.rotateDegrees}°` : null,
    a.scale ? `scale ±${Math.round(a.scale * 100)}%` : null,
    a.intensity ? `intensity ±${Math.round(a.intensity * 100)}%` : null,
    a.translate ? `shift ±${Math.round(a.translate * 100)}%` : null,
    a.saturation ? `saturation ±${Math.round(a.saturation * 100)}%` : null,
    a.minBoxVisibility ? `boxes <${Math.round(a.minBoxVisibility * 100)}% visible ignored` : null,
    a.multiScale ? `multi-scale ±${Math.round(a.multiScale * 100)}%` : null,
    a.copyPaste ? `copy-paste p ${a.copyPaste}` : null,
  ].filter((p): p is string => p !== null);
  return parts.length ? parts.join(', ') : 'none';
}
