/**
 * Issue 19 item 3, in headless Chromium against the real core and ML engine: the training plan
 * counts labelled samples per split (not all slices), Start is disabled with the reason for a
 * dataset without labels for the task, and the sample CT's lesion segmentation starts training
 * with the defaults (its lesion patients are no longer all drawn into train) and finishes an
 * epoch, its validation scores drawn on a fixed 0-1 axis apart from the losses. The run is then
 * cancelled (30 default epochs are a user's wait, not a test's), evaluated on validation, and its
 * worst image opened: the viewer shows the truth and the model's prediction (item 4).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SAMPLE_CT_DATASET } from '../../electron/core/samples/sample-library';
import { collectSamples } from '../../electron/core/training/training-samples';
import { screenshot } from './browser';
import { withSampleApp } from './sample-app';

const app = withSampleApp('demo');

/** Labelled segmentation samples per split, straight from the library. */
function labelledPerSplit(datasetId: number): Record<string, number> {
  const splitOf = new Map((app.core.db.prepare('SELECT item_id, split FROM splits WHERE dataset_id = ?').all(datasetId) as { item_id: number; split: string }[]).map((r) => [r.item_id, r.split]));
  const out: Record<string, number> = { train: 0, val: 0, test: 0 };
  for (const s of collectSamples(app.core.db, datasetId, 'segmentation').samples) {
    const sp = splitOf.get(s.itemId) ?? 'unassigned';
    out[sp] = (out[sp] ?? 0) + 1;
  }
  return out;
}

test('no labels for the task: Start is disabled and says why', async () => {
  const { page, close } = await app.open({ viewport: { width: 1400, height: 1000 } });
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const road = app.core.datasets.list().find((d) => d.name.startsWith('Sample road'));
  assert.ok(road);
  await page.getByTestId('train-dataset').selectOption(String(road.id));
  await page.getByTestId('train-task').selectOption('segmentation');
  await page.getByTestId('train-data-problem').filter({ hasText: 'No labelled images for segmentation' }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('train-start').isDisabled(), true);
  await screenshot(page, 'training-plan-no-labels');
  await close();
});

test('the sample CT lesion segmentation: the plan counts labelled slices per split and trains with the defaults', { timeout: 600_000 }, async () => {
  const { page, close } = await app.open({ viewport: { width: 1400, height: 1000 } });
  await page.getByTestId('dataset-list').waitFor();
  await page.keyboard.press('Alt+3');
  const ct = app.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  await page.getByTestId('train-dataset').selectOption(String(ct.id));
  await page.getByTestId('train-task').selectOption('segmentation');
  const labelledRow = page.getByTestId('train-split-labelled');
  await labelledRow.waitFor({ timeout: 30_000 });
  const want = labelledPerSplit(ct.id);
  assert.ok(want['train']! > 0 && want['val']! > 0, `labelled per split ${JSON.stringify(want)}`);
  for (const sp of ['train', 'val', 'test']) {
    assert.equal(Number(await labelledRow.locator(`[data-split-labelled="${sp}"]`).textContent()), want[sp], sp);
  }
  // The plan's headline counts the same labelled slices, far fewer than the 144 slices.
  const total = want['train']! + want['val']! + want['test']!;
  assert.equal(Number(await page.getByTestId('train-plan-samples').textContent()), total);
  assert.ok(total < 144);
  assert.equal(await page.getByTestId('train-data-problem').count(), 0);
  await screenshot(page, 'training-plan-ct-segmentation');

  // Start with every default; the first epoch finishes with a validation loss.
  await page.getByTestId('train-start').click();
  await page.getByTestId('train-live').waitFor({ timeout: 120_000 });
  const runId = await (async () => {
    for (let i = 0; i < 600; i++) {
      const r = app.core.db.prepare("SELECT id FROM runs WHERE dataset_id = ? AND task = 'segmentation' ORDER BY id DESC LIMIT 1").get(ct.id) as { id: number } | undefined;
      if (r) return r.id;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error('no run was recorded');
  })();
  await page.waitForFunction(() => document.querySelector('[data-testid="chart"][data-title="Loss per epoch"]')?.getAttribute('data-points') === '1', undefined, { timeout: 480_000 });
  await screenshot(page, 'training-plan-ct-segmentation-epoch1');
  // Scores (Dice, IoU: fractions) on their own fixed 0-1 axis, never on a loss axis (issue 19 item 8).
  const scores = page.locator('[data-testid="chart"][data-title="Validation scores (0-1)"]');
  assert.equal(await scores.getAttribute('data-range'), '0,1');
  assert.ok(((await scores.getAttribute('data-series')) ?? '').split('|').every((n) => n.length > 0 && !/loss/i.test(n)));
  const losses = page.locator('[data-testid="chart"][data-title="Validation losses"]');
  if (await losses.count()) assert.ok(((await losses.getAttribute('data-series')) ?? '').split('|').every((n) => /loss/i.test(n)));
  await page.getByTestId('train-cancel').click();
  await page.getByTestId('run-status').filter({ hasText: /cancel/ }).waitFor({ timeout: 120_000 });
  const run = app.core.db.prepare('SELECT status, epochs_completed FROM runs WHERE id = ?').get(runId) as { status: string; epochs_completed: number };
  assert.ok(run.epochs_completed >= 1, JSON.stringify(run));

  // Evaluate it on validation and open the worst image: the viewer shows the truth mask and the
  // model's prediction over it (issue 19 item 4: it showed the ground truth only).
  await page.keyboard.press('Alt+5');
  await page.getByTestId('eval-run-select').selectOption(String(runId));
  await page.getByTestId('eval-split').selectOption('val');
  await page.getByTestId('eval-start').click();
  await page.getByTestId('eval-per-image').or(page.getByTestId('eval-error')).waitFor({ timeout: 240_000 });
  assert.equal(await page.getByTestId('eval-error').count(), 0, (await page.getByTestId('eval-error').textContent().catch(() => '')) ?? '');
  await page.getByTestId('eval-per-image').locator('button.link').first().click();
  await page.getByTestId('eval-viewer').waitFor();
  await page.getByTestId('eval-compare').waitFor({ timeout: 60_000 });
  assert.match((await page.getByTestId('eval-compare-truth').textContent()) ?? '', /mask: lesion/);
  const layer = page.getByTestId('prediction-layer');
  await layer.waitFor();
  const predictedMasks = Number(await layer.getAttribute('data-masks'));
  const modelSaid = (await page.getByTestId('eval-compare-model').textContent()) ?? '';
  assert.equal(predictedMasks > 0, /mask: /.test(modelSaid), `layer ${predictedMasks} masks, bar "${modelSaid}"`);
  await screenshot(page, 'training-plan-ct-segmentation-eval-viewer');
  await close();
});
