/**
 * The recipe a run starts with, on the Training screen (issue 13 items 1, 2 and 7): the task's
 * defaults or the recipe planned from the data (recipe.ts), and "the best model in N minutes"
 * (a time budget, which always plans). The budget is validated here only: the request schema,
 * the Training screen's field and `fovea train --time-budget` share `timeBudgetProblem`.
 */
import * as v from 'valibot';
import type { RunDetail } from './domain';
import type { TrainConfig } from './ml';
import type { RecipePlan } from './recipe';

/** The longest time budget: a week. */
export const MAX_TIME_BUDGET_MINUTES = 7 * 24 * 60;
export const TIME_BUDGET_MESSAGE = `A time budget is minutes, a number above 0 and at most ${MAX_TIME_BUDGET_MINUTES} (a week), e.g. 15 or 0.5.`;

/** What is wrong with a time budget in minutes (fractions allowed), or null. */
export function timeBudgetProblem(minutes: number): string | null {
  return Number.isFinite(minutes) && minutes > 0 && minutes <= MAX_TIME_BUDGET_MINUTES && Math.round(minutes * 60) >= 1 ? null : TIME_BUDGET_MESSAGE;
}

/** A time budget in minutes as the seconds a request carries. */
export function timeBudgetSeconds(minutes: number): number {
  return Math.round(minutes * 60);
}

/** A time budget in whole seconds (what 'training.start' and 'training.recipe' take). */
export const TimeBudgetSecondsSchema = v.pipe(
  v.number(),
  v.check((s) => Number.isInteger(s) && timeBudgetProblem(s / 60) === null, TIME_BUDGET_MESSAGE),
);

/** Fields 'training.start' takes for the recipe (spread into its schema in api.ts). */
export const trainingStartRecipeFields = {
  /** 'planned': the recipe planned from the data (stored with the run); 'defaults' (default): the task's. */
  recipe: v.optional(v.picklist(['defaults', 'planned'])),
  /** Stop in time with the best checkpoint; a budget always plans. */
  timeBudgetSeconds: v.optional(TimeBudgetSecondsSchema),
};

/** 'training.recipe': the planned recipe and the settings a planned run would start with (overrides applied). */
export interface RecipePreview {
  plan: RecipePlan;
  config: Pick<TrainConfig, 'inputSize' | 'batchSize' | 'epochs' | 'normalization' | 'patch' | 'timeBudgetSeconds' | 'slices'>;
}

/** Seconds as m:ss (budget left). */
export function formatBudgetLeft(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Whether a run ended because its time budget ran out: it had a budget, finished ('done') and
 * trained fewer epochs than its (budget-sized) epoch count.
 */
export function stoppedOnBudget(run: Pick<RunDetail, 'status' | 'epochs' | 'epochsCompleted' | 'config'>): boolean {
  return !!run.config.timeBudgetSeconds && run.status === 'done' && run.epochsCompleted < run.epochs;
}
