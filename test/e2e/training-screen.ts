/**
 * The first steps of most training browser tests, written once: the Training screen (Alt+3) with a
 * dataset and a task chosen, once the plan for them is on show.
 */
import type { Page } from 'playwright-core';
import type { TaskKind } from '../../electron/contract/ml';

/** Opens the Training screen from the library, chooses `datasetId` and `task`, and waits for the plan (one that says `planText`, when given). */
export async function openTraining(page: Page, datasetId: number, task: TaskKind, planText?: string): Promise<void> {
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  await page.getByTestId('train-dataset').selectOption(String(datasetId));
  await page.getByTestId('train-task').selectOption(task);
  const plan = page.getByTestId('train-plan');
  await (planText === undefined ? plan : plan.filter({ hasText: planText })).waitFor({ timeout: 30_000 });
}
