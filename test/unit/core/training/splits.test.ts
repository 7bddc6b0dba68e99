/**
 * Splits on real libraries built through the import engine: patient-grouped
 * (the DICOMDIR test series: two patients with several series each, plus
 * generated patients made from them), stratified by label (generated PNGs
 * and the Udacity road photos), reproducible, additive, and never moving a
 * split a person set.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import dicomParser from 'dicom-parser';
import sharp from 'sharp';
import type { SplitName } from '../../../../electron/contract/ml';
import type { Core } from '../../../../electron/core/composition-root';
import { labelStratifier, SplitService } from '../../../../electron/core/training/splits';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

const DICOMDIR_TESTS = join(SHARED_TESTDATA, 'dicom/pydicom/dicomdirtests');

/** The instance files of the DICOMDIR test set (not the DICOMDIR files themselves). */
function dicomdirInstances(): string[] {
  const out: string[] = [];
  for (const patient of readdirSync(DICOMDIR_TESTS)) {
    const p = join(DICOMDIR_TESTS, patient);
    if (!statSync(p).isDirectory()) continue;
    for (const series of readdirSync(p)) for (const f of readdirSync(join(p, series))) out.push(join(p, series, f));
  }
  return out.sort();
}

/** Overwrite the end of a text value in place, keeping its length (and so every other byte). */
function overwriteTail(bytes: Uint8Array, el: { dataOffset: number; length: number } | undefined, text: string): void {
  assert.ok(el && el.length >= text.length);
  let end = el.dataOffset + el.length;
  while (end > el.dataOffset && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
  for (let i = 0; i < text.length; i++) bytes[end - text.length + i] = text.charCodeAt(i);
}

/**
 * Copies of the DICOMDIR instances as other patients: copy k gets Patient IDs
 * ending in k (2 digits) and new SOP Instance UIDs (uidBase + file index).
 */
function writePatientCopies(dir: string, ks: readonly number[], uidBase = 0): void {
  const files = dicomdirInstances();
  for (const k of ks) {
    files.forEach((src, i) => {
      const bytes = new Uint8Array(readFileSync(src));
      const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
      overwriteTail(bytes, ds.elements['x00100020'], String(k).padStart(2, '0'));
      const uid = String(uidBase + k * 100 + i).padStart(8, '0');
      overwriteTail(bytes, ds.elements['x00080018'], uid);
      overwriteTail(bytes, ds.elements['x00020003'], uid);
      const out = join(dir, `copy${k}-${uidBase}`, relative(DICOMDIR_TESTS, src));
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, bytes);
    });
  }
}

function splitRows(core: Core, datasetId: number): Map<number, { split: SplitName; origin: string }> {
  const rows = core.db.prepare('SELECT item_id, split, origin FROM splits WHERE dataset_id = ?').all(datasetId) as { item_id: number; split: SplitName; origin: string }[];
  return new Map(rows.map((r) => [r.item_id, { split: r.split, origin: r.origin }]));
}

/** Patients with items in more than one split, from the tables directly (not from the service). */
function patientsInSeveralSplits(core: Core, datasetId: number): string[] {
  return (
    core.db
      .prepare(
        `SELECT p.patient_key FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id
         JOIN patients p ON p.id = st.patient_id JOIN splits sp ON sp.item_id = i.id
         WHERE i.dataset_id = ? GROUP BY p.id HAVING count(DISTINCT sp.split) > 1`,
      )
      .pluck()
      .all(datasetId) as string[]
  );
}

function itemsOfPatient(core: Core, datasetId: number, key: string): number[] {
  return core.db
    .prepare(
      `SELECT i.id FROM items i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id
       JOIN patients p ON p.id = st.patient_id WHERE i.dataset_id = ? AND p.patient_key = ? ORDER BY i.id`,
    )
    .pluck()
    .all(datasetId, key) as number[];
}

