/**
 * The recipe part of the Training screen (issue 13 items 1 and 2): with "planned from the data"
 * or a time budget, the core's planned recipe ('training.recipe') for the dataset, task, classes,
 * the user's input size / batch / epochs overrides and the budget, asked again when any changes.
 * The choice itself (recipe, budgetMinutes) lives on TrainingState, which starts the run.
 */
import type { FoveaError } from '../../../../electron/contract/result';
import type { RecipePreview } from '../../../../electron/contract/training-recipe';
import { timeBudgetSeconds } from '../../../../electron/contract/training-recipe';
import { request } from '../api';
import type { TrainingState } from './training-state.svelte';

export class RecipeState {
  preview = $state.raw<RecipePreview | null>(null);
  error = $state<FoveaError | null>(null);
  loading = $state(false);
  readonly #tr: TrainingState;
  #seq = 0;

  constructor(tr: TrainingState) {
    this.#tr = tr;
  }

  /** Ask the core for the plan as the form stands now (none for the task's defaults). */
  async refresh(): Promise<void> {
    const tr = this.#tr;
    const seq = ++this.#seq;
    if (!tr.planned || tr.datasetId === null || tr.budgetProblem || tr.classProblem || !tr.plan || tr.dataProblem) {
      this.preview = null;
      this.error = null;
      this.loading = false;
      return;
    }
    this.loading = true;
    const res = await request('training.recipe', {
      datasetId: tr.datasetId,
      task: tr.task,
      ...(tr.chosenClasses ? { classNames: tr.chosenClasses } : {}),
      ...(positive(tr.epochs) ? { epochs: tr.epochs } : {}),
      ...(positive(tr.batchSize) ? { batchSize: tr.batchSize } : {}),
      ...(positive(tr.inputSize) ? { inputSize: tr.inputSize } : {}),
      ...(tr.budgetMinutes !== null ? { timeBudgetSeconds: timeBudgetSeconds(tr.budgetMinutes) } : {}),
    });
    if (seq !== this.#seq) return;
    this.loading = false;
    if (res.ok) {
      this.preview = res.value;
      this.error = null;
    } else {
      this.preview = null;
      this.error = res.error;
    }
  }
}

function positive(n: number | null): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}
