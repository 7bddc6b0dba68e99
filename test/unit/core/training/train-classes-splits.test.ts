/**
 * The training screen's requests on real temporary libraries:
 * - 'training.plan' and 'training.start' with `classNames`: a subset of the
 *   dataset's classes trains only those (in the dataset's order), labels of
 *   the others are left out and counted, the run records its classes; bad
 *   choices are a VALIDATION answer, not a failed job; `fovea train --classes`.
 * - 'splits.redraw': the automatic rows are drawn again, reproducibly for a
 *   seed and with the given fractions; rows a person set stay; patients stay
 *   whole; audited; refused with bad input.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { SplitRedrawResult } from '../../../../electron/contract/api';
import type { TrainingPlan } from '../../../../electron/contract/domain';
import type { SplitName } from '../../../../electron/contract/ml';
import type { CliContext } from '../../../../electron/cli/cli-context';
import { parseClassList, runTrain } from '../../../../electron/cli/commands/train';
import type { Core } from '../../../../electron/core/composition-root';
import { createSampleLibrary, SAMPLE_CT_DATASET, SAMPLE_ROAD_DATASET } from '../../../../electron/core/samples/sample-library';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { writeSyntheticCtStudies } from '../../../../electron/core/samples/synthetic-ct';
import type { RunSnapshot } from '../../../../electron/core/training/training-service';
import { tempCore } from '../../../helpers/temp-library';

const SHADES = { dark: 50, mid: 128, bright: 205 } as const;

/** n small grey PNGs, one class per shade in turn, and a CSV of their labels. */
async function writeShades(dir: string, n: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom('shades');
  const names = Object.keys(SHADES) as (keyof typeof SHADES)[];
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const cls = names[i % names.length] as keyof typeof SHADES;
    const px = Buffer.from(Array.from({ length: 144 }, () => Math.max(0, Math.min(255, Math.round(SHADES[cls] + r.normal(0, 20))))));
    const file = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, file), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${file},${cls}`);
  }
  const csv = join(dir, '..', 'shades.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

async function ok<T>(core: Core, name: string, input: unknown): Promise<T> {
  const res = await core.dispatch(name, input);
  assert.ok(res.ok, `${name} failed: ${JSON.stringify(res)}`);
  return res.value as T;
}

async function refused(core: Core, name: string, input: unknown, code: string, message?: RegExp): Promise<void> {
  const res = await core.dispatch(name, input);
  assert.equal(res.ok, false, `${name} ${JSON.stringify(input)} should be refused`);
  if (res.ok) return;
  assert.equal(res.error.code, code, res.error.message);
  if (message) assert.match(res.error.message, message);
}

/** Resolves with the run id when the training job ends. */
function finished(core: Core, jobId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const off = core.on('training.finished', (e) => {
      if (e.jobId !== jobId) return;
      off();
      if (e.error || e.runId === null) reject(new Error(JSON.stringify(e.error)));
      else resolve(e.runId);
    });
  });
}

function cliContext(core: Core): { ctx: CliContext; lines: string[] } {
  const lines: string[] = [];
  const ctx: CliContext = {
    json: true,
    libraryDir: '',
    core: () => core,
    out: (t) => lines.push(t),
    jsonLine: (v) => lines.push(JSON.stringify(v)),
    err: () => undefined,
    isTty: false,
    close: () => undefined,
  };
  return { ctx, lines };
}

test('classNames: the plan and a run train only the ticked classes; bad choices are VALIDATION; fovea train --classes', { timeout: 120_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const csv = await writeShades(join(dir, 'img'), 36);
  const ds = core.datasets.create('Shades', '');
  assert.equal((await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'img')] })).counts.failed, 0);
  await core.importLabels(ds.id, csv, 'csv', 'test');

  const all = await ok<TrainingPlan>(core, 'training.plan', { datasetId: ds.id, task: 'classification' });
  assert.deepEqual(all.classNames, ['dark', 'mid', 'bright']);
  assert.deepEqual(all.availableClassNames, all.classNames);
  assert.equal(all.minClasses, 2, 'single-label classification tells at least two classes apart');
  assert.equal(all.samples, 36);
  assert.equal(all.splits.byOrigin?.auto, 36);

  // A subset, asked in another order: the dataset's order, the others' labels counted.
  const sub = await ok<TrainingPlan>(core, 'training.plan', { datasetId: ds.id, task: 'classification', classNames: ['bright', 'dark'] });
  assert.deepEqual(sub.classNames, ['dark', 'bright']);
  assert.deepEqual(sub.availableClassNames, ['dark', 'mid', 'bright'], 'what can be picked does not shrink');
  assert.equal(sub.samples, 24);
  assert.ok(sub.warnings.some((w) => /12 annotation\(s\) are of classes the model does not have/.test(w)), sub.warnings.join(' | '));
  assert.ok(sub.warnings.some((w) => /12 image\(s\) have no usable classification label/.test(w)), sub.warnings.join(' | '));
  assert.deepEqual(sub.defaults.classNames, ['dark', 'bright']);

  // Bad choices: from the schema, and from the core (which knows the dataset).
  const plan = (classNames: unknown) => ({ datasetId: ds.id, task: 'classification', classNames });
  await refused(core, 'training.plan', plan([]), 'VALIDATION', /at least one class/);
  await refused(core, 'training.plan', plan(['']), 'VALIDATION', /cannot be empty/);
  await refused(core, 'training.plan', plan(['x'.repeat(201)]), 'VALIDATION', /200 characters/);
  await refused(core, 'training.plan', plan('dark,bright'), 'VALIDATION');
  await refused(core, 'training.plan', plan([1, 2]), 'VALIDATION');
  await refused(core, 'training.plan', plan(Array.from({ length: 1001 }, (_, i) => `c${i}`)), 'VALIDATION', /1000/);
  await refused(core, 'training.plan', plan(['dark']), 'VALIDATION', /at least two classes/);
  await refused(core, 'training.plan', plan(['dark', 'dark']), 'VALIDATION', /named twice/);
  await refused(core, 'training.plan', plan(['dark', 'Bright']), 'VALIDATION', /"Bright" is not a class .* Choose from: dark, mid, bright/);
  const startBad = { datasetId: ds.id, task: 'classification', classNames: ['dark', 'nope'], epochs: 1, backend: 'wasm' };
  await refused(core, 'training.start', startBad, 'VALIDATION', /"nope"/);
  assert.equal(core.runs.list(ds.id).length, 0, 'a refused start makes no run');

  // A run on the subset: its config and snapshot name exactly those classes and their images.
  const { jobId } = await ok<{ jobId: string }>(core, 'training.start', { datasetId: ds.id, task: 'classification', classNames: ['bright', 'dark'], epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm' });
  const runId = await finished(core, jobId);
  const run = core.runs.get(runId);
  assert.ok(run.status === 'done' || run.status === 'stopped-early', run.status);
  assert.deepEqual(run.config.classNames, ['dark', 'bright']);
  const snap = core.runs.snapshot(runId) as RunSnapshot;
  assert.deepEqual(snap.samples.classNames, ['dark', 'bright']);
  assert.equal(snap.samples.samples.length, 24);
  const labelOf = new Map(
    (core.db.prepare("SELECT a.item_id AS id, c.name AS name FROM annotations a JOIN label_classes c ON c.id = a.class_id WHERE a.dataset_id = ?").all(ds.id) as { id: number; name: string }[]).map((r) => [r.id, r.name]),
  );
  assert.deepEqual(new Set(snap.samples.samples.map((s) => labelOf.get(s.itemId))), new Set(['dark', 'bright']));
  // The run keeps each image's split as it was (a resume uses it, whatever is redrawn since).
  const splitNow = core.splits.splitMap(ds.id);
  assert.equal(snap.itemSplits?.length, 24);
  for (const [id, sp] of snap.itemSplits ?? []) assert.equal(sp, splitNow.get(id));
  const audit = core.db.prepare("SELECT details FROM audit_log WHERE action = 'train.start'").pluck().get() as string;
  assert.deepEqual(JSON.parse(audit).classNames, ['dark', 'bright']);

  // A redraw after a run warns that the run trained on the previous split.
  const redrawn = await ok<SplitRedrawResult>(core, 'splits.redraw', { datasetId: ds.id, seed: 5 });
  assert.ok(redrawn.warnings.some((w) => w.includes(`Run ${runId} trained on the previous split`)), redrawn.warnings.join(' | '));

  // The CLI: --classes, JSON lines, the start line carrying the run's classes.
  assert.deepEqual(parseClassList(' dark, bright ,'), ['dark', 'bright']);
  assert.equal(parseClassList(undefined), undefined);
  assert.throws(() => parseClassList(' , '), /--classes takes class names/);
  const { ctx, lines } = cliContext(core);
  const code = await runTrain(ctx, [], { dataset: 'Shades', task: 'classify', classes: 'mid,bright', epochs: '1', size: '16', batch: '8', backend: 'wasm' });
  assert.equal(code, 0, lines.join('\n'));
  const parsed = lines.map((l) => JSON.parse(l) as { type: string; runId: number; config?: { classNames: string[] } });
  const start = parsed.find((l) => l.type === 'start');
  assert.deepEqual(start?.config?.classNames, ['mid', 'bright']);
  const done = parsed.at(-1);
  assert.equal(done?.type, 'done');
  assert.deepEqual(core.runs.get(done?.runId as number).config.classNames, ['mid', 'bright']);
  await assert.rejects(runTrain(cliContext(core).ctx, [], { dataset: 'Shades', task: 'classify', classes: 'mid', epochs: '1', backend: 'wasm' }), (e: Error & { code?: string }) => e.code === 'VALIDATION');
});

test('classNames for detection and segmentation: a subset of boxes; background is implicit for masks', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  await createSampleLibrary(core, { size: 'tiny' });
  const road = core.datasets.findByName(SAMPLE_ROAD_DATASET);
  const ct = core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(road && ct);

  const det = await ok<TrainingPlan>(core, 'training.plan', { datasetId: road.id, task: 'detection' });
  assert.deepEqual(det.availableClassNames, ['car', 'pedestrian', 'sign']);
  assert.equal(det.minClasses, 1);
  const cars = await ok<TrainingPlan>(core, 'training.plan', { datasetId: road.id, task: 'detection', classNames: ['car'] });
  assert.deepEqual(cars.classNames, ['car']);
  const boxes = core.db.prepare("SELECT c.name, count(*) AS n FROM annotations a JOIN label_classes c ON c.id = a.class_id WHERE a.dataset_id = ? GROUP BY c.name").all(road.id) as { name: string; n: number }[];
  const notCars = boxes.filter((b) => b.name !== 'car').reduce((s, b) => s + b.n, 0);
  assert.ok(cars.warnings.some((w) => w.startsWith(`${notCars} annotation(s) are of classes the model does not have`)), cars.warnings.join(' | '));

  const seg = await ok<TrainingPlan>(core, 'training.plan', { datasetId: ct.id, task: 'segmentation' });
  assert.deepEqual(seg.classNames, ['background', 'lesion']);
  assert.deepEqual(seg.availableClassNames, ['lesion'], 'background is not a choice');
  const named = await ok<TrainingPlan>(core, 'training.plan', { datasetId: ct.id, task: 'segmentation', classNames: ['background', 'lesion'] });
  assert.deepEqual(named.classNames, ['background', 'lesion']);
  await refused(core, 'training.plan', { datasetId: ct.id, task: 'segmentation', classNames: ['background'] }, 'VALIDATION', /besides background/);
  await refused(core, 'training.plan', { datasetId: ct.id, task: 'segmentation', classNames: ['normal'] }, 'VALIDATION', /"normal" is not a class with usable segmentation labels/);
});

/** itemId -> (split, origin) from the table. */
function rows(core: Core, datasetId: number): Map<number, { split: SplitName; origin: string }> {
  const r = core.db.prepare('SELECT item_id, split, origin FROM splits WHERE dataset_id = ?').all(datasetId) as { item_id: number; split: SplitName; origin: string }[];
  return new Map(r.map((x) => [x.item_id, { split: x.split, origin: x.origin }]));
}

/** Distinct splits per patient, from the tables. */
function splitsPerPatient(core: Core, datasetId: number): Map<string, Set<SplitName>> {
  const r = core.db
    .prepare(
      `SELECT p.patient_key AS patient, sp.split AS split FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id
       JOIN patients p ON p.id = st.patient_id JOIN splits sp ON sp.item_id = i.id WHERE i.dataset_id = ?`,
    )
    .all(datasetId) as { patient: string; split: SplitName }[];
  const out = new Map<string, Set<SplitName>>();
  for (const x of r) (out.get(x.patient) ?? out.set(x.patient, new Set()).get(x.patient))?.add(x.split);
  return out;
}

test('splits.redraw: auto rows drawn again reproducibly with the fractions, a person\'s rows kept, patients whole, audited', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const manifest = await writeSyntheticCtStudies(join(dir, 'ct'), { patients: 12, slicesPerSeries: 3, size: 32, seed: 7 });
  // Only the DICOM series: the generator's lesion masks (PNG) are not images of the dataset.
  for (const p of manifest.patients) rmSync(join(dir, 'ct', p.series.dir, 'masks'), { recursive: true, force: true });
  const ds = core.datasets.create('CT', '');
  assert.equal((await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'ct')] })).counts.failed, 0);
  const lesion = core.annotations.ensureClass(ds.id, 'lesion present');
  const normal = core.annotations.ensureClass(ds.id, 'normal');
  for (const p of manifest.patients) {
    const s = core.db.prepare('SELECT id FROM series WHERE dataset_id = ? AND series_uid = ?').get(ds.id, p.series.seriesInstanceUid) as { id: number };
    core.annotations.create({ datasetId: ds.id, seriesId: s.id, classId: p.label === 'lesion' ? lesion : normal, kind: 'class', geometry: null, source: 'imported', author: 'test' });
  }
  // The plan draws the first split; then a person puts one patient in test.
  const plan = await ok<TrainingPlan>(core, 'training.plan', { datasetId: ds.id, task: 'classification' });
  assert.equal(plan.splits.counts['train']! + plan.splits.counts['val']! + plan.splits.counts['test']!, 36);
  const firstItem = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id LIMIT 1').pluck().get(ds.id)) as number;
  const set = core.splits.setSplit(ds.id, [firstItem], 'test');
  assert.equal(set.written, 3, 'the whole patient (3 slices)');
  const user = [...rows(core, ds.id)].filter(([, r]) => r.origin === 'user');
  assert.equal(user.length, 3);

  const redraw = (seed: number, fractions?: { train: number; val: number; test: number }) => ok<SplitRedrawResult>(core, 'splits.redraw', { datasetId: ds.id, seed, ...(fractions ? { fractions } : {}) });
  const even = { train: 0.4, val: 0.3, test: 0.3 };
  const a = await redraw(11, even);
  assert.equal(a.redrawn, 33);
  assert.deepEqual(a.byOrigin, { auto: 33, user: 3 });
  assert.equal(a.counts.unassigned, 0);
  assert.ok(a.patientGrouped);
  assert.equal(a.patients.train + a.patients.val + a.patients.test, 12);
  assert.ok(a.patients.val >= 2 && a.patients.test >= 3 && a.patients.train >= 3, JSON.stringify(a.patients));
  assert.ok(Math.abs(a.fractions.train - 0.4) < 1e-12 && Math.abs(a.fractions.val - 0.3) < 1e-12);
  assert.deepEqual(a.warnings, [], 'no run trained on the previous split');
  const rowsA = rows(core, ds.id);
  for (const [id, r] of user) assert.deepEqual(rowsA.get(id), r, 'a person\'s split never moves');
  for (const [patient, s] of splitsPerPatient(core, ds.id)) assert.equal(s.size, 1, `patient ${patient} in ${[...s].join(', ')}`);

  // Another seed moves automatic rows (patients still whole); the first seed gives the first split back.
  await redraw(12, even);
  const rowsB = rows(core, ds.id);
  assert.notDeepEqual([...rowsB].map(([id, r]) => [id, r.split]), [...rowsA].map(([id, r]) => [id, r.split]));
  for (const [id, r] of user) assert.deepEqual(rowsB.get(id), r);
  for (const [, s] of splitsPerPatient(core, ds.id)) assert.equal(s.size, 1);
  await redraw(11, even);
  assert.deepEqual([...rows(core, ds.id)].map(([id, r]) => [id, r.split]).sort(), [...rowsA].map(([id, r]) => [id, r.split]).sort());
  // Default fractions when none are given; fractions are scaled (2/1/1 is 0.5/0.25/0.25).
  assert.deepEqual((await redraw(11)).fractions, { train: 0.7, val: 0.15, test: 0.15 });
  assert.deepEqual((await redraw(11, { train: 1, val: 0.5, test: 0.5 })).fractions, { train: 0.5, val: 0.25, test: 0.25 });
  // The training plan shows the redrawn split (it never redraws by itself).
  const after = await ok<TrainingPlan>(core, 'training.plan', { datasetId: ds.id, task: 'classification' });
  const last = core.splits.summary(ds.id);
  assert.deepEqual(after.splits.counts, last.counts);

  const audited = core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'splits.redraw' AND object_id = ?").pluck().get(String(ds.id));
  assert.equal(audited, 5);

  const bad = (input: unknown, message?: RegExp) => refused(core, 'splits.redraw', input, 'VALIDATION', message);
  await bad({ datasetId: ds.id, seed: 1, fractions: { train: 0, val: 0, test: 0 } }, /above 0/);
  await bad({ datasetId: ds.id, seed: 1, fractions: { train: 1.5, val: 0, test: 0 } }, /at most 1/);
  await bad({ datasetId: ds.id, seed: 1, fractions: { train: -0.1, val: 0.5, test: 0.5 } }, /at least 0/);
  await bad({ datasetId: ds.id, seed: 1, fractions: { train: 0.5, val: 0.5 } });
  await bad({ datasetId: ds.id, seed: 1, fractions: { train: 0.5, val: 0.5, test: 0, extra: 1 } });
  await bad({ datasetId: ds.id, seed: 1.5 });
  await bad({ datasetId: ds.id, seed: -1 });
  await bad({ datasetId: ds.id });
  await refused(core, 'splits.redraw', { datasetId: 999, seed: 1 }, 'NOT_FOUND');
  assert.equal(core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'splits.redraw'").pluck().get(), 5, 'refused redraws change nothing');
  assert.deepEqual(rows(core, ds.id).size, 36);
});