test('DICOM splits are by patient: ensure, a user move, redraw and later imports never split a patient', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('ct-mr', '');
  writePatientCopies(join(dir, 'gen'), [60, 61, 62, 63, 64, 65]);
  const imported = await core.importFiles({ datasetId: ds.id, paths: [DICOMDIR_TESTS, join(dir, 'gen')] });
  assert.equal(imported.counts.imported, 31 * 7);
  const service = new SplitService(core.db, core.audit);

  const first = service.ensureSplits(ds.id, { seed: 7 });
  assert.equal(first.assigned, 217);
  assert.equal(first.counts.unassigned, 0);
  assert.equal(first.items, 217);
  assert.equal(first.patientGrouped, true);
  assert.deepEqual(patientsInSeveralSplits(core, ds.id), []);
  const patientTotal = first.patients.train + first.patients.val + first.patients.test;
  assert.equal(patientTotal, 14, 'each of the 14 patients is counted in exactly one split');
  for (const s of ['train', 'val', 'test'] as const) assert.ok(first.patients[s] >= 1, `${s} has a patient`);

  // A person moves one slice: the whole patient moves with it, and the call says so.
  const key = '98890234';
  const members = itemsOfPatient(core, ds.id, key);
  assert.equal(members.length, 24);
  const currentSplit = splitRows(core, ds.id).get(members[0] as number)?.split;
  const target: SplitName = currentSplit === 'test' ? 'val' : 'test';
  const moved = service.setSplit(ds.id, [members[5] as number], target);
  assert.equal(moved.requested, 1);
  assert.equal(moved.written, 24);
  assert.equal(moved.addedFromPatients, 23);
  assert.deepEqual(moved.patients, [key]);
  const afterMove = splitRows(core, ds.id);
  for (const id of members) assert.deepEqual(afterMove.get(id), { split: target, origin: 'user' });
  assert.deepEqual(patientsInSeveralSplits(core, ds.id), []);

  // ensureSplits adds nothing; redraw moves auto rows only.
  assert.equal(service.ensureSplits(ds.id, { seed: 7 }).assigned, 0);
  assert.deepEqual(splitRows(core, ds.id), afterMove);
  const redrawn = service.redraw(ds.id, 8);
  assert.equal(redrawn.patientGrouped, true);
  const afterRedraw = splitRows(core, ds.id);
  for (const id of members) assert.deepEqual(afterRedraw.get(id), { split: target, origin: 'user' }, 'the user split survives a redraw');
  assert.equal(redrawn.byOrigin.user, 24);

  // Later: a new patient, and new slices of a patient that has a split already.
  const before = splitRows(core, ds.id);
  writePatientCopies(join(dir, 'later'), [66]);
  writePatientCopies(join(dir, 'more-of-60'), [60], 5_000_000);
  const later = await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'later'), join(dir, 'more-of-60')] });
  assert.equal(later.counts.imported, 62);
  const added = service.ensureSplits(ds.id, { seed: 8 });
  assert.equal(added.assigned, 62);
  assert.equal(added.joinedPatient, 31, 'the new slices of an existing patient join its split');
  const after = splitRows(core, ds.id);
  for (const [id, row] of before) assert.deepEqual(after.get(id), row, `item ${id} kept its split`);
  assert.equal(added.patientGrouped, true);
  assert.deepEqual(patientsInSeveralSplits(core, ds.id), []);
  const audit = core.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'splits.%'").get() as { n: number };
  assert.ok(audit.n >= 4);
});

async function writePngs(dir: string, names: readonly string[], offset = 0): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await Promise.all(
    names.map((name, i) => {
      // Distinct pixels per file (distinct hashes): the index in the first bytes.
      const raw = Buffer.alloc(8 * 8, 0);
      const k = offset + i;
      raw[0] = k & 0xff;
      raw[1] = (k >> 8) & 0xff;
      raw[2] = 77;
      return sharp(raw, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(join(dir, name));
    }),
  );
}

const FRACTIONS = { train: 0.7, val: 0.15, test: 0.15 };

function assertProportions(perClass: Record<string, Record<SplitName, number>>, totals: Record<string, number>, tolerance: number): void {
  for (const [cls, n] of Object.entries(totals)) {
    const c = perClass[cls];
    assert.ok(c, `class ${cls} is in the summary`);
    assert.equal(c.train + c.val + c.test, n, `every ${cls} item has a split`);
    for (const s of ['train', 'val', 'test'] as const) {
      assert.ok(Math.abs(c[s] - FRACTIONS[s] * n) <= tolerance, `${cls}/${s}: ${c[s]} of ${n} (want ${FRACTIONS[s] * n} ± ${tolerance})`);
    }
  }
}

