/**
 * A re-run of predict replaces the run's older proposals by item and run, not
 * by id order. SQLite (no AUTOINCREMENT on annotations) hands a deleted row's
 * id to the next insert when that row had the highest id, so "delete what is
 * older than the highest id seen at the start" also deleted the proposals the
 * pass had just written. Reproduced here with one unlabelled image predicted
 * twice: its proposal holds the highest id, the second pass deletes it and the
 * new proposal is given the same id.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { runPredict } from '../../../../electron/core/predict/predict-service';
import { tempCore } from '../../../helpers/temp-library';

async function writeImages(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const rows = ['filename,label'];
  for (let i = 0; i < 9; i++) {
    // Distinct pixels per image: identical files would be imported once.
    const base = (i === 8 ? 125 : i % 2 === 0 ? 50 : 200) + i;
    const px = Buffer.alloc(144, base);
    const name = `img_${i}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    // The last image stays unlabelled.
    if (i < 8) rows.push(`${name},${i % 2 === 0 ? 'dark' : 'bright'}`);
  }
  const csv = join(dir, '..', 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

test('predict: a re-run keeps its new proposals when SQLite reuses the id of the proposal it replaced', { timeout: 120_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const csv = await writeImages(join(dir, 'imgs'));
  const ds = core.datasets.create('Reuse', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'imgs')] });
  await core.importLabels(ds.id, csv, 'csv', 'test');
  const items = core.items.list({ datasetId: ds.id }, { limit: 100 }).rows.map((r) => r.id).sort((a, b) => a - b);
  assert.equal(items.length, 9);
  core.splits.setSplit(ds.id, items.slice(0, 2), 'val');
  core.splits.setSplit(ds.id, items.slice(2, 8), 'train');
  const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm', seed: 3 });
  assert.ok(outcome.status === 'done' || outcome.status === 'stopped-early', JSON.stringify(outcome));

  const proposals = () =>
    core.annotations.listForItem(items[8] as number).filter((a) => a.source === 'model' && a.status === 'proposed').map((a) => a.id);
  const first = await runPredict(core, runId, { onlyUnlabeled: true });
  assert.equal(first.proposed, 1);
  const [firstId] = proposals();
  assert.ok(firstId !== undefined);

  const second = await runPredict(core, runId, { onlyUnlabeled: true });
  assert.equal(second.proposed, 1);
  assert.equal(second.replaced, 1);
  const after = proposals();
  assert.equal(after.length, 1, 'the second pass leaves its own proposal in place');
  // The premise of the bug: the new proposal took the replaced one's id.
  assert.equal(after[0], firstId);
});
