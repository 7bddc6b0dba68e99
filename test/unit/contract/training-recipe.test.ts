/**
 * The recipe and time-budget rules of 'training.start' and 'training.recipe' (training-recipe.ts):
 * one rule for the budget (the request, the Training screen's field and the CLI), m:ss of the
 * budget left, and when a run counts as stopped on its budget.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v from 'valibot';
import { requestSchemas } from '../../../electron/contract/api';
import type { TrainConfig } from '../../../electron/contract/ml';
import { formatBudgetLeft, stoppedOnBudget, TIME_BUDGET_MESSAGE, timeBudgetProblem, timeBudgetSeconds } from '../../../electron/contract/training-recipe';

test('a time budget is minutes above 0 and at most a week; fractions are seconds', () => {
  for (const ok of [0.25, 1, 15, 7 * 24 * 60]) assert.equal(timeBudgetProblem(ok), null, String(ok));
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 7 * 24 * 60 + 1, 0.001]) assert.equal(timeBudgetProblem(bad), TIME_BUDGET_MESSAGE, String(bad));
  assert.equal(timeBudgetSeconds(0.25), 15);
  assert.equal(timeBudgetSeconds(1.5), 90);
});

test("'training.start' and 'training.recipe' take the recipe and a budget in whole seconds, and refuse a bad one with the message", () => {
  const start = requestSchemas['training.start'];
  assert.ok(v.safeParse(start, { datasetId: 1, task: 'segmentation', recipe: 'planned', timeBudgetSeconds: 15 }).success);
  assert.ok(!v.safeParse(start, { datasetId: 1, task: 'segmentation', recipe: 'nnunet' }).success);
  for (const bad of [0, -5, 1.5, 7 * 24 * 3600 + 60]) {
    const r = v.safeParse(start, { datasetId: 1, task: 'segmentation', timeBudgetSeconds: bad });
    assert.ok(!r.success, String(bad));
    assert.equal(r.issues[0].message, TIME_BUDGET_MESSAGE);
  }
  const recipe = requestSchemas['training.recipe'];
  assert.ok(v.safeParse(recipe, { datasetId: 1, task: 'classification', inputSize: 32, batchSize: 4, epochs: 2, timeBudgetSeconds: 60, classNames: ['a', 'b'] }).success);
  assert.ok(!v.safeParse(recipe, { datasetId: 1, task: 'classification', recipe: 'planned' }).success, 'the recipe request always plans');
  assert.ok(!v.safeParse(recipe, { datasetId: 1, task: 'classification', inputSize: 4 }).success);
});

test('budget left as m:ss, and a run stopped on its budget', () => {
  assert.equal(formatBudgetLeft(15), '0:15');
  assert.equal(formatBudgetLeft(59.6), '1:00');
  assert.equal(formatBudgetLeft(754), '12:34');
  assert.equal(formatBudgetLeft(-3), '0:00');
  const config = { timeBudgetSeconds: 15 } as TrainConfig;
  assert.equal(stoppedOnBudget({ status: 'done', epochs: 1000, epochsCompleted: 3, config }), true);
  assert.equal(stoppedOnBudget({ status: 'stopped-early', epochs: 1000, epochsCompleted: 3, config }), false);
  assert.equal(stoppedOnBudget({ status: 'done', epochs: 3, epochsCompleted: 3, config }), false, 'all its epochs fit');
  assert.equal(stoppedOnBudget({ status: 'done', epochs: 1000, epochsCompleted: 3, config: { timeBudgetSeconds: null } as TrainConfig }), false);
});