test('image splits are stratified by label, reproducible for a seed, and additions never move earlier items', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const names = (cls: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${cls}_${String(i).padStart(3, '0')}.png`);
  const classes = { a: 80, b: 40, c: 20 };
  const files = Object.entries(classes).flatMap(([cls, n]) => names(cls, n));
  await writePngs(join(dir, 'gen'), files);
  const ds = core.datasets.create('mixed', '');
  const imp = await core.importFiles({
    datasetId: ds.id,
    paths: [join(dir, 'gen'), join(SHARED_TESTDATA, 'road/udacity-lanelines'), join(SHARED_TESTDATA, 'road/udacity-vehicle')],
  });
  assert.equal(imp.counts.imported, 146);
  const road = [...readdirSync(join(SHARED_TESTDATA, 'road/udacity-lanelines')), ...readdirSync(join(SHARED_TESTDATA, 'road/udacity-vehicle'))];
  const csv = join(dir, 'labels.csv');
  writeFileSync(csv, ['filename,label', ...files.map((f) => `${f},${f.split('_')[0]}`), ...road.map((f) => `${f},road`)].join('\n'));
  await core.importLabels(ds.id, csv, 'csv', 'tester');

  const service = new SplitService(core.db, core.audit);
  const stratifyBy = labelStratifier(core.db, ds.id);
  const first = service.ensureSplits(ds.id, { seed: 1, fractions: FRACTIONS, stratifyBy });
  assert.equal(first.counts.unassigned, 0);
  assertProportions(first.perClass, { ...classes, road: 6 }, 1);
  // Plain images are their own groups; no DICOM patients here.
  assert.deepEqual(first.patients, { train: 0, val: 0, test: 0 });
  assert.equal(first.groups.train + first.groups.val + first.groups.test, 146);
  const seed1 = splitRows(core, ds.id);

  // Same seed -> same; another seed -> another draw; back -> the first again.
  service.redraw(ds.id, 1, { fractions: FRACTIONS, stratifyBy });
  assert.deepEqual(splitRows(core, ds.id), seed1);
  const other = service.redraw(ds.id, 2, { fractions: FRACTIONS, stratifyBy });
  assertProportions(other.perClass, { ...classes, road: 6 }, 1);
  const seed2 = splitRows(core, ds.id);
  const differing = [...seed1].filter(([id, r]) => seed2.get(id)?.split !== r.split).length;
  assert.ok(differing > 20, `a different seed draws differently (${differing} items differ)`);
  service.redraw(ds.id, 1, { fractions: FRACTIONS, stratifyBy });
  assert.deepEqual(splitRows(core, ds.id), seed1);

  // The same files in another library get the same splits for the same seed (keyed by content, not row ids).
  const second = tempCore();
  t.after(second.cleanup);
  const ds2 = second.core.datasets.create('mixed', '');
  await second.core.importFiles({ datasetId: ds2.id, paths: [join(dir, 'gen')] });
  await second.core.importLabels(ds2.id, csv, 'csv', 'tester');
  new SplitService(second.core.db).ensureSplits(ds2.id, { seed: 1, fractions: FRACTIONS, stratifyBy: labelStratifier(second.core.db, ds2.id) });
  const byName = (c: Core, id: number) =>
    new Map(
      (c.db.prepare('SELECT i.source_name AS n, s.split FROM items i JOIN splits s ON s.item_id = i.id WHERE i.dataset_id = ?').all(id) as { n: string; split: string }[]).map(
        (r) => [r.n.slice(r.n.lastIndexOf('/') + 1), r.split],
      ),
    );
  const here = byName(core, ds.id);
  let same = 0;
  for (const [n, s] of byName(second.core, ds2.id)) if (here.get(n) === s) same++;
  // Strata of the generated classes hold the same items in both libraries (the road photos are only here).
  assert.equal(same, 140);

  // A person's split is never redrawn or re-filled.
  const chosen = core.db.prepare("SELECT id FROM items WHERE dataset_id = ? AND source_name LIKE '%a_00%' ORDER BY id LIMIT 5").pluck().all(ds.id) as number[];
  const set = service.setSplit(ds.id, chosen, 'test');
  assert.equal(set.written, 5);
  assert.equal(set.addedFromPatients, 0, 'plain images move alone');
  service.redraw(ds.id, 3, { fractions: FRACTIONS, stratifyBy });
  service.ensureSplits(ds.id, { seed: 4, stratifyBy });
  const rows = splitRows(core, ds.id);
  for (const id of chosen) assert.deepEqual(rows.get(id), { split: 'test', origin: 'user' });

  // Adding items later assigns only them, and pulls the class back toward its proportions.
  const before = splitRows(core, ds.id);
  const moreB = Array.from({ length: 30 }, (_, i) => `b_${String(100 + i)}.png`);
  await writePngs(join(dir, 'more'), moreB, 1000);
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'more')] });
  const csv2 = join(dir, 'more.csv');
  writeFileSync(csv2, ['filename,label', ...moreB.map((f) => `${f},b`)].join('\n'));
  await core.importLabels(ds.id, csv2, 'csv', 'tester');
  const added = service.ensureSplits(ds.id, { seed: 3, fractions: FRACTIONS, stratifyBy: labelStratifier(core.db, ds.id) });
  assert.equal(added.assigned, 30);
  const after = splitRows(core, ds.id);
  for (const [id, row] of before) assert.deepEqual(after.get(id), row);
  const b = added.perClass['b'] as Record<SplitName, number>;
  assert.equal(b.train + b.val + b.test, 70);
  for (const s of ['train', 'val', 'test'] as const) assert.ok(Math.abs(b[s] - FRACTIONS[s] * 70) <= 2, `b/${s}: ${b[s]} of 70`);
});

test('few patients per label stratum: every split still gets a patient, for any seed', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('few', '');
  writePatientCopies(join(dir, 'six'), [70, 71, 72, 73, 74, 75]);
  const imported = await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'six')] });
  assert.equal(imported.counts.imported, 31 * 6);
  // 12 patients (each copy holds the DICOMDIR's two), each alone in its stratum (say, a rare
  // finding per patient): a stratum with one group goes to train, the largest fraction.
  const stratumOfItem = new Map<number, string>();
  for (const k of [70, 71, 72, 73, 74, 75]) {
    // The copies keep the DICOMDIR's two patient ids with the last two digits replaced by k.
    const keys = core.db.prepare("SELECT patient_key FROM patients WHERE patient_key LIKE ?").pluck().all(`%${k}`) as string[];
    for (const key of keys) for (const id of itemsOfPatient(core, ds.id, key)) stratumOfItem.set(id, `finding-${key}`);
  }
  for (let seed = 1; seed <= 8; seed++) {
    core.db.prepare('DELETE FROM splits WHERE dataset_id = ?').run(ds.id);
    const s = new SplitService(core.db, core.audit).ensureSplits(ds.id, { seed, stratifyBy: (id) => stratumOfItem.get(id) ?? null });
    assert.deepEqual(patientsInSeveralSplits(core, ds.id), [], `seed ${seed}: no patient in two splits`);
    for (const sp of ['train', 'val', 'test'] as const) assert.ok(s.patients[sp] >= 1, `seed ${seed}: ${sp} has a patient (${JSON.stringify(s.patients)})`);
    assert.ok(s.patients.train >= s.patients.val && s.patients.train >= s.patients.test, `seed ${seed}: train stays the largest (${JSON.stringify(s.patients)})`);
  }
});

test('a stratum of two or three patients is spread: validation (and, from three, test) gets one of them, for any seed', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('small strata', '');
  writePatientCopies(join(dir, 'six'), [70, 71, 72, 73, 74, 75]);
  await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'six')] });
  // 12 patients: 2 with a lesion, 3 with a nodule, the rest normal (the sample CT's shape,
  // where all three lesion patients used to land in train and segmentation could not train).
  const keys = core.db.prepare('SELECT patient_key FROM patients ORDER BY patient_key').pluck().all() as string[];
  assert.equal(keys.length, 12);
  const stratumOfKey = new Map(keys.map((k, i) => [k, i < 2 ? 'lesion' : i < 5 ? 'nodule' : 'normal']));
  const stratumOfItem = new Map<number, string>();
  for (const k of keys) for (const id of itemsOfPatient(core, ds.id, k)) stratumOfItem.set(id, stratumOfKey.get(k) as string);
  for (let seed = 1; seed <= 8; seed++) {
    core.db.prepare('DELETE FROM splits WHERE dataset_id = ?').run(ds.id);
    new SplitService(core.db, core.audit).ensureSplits(ds.id, { seed, stratifyBy: (id) => stratumOfItem.get(id) ?? null });
    assert.deepEqual(patientsInSeveralSplits(core, ds.id), [], `seed ${seed}: no patient in two splits`);
    const splitOf = new Map(core.db.prepare('SELECT item_id, split FROM splits WHERE dataset_id = ?').all(ds.id).map((r) => [(r as { item_id: number }).item_id, (r as { split: string }).split]));
    const splitsOf = (stratum: string): Set<string> =>
      new Set(keys.filter((k) => stratumOfKey.get(k) === stratum).flatMap((k) => itemsOfPatient(core, ds.id, k).map((id) => splitOf.get(id) as string)));
    assert.deepEqual([...splitsOf('lesion')].sort(), ['train', 'val'], `seed ${seed}: lesion patients`);
    assert.deepEqual([...splitsOf('nodule')].sort(), ['test', 'train', 'val'], `seed ${seed}: nodule patients`);
  }
});
