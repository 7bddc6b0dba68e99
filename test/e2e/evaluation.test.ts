/**
 * Evaluation from the UI on the sample library, in headless Chromium against
 * the real core and the real ML engine: train a small classifier on the
 * sample CT from the training screen, open the evaluation screen, evaluate
 * the test split (progress shown), read the metrics and the confusion
 * matrix, click a cell and land in the viewer on one of that cell's images
 * (next/previous walk exactly that cell's images); then pre-label the
 * dataset with the model, accept a proposal in the viewer and see it stored
 * as the annotator's (human) label, and sort the browser by uncertainty.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClassificationReport } from '../../electron/contract/evaluation';
import { readStoredEvaluation } from '../../electron/core/evaluation/evaluate-run';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { screenshot } from './browser';
import { openTraining } from './training-screen';
import { withSampleApp } from './sample-app';

const app = withSampleApp('demo');

test('train from the UI, evaluate, click a confusion-matrix cell, land in the viewer on its images; pre-label, accept a proposal, sort by uncertainty', { timeout: 300_000 }, async () => {
  const { page, close } = await app.open({ viewport: { width: 1400, height: 1000 } });

  // --- A short run from the training screen.
  const ct = app.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await openTraining(page, ct.id, 'classification', 'grouped by patient');
  await page.getByTestId('train-epochs').fill('2');
  await page.getByTestId('train-size').fill('32');
  await page.getByTestId('train-start').click();
  await page.getByTestId('run-status').filter({ hasText: /^(done|stopped-early)$/ }).waitFor({ timeout: 180_000 });
  const run = app.core.runs.list(ct.id)[0];
  assert.ok(run);

  // --- The evaluation screen: nothing stored yet, then evaluate the test split.
  await page.keyboard.press('Alt+5');
  await page.getByTestId('eval-run-select').waitFor();
  assert.equal(await page.getByTestId('eval-run-select').inputValue(), String(run.id));
  await page.getByTestId('eval-none').waitFor();
  await page.getByTestId('eval-start').click();
  await page.getByTestId('confusion-matrix').or(page.getByTestId('eval-error')).waitFor({ timeout: 120_000 }).catch(async (e: unknown) => {
    await screenshot(page, 'evaluation-failed');
    throw e;
  });
  if (await page.getByTestId('eval-error').isVisible()) assert.fail(`evaluation failed: ${await page.getByTestId('eval-error').textContent()}`);
  await page.getByTestId('curve-roc').waitFor();
  await page.getByTestId('curve-pr').waitFor();
  const report = readStoredEvaluation(app.core, run.id, 'test') as unknown as ClassificationReport;
  assert.ok(report && report.task === 'classification');
  const headline = (await page.getByTestId('eval-headline').textContent()) ?? '';
  assert.match(headline, new RegExp(`Accuracy ${report.accuracy.toFixed(3)}`));
  const metrics = (await page.getByTestId('eval-metrics').textContent()) ?? '';
  for (const name of report.source.classNames) assert.ok(metrics.includes(name), name);
  // The gallery draws the errors, if any.
  if (report.images.some((i) => i.predicted[0] !== i.truth[0])) await page.getByTestId('gallery-image').first().waitFor({ timeout: 60_000 });
  await screenshot(page, 'evaluation-report');

  // --- Every cell shows the report's count; click the fullest one.
  const matrix = report.confusionMatrix?.matrix ?? [];
  let best: [number, number] = [0, 0];
  matrix.forEach((cells, r) => cells.forEach((n, c) => {
    if (n > (matrix[best[0]]?.[best[1]] ?? 0)) best = [r, c];
  }));
  for (let r = 0; r < matrix.length; r++) {
    for (let c = 0; c < matrix.length; c++) assert.equal(Number(await page.getByTestId(`cm-cell-${r}-${c}`).getAttribute('data-count')), matrix[r]?.[c]);
  }
  const [row, col] = best;
  const cellItems = report.images.filter((i) => i.truth[0] === row && i.predicted[0] === col).map((i) => i.itemId);
  assert.ok(cellItems.length > 0);
  await page.getByTestId(`cm-cell-${row}-${col}`).click();
  const host = page.getByTestId('eval-viewer');
  await host.waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0, undefined, { timeout: 30_000 });
  const shown = Number(await host.getAttribute('data-item-id'));
  assert.ok(cellItems.includes(shown), `viewer shows item ${shown}, not one of the cell's ${cellItems.join(',')}`);
  assert.deepEqual((await host.getAttribute('data-stack'))?.split(',').map(Number), cellItems);
  assert.match((await page.getByTestId('overlay-index').textContent()) ?? '', new RegExp(`Im 1/${cellItems.length}`));
  // The viewer says what the truth and the model are on this image (issue 19 item 4): the cell's classes.
  const names = report.source.classNames;
  const compare = page.getByTestId('eval-compare');
  await compare.waitFor({ timeout: 30_000 });
  const truthSaid = (await page.getByTestId('eval-compare-truth').textContent()) ?? '';
  const modelSaid = (await page.getByTestId('eval-compare-model').textContent()) ?? '';
  assert.ok(truthSaid.split(' · ').includes(names[row] as string), `truth "${truthSaid}", want ${names[row]}`);
  assert.match(modelSaid, new RegExp(`^${names[col]} \\d\\.\\d\\d$`), modelSaid);
  await screenshot(page, 'evaluation-cell-in-viewer');
  if (cellItems.length > 1) {
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction((id) => document.querySelector('[data-testid="eval-viewer"]')?.getAttribute('data-item-id') === String(id), cellItems[1]);
  }
  await page.getByRole('button', { name: '← Grid' }).click();
  await page.getByTestId('confusion-matrix').waitFor();

  // --- Pre-label the dataset with the model: proposals and uncertainty stored.
  await page.getByTestId('predict-only-unlabeled').uncheck();
  await page.getByTestId('predict-start').click();
  await page.getByTestId('predict-report').waitFor({ timeout: 120_000 });
  const proposed = app.core.db.prepare("SELECT count(*) AS n FROM annotations WHERE run_id = ? AND source = 'model' AND status = 'proposed'").get(run.id) as { n: number };
  const items = app.core.db.prepare('SELECT count(*) AS n FROM items WHERE dataset_id = ?').get(ct.id) as { n: number };
  assert.equal(proposed.n, items.n, 'one proposed class per CT image');
  assert.match((await page.getByTestId('predict-report').textContent()) ?? '', new RegExp(`^${items.n} proposal`));
  await screenshot(page, 'evaluation-prelabel');

  // --- Accept one of the model's proposals in the viewer: it becomes a person's label.
  await page.getByTestId('annotator-input').fill('Dr Test');
  await page.getByTestId('annotator-save').click();
  await page.getByTestId('nav-annotator').filter({ hasText: 'Dr Test' }).waitFor();
  await page.getByTestId(`cm-cell-${row}-${col}`).click();
  await page.getByTestId('eval-viewer').waitFor();
  const proposal = page.locator('[data-testid^="proposal-"]').first();
  await proposal.waitFor({ timeout: 30_000 });
  const proposalId = Number(((await proposal.getAttribute('data-testid')) ?? '').replace('proposal-', ''));
  const shownNow = Number(await page.getByTestId('eval-viewer').getAttribute('data-item-id'));
  const before = app.core.annotations.get(proposalId);
  assert.ok(before && before.status === 'proposed' && before.source === 'model' && before.itemId === shownNow);
  await page.getByTestId(`accept-${proposalId}`).click();
  await page.waitForFunction((id) => !document.querySelector(`[data-testid="proposal-${id}"]`), proposalId, { timeout: 30_000 });
  const accepted = app.core.annotations.get(proposalId);
  assert.ok(accepted);
  assert.equal(accepted.status, 'active');
  assert.equal(accepted.source, 'human');
  assert.equal(accepted.author, 'Dr Test');
  assert.equal(accepted.score, null);
  await screenshot(page, 'evaluation-accepted-in-viewer');
  await page.getByRole('button', { name: '← Grid' }).click();
  await page.getByTestId('confusion-matrix').waitFor();

  // --- The browser's active-learning sort puts the most uncertain image first.
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-dataset').selectOption({ label: `${ct.name} (${items.n})` });
  await page.getByTestId('sort').selectOption('uncertainty');
  const top = app.core.db.prepare('SELECT item_id FROM item_uncertainty WHERE run_id = ? ORDER BY score DESC, item_id LIMIT 1').get(run.id) as { item_id: number };
  await page.locator(`.cell[data-index="0"][data-item-id="${top.item_id}"]`).waitFor({ timeout: 30_000 });
  await close();
});
