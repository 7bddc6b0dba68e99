/**
 * The training loop's run records (issue 19), on two tiny classifiers trained for real (12x12
 * grey PNGs, one epoch, wasm): a name, notes, learning rate and augmentation given at the start
 * are stored with the run; 'runs.update' renames and annotates (audited; '' clears the name; bad
 * text and unknown runs are errors as data); 'runs.list' carries the name, start and duration;
 * 'runs.compare' accepts runs of one dataset and task and refuses the rest; the CLI's `train`
 * options and `runs rename|note|compare` do the same through the same core entry points.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { CliContext } from '../../../../electron/cli/cli-context';
import { UsageError } from '../../../../electron/cli/cli-context';
import { parseAugment, parseRunStartOptions } from '../../../../electron/cli/commands/runs';
import { runRuns } from '../../../../electron/cli/commands/train';
import type { RunComparison } from '../../../../electron/contract/runs';
import type { RunSummary } from '../../../../electron/contract/domain';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { tempCore } from '../../../helpers/temp-library';

async function writeImages(dir: string, n: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom('runs');
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    const px = Buffer.from(Array.from({ length: 144 }, () => Math.max(0, Math.min(255, Math.round((k ? 190 : 60) + r.normal(0, 30))))));
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${k ? 'bright' : 'dark'}`);
  }
  const csv = join(dir, '..', 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

function cli(core: ReturnType<typeof tempCore>['core'], json = false): { ctx: CliContext; out: string[] } {
  const out: string[] = [];
  return {
    out,
    ctx: { json, libraryDir: '', core: () => core, out: (t) => out.push(t), jsonLine: (v) => out.push(JSON.stringify(v)), err: () => undefined, isTty: false, close: () => undefined },
  };
}

test('run names, notes, learning rate and augmentation: stored, renamed, audited, compared, from the requests and the CLI', { timeout: 180_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const csv = await writeImages(join(dir, 'img'), 24);
  const ds = core.datasets.create('Shades', '');
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'img')] });
  await core.importLabels(ds.id, csv, 'csv', 'test');
  const items = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number }[]).map((i) => i.id);
  core.splits.setSplit(ds.id, items.filter((_, i) => i % 3 === 0), 'val');
  core.splits.setSplit(ds.id, items.filter((_, i) => i % 3 !== 0), 'train');

  const base = { epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm' as const, seed: 1 };
  const a = await core.training.train(ds.id, 'classification', { ...base, name: '  baseline  ', notes: 'first try\nlr 1e-3', learningRate: 0.002, augment: { flipVertical: true, rotateDegrees: 5 } });
  const b = await core.training.train(ds.id, 'classification', { ...base, augment: { flipHorizontal: false }, earlyStoppingPatience: 0 });

  // Stored: the name trimmed, the notes as given, the learning rate and the augmentation over the defaults.
  const ra = core.runs.get(a.runId);
  assert.equal(ra.name, 'baseline');
  assert.equal(ra.notes, 'first try\nlr 1e-3');
  assert.equal(ra.config.learningRate, 0.002);
  const defaults = core.ml.defaultConfig('classification', ['bright', 'dark'], 1).augment;
  assert.deepEqual(ra.config.augment, { ...defaults, flipVertical: true, rotateDegrees: 5 });
  const rb = core.runs.get(b.runId);
  assert.equal(rb.name, null);
  assert.equal(rb.config.augment.flipHorizontal, false);
  assert.equal(rb.config.earlyStoppingPatience, 0, 'patience 0: the run never stops early');
  assert.equal(ra.config.earlyStoppingPatience, core.ml.defaultConfig('classification', ['bright', 'dark'], 1).earlyStoppingPatience);
  assert.equal(rb.config.learningRate, core.ml.defaultConfig('classification', ['bright', 'dark'], 1).learningRate);

  // runs.list: name, notes, start, duration (finished runs: start to finish).
  const list = await core.dispatch('runs.list', {});
  assert.ok(list.ok);
  const summaries = list.value as RunSummary[];
  const sa = summaries.find((r) => r.id === a.runId);
  assert.ok(sa);
  assert.equal(sa.name, 'baseline');
  assert.ok(sa.durationSeconds !== null && sa.durationSeconds > 0 && sa.durationSeconds < 180, String(sa.durationSeconds));
  assert.equal(sa.durationSeconds, (Date.parse(sa.finishedAt ?? '') - Date.parse(sa.createdAt)) / 1000);

  // runs.update: rename and note, audited; '' clears the name.
  const renamed = await core.dispatch('runs.update', { runId: b.runId, name: 'no flips' });
  assert.ok(renamed.ok);
  assert.equal((renamed.value as RunSummary).name, 'no flips');
  const noted = await core.dispatch('runs.update', { runId: b.runId, notes: 'compare with baseline' });
  assert.ok(noted.ok);
  assert.equal(core.runs.get(b.runId).notes, 'compare with baseline');
  assert.equal(core.runs.get(b.runId).name, 'no flips', 'notes alone keep the name');
  const audit = core.db.prepare("SELECT details FROM audit_log WHERE action = 'run.update' AND object_id = ? ORDER BY id").all(String(b.runId)) as { details: string }[];
  assert.equal(audit.length, 2);
  assert.deepEqual(JSON.parse(audit[0]?.details ?? '{}'), { name: { from: null, to: 'no flips' } });
  const start = core.db.prepare("SELECT details FROM audit_log WHERE action = 'train.start' AND object_id = ?").get(String(a.runId)) as { details: string };
  assert.equal(JSON.parse(start.details).name, 'baseline');

  // Errors as data.
  const bidi = await core.dispatch('runs.update', { runId: b.runId, name: 'evil\u202eexe' });
  assert.ok(!bidi.ok && bidi.error.code === 'VALIDATION', JSON.stringify(bidi));
  const nothing = await core.dispatch('runs.update', { runId: b.runId });
  assert.ok(!nothing.ok && nothing.error.code === 'VALIDATION');
  const missing = await core.dispatch('runs.update', { runId: 999, name: 'x' });
  assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');
  const badLr = await core.dispatch('training.start', { datasetId: ds.id, task: 'classification', learningRate: 0 });
  assert.ok(!badLr.ok && badLr.error.code === 'VALIDATION' && /learning rate/i.test(badLr.error.message), JSON.stringify(badLr));
  const badAug = await core.dispatch('training.start', { datasetId: ds.id, task: 'classification', augment: { rotateDegrees: 500 } });
  assert.ok(!badAug.ok && badAug.error.code === 'VALIDATION' && /Rotation/.test(badAug.error.message));
  for (const earlyStoppingPatience of [-1, 2.5]) {
    const badPatience = await core.dispatch('training.start', { datasetId: ds.id, task: 'classification', earlyStoppingPatience });
    assert.ok(!badPatience.ok && badPatience.error.code === 'VALIDATION' && /patience/i.test(badPatience.error.message), JSON.stringify(badPatience));
  }

  // runs.compare: curves of both, the metric names they share; refused across tasks and for one run.
  const cmp = await core.dispatch('runs.compare', { runIds: [a.runId, b.runId] });
  assert.ok(cmp.ok, JSON.stringify(cmp));
  const c = cmp.value as RunComparison;
  assert.deepEqual(c.runs.map((r) => r.id), [a.runId, b.runId]);
  assert.ok(c.runs.every((r) => r.epochCurve.length === 1));
  assert.ok(c.metricNames.includes('accuracy'), c.metricNames.join(','));
  const other = core.runs.create(ds.id, { ...ra.config, task: 'segmentation' }, {});
  const mixed = await core.dispatch('runs.compare', { runIds: [a.runId, other] });
  assert.ok(!mixed.ok && mixed.error.code === 'VALIDATION' && /share a task/.test(mixed.error.message));
  const one = await core.dispatch('runs.compare', { runIds: [a.runId] });
  assert.ok(!one.ok && one.error.code === 'VALIDATION');
  const twice = await core.dispatch('runs.compare', { runIds: [a.runId, a.runId] });
  assert.ok(!twice.ok && twice.error.code === 'VALIDATION');

  // CLI: rename, note, list shows the names, compare prints both.
  const r1 = cli(core);
  assert.equal(runRuns(r1.ctx, ['rename', String(a.runId), 'baseline', 'v2']), 0);
  assert.equal(core.runs.get(a.runId).name, 'baseline v2');
  assert.equal(runRuns(r1.ctx, ['note', String(a.runId), 'kept']), 0);
  assert.equal(core.runs.get(a.runId).notes, 'kept');
  assert.equal(runRuns(r1.ctx, []), 0);
  assert.ok(r1.out.some((l) => l.includes('baseline v2') && /\d+ s/.test(l)), r1.out.join('\n'));
  assert.ok(r1.out.some((l) => l.includes('no flips')));
  const r2 = cli(core);
  assert.equal(runRuns(r2.ctx, ['compare', String(a.runId), String(b.runId)]), 0);
  assert.ok(r2.out.some((l) => l.includes('baseline v2') && l.includes('lr 0.002')), r2.out.join('\n'));
  assert.throws(() => runRuns(cli(core).ctx, ['rename', 'x', 'y']), UsageError);
  assert.throws(() => runRuns(cli(core).ctx, ['rename', String(a.runId), 'bad\u0007']), UsageError);
  assert.throws(() => runRuns(cli(core).ctx, ['compare', String(a.runId), String(other)]), /share a task/);
});

test('fovea train run options: name, notes, learning rate, patience and augmentation checked by the contract', () => {
  assert.deepEqual(parseRunStartOptions({ name: 'x', notes: 'n', 'learning-rate': '0.0005', augment: 'flip-v,no-flip-h,rotate=10' }), {
    name: 'x',
    notes: 'n',
    learningRate: 0.0005,
    augment: { flipVertical: true, flipHorizontal: false, rotateDegrees: 10 },
  });
  assert.deepEqual(parseRunStartOptions({ patience: '0' }), { earlyStoppingPatience: 0 });
  assert.deepEqual(parseRunStartOptions({ patience: '12' }), { earlyStoppingPatience: 12 });
  assert.throws(() => parseRunStartOptions({ patience: 'soon' }), /--patience: Early stopping patience is a whole number/);
  assert.throws(() => parseRunStartOptions({ patience: '-3' }), /--patience: Early stopping patience is 0/);
  // 'none' turns the detection crops, shifts and colour jitter off too.
  assert.deepEqual(parseAugment('none'), { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0, translate: 0, saturation: 0, minBoxVisibility: 0, multiScale: 0, copyPaste: 0 });
  assert.deepEqual(parseAugment('translate=0.1,saturation=0.3,min-visible=0.5'), { translate: 0.1, saturation: 0.3, minBoxVisibility: 0.5 });
  assert.throws(() => parseAugment('translate=0.8'), /Translation is 0 to 0.5/);
  assert.throws(() => parseRunStartOptions({ 'learning-rate': 'fast' }), /--learning-rate/);
  assert.throws(() => parseRunStartOptions({ 'learning-rate': '2' }), /at most 1/);
  assert.throws(() => parseAugment('rotate=400'), /Rotation/);
  assert.throws(() => parseAugment('wobble'), UsageError);
  // Notes are prose: line breaks and tabs pass, control, bidi and invisible characters do not.
  assert.deepEqual(parseRunStartOptions({ notes: 'line 1\n\tline 2\r\n' }), { notes: 'line 1\n\tline 2\r\n' });
  for (const bad of ['bell\u0007', 'evil\u202e', 'zero\u200bwidth']) assert.throws(() => parseRunStartOptions({ notes: bad }), /--notes: Run notes cannot contain/);
  assert.throws(() => parseRunStartOptions({ name: 'two\nlines' }), /--name: Run names cannot contain/);
  assert.throws(() => parseRunStartOptions({ name: 'x'.repeat(121) }), /at most 120/);
});
