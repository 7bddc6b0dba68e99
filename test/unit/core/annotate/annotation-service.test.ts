/**
 * Labeling through the core's dispatch (schemas and handlers together), on a real temporary
 * library with a synthetic CT series and a multi-frame DICOM: create/update/delete/restore with
 * optimistic concurrency, the author from settings (or the OS user under policy), audit rows,
 * status workflow, model proposals, the label schema, and refusal of bad payloads.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RequestInput, RequestName, Responses } from '../../../../electron/contract/api';
import type { FoveaError } from '../../../../electron/contract/result';
import type { Core } from '../../../../electron/core/composition-root';
import { writeSyntheticCtStudies } from '../../../../electron/core/samples/synthetic-ct';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore, tempDir } from '../../../helpers/temp-library';

const TWO_FRAMES = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'SC_rgb_rle_2frame.dcm');
const SIZE = 48;

let core: Core;
let cleanup: () => void;
let datasetId: number;
let seriesId: number;
let slices: number[];
let multiFrame: { id: number; rows: number; columns: number };

async function call<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Responses[K]> {
  const r = await core.dispatch(name, input);
  if (!r.ok) throw new Error(`${name} failed: ${r.error.code} ${r.error.message}`);
  return r.value as Responses[K];
}

async function fail(name: RequestName, input: unknown): Promise<FoveaError> {
  const r = await core.dispatch(name, input);
  assert.equal(r.ok, false, `${name} should have failed`);
  return (r as { ok: false; error: FoveaError }).error;
}

function auditRows(action: string): { actor: string | null; object_id: string | null; details: string | null }[] {
  return core.db.prepare('SELECT actor, object_id, details FROM audit_log WHERE action = ? ORDER BY id').all(action) as never;
}

/** A filled rows x columns RLE with a w x h rectangle at (x, y) (column-major, as COCO). */
function rectRle(rows: number, columns: number, x: number, y: number, w: number, h: number): { size: [number, number]; counts: number[] } {
  const counts: number[] = [];
  let prev = 0;
  let run = 0;
  for (let c = 0; c < columns; c++) {
    for (let r = 0; r < rows; r++) {
      const v = c >= x && c < x + w && r >= y && r < y + h ? 1 : 0;
      if (v !== prev) {
        counts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [rows, columns], counts };
}

let dataDir: { dir: string; cleanup(): void };

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  dataDir = tempDir('fovea-annotate-data-');
  await writeSyntheticCtStudies(dataDir.dir, { patients: 1, slicesPerSeries: 4, size: SIZE, seed: 7 });
  const seriesDir = join(dataDir.dir, 'SYNTH-001', 'CT_AXIAL');
  const files = readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).map((f) => join(seriesDir, f));
  const ds = core.datasets.create('Label test', '');
  datasetId = ds.id;
  await core.importFiles({ datasetId, paths: [...files, TWO_FRAMES] });
  const rows = core.db.prepare('SELECT id, series_id AS s, rows, columns, frames FROM items WHERE dataset_id = ? ORDER BY instance_number, id').all(datasetId) as {
    id: number;
    s: number;
    rows: number;
    columns: number;
    frames: number;
  }[];
  const ct = rows.filter((r) => r.rows === SIZE);
  assert.equal(ct.length, 4);
  seriesId = ct[0]!.s;
  slices = ct.map((r) => r.id);
  const mf = rows.find((r) => r.frames === 2);
  assert.ok(mf);
  multiFrame = { id: mf.id, rows: mf.rows, columns: mf.columns };
});

after(() => {
  cleanup?.();
  dataDir?.cleanup();
});

describe('annotator settings', () => {
  test('labels are refused until the annotator has a name; the name is then recorded and audited', async () => {
    const cls = await call('classes.create', { datasetId, name: 'lesion' });
    const e = await fail('annotations.create', { itemId: slices[0], classId: cls.id, kind: 'box', geometry: { x: 1, y: 1, width: 5, height: 5 } });
    assert.equal(e.code, 'VALIDATION');
    assert.match(e.message, /name/);
    const before = await call('settings.get', {});
    assert.equal(before.annotatorName, null);
    assert.equal(before.annotatorLocked, false);
    const s = await call('settings.set', { annotatorName: '  Dr Ada  ' });
    assert.equal(s.annotatorName, 'Dr Ada');
    assert.equal(s.hotkeys['image.next'], 'n');
    assert.equal(auditRows('settings.change').at(-1)?.actor, 'Dr Ada');
  });

  test('hotkeys: a saved map comes back; one key for two actions is CONFLICT; a malformed key is VALIDATION', async () => {
    const s = await call('settings.set', { hotkeys: { 'image.next': 'ArrowRight', 'tool.box': 'r' } });
    assert.equal(s.hotkeys['image.next'], 'ArrowRight');
    assert.equal(s.hotkeys['tool.box'], 'r');
    assert.equal(s.hotkeys['tool.polygon'], 'g');
    assert.equal((await fail('settings.set', { hotkeys: { 'tool.box': 'G' } })).code, 'CONFLICT');
    assert.equal((await fail('settings.set', { hotkeys: { 'tool.box': 'b c' } })).code, 'VALIDATION');
    assert.equal((await fail('settings.set', { hotkeys: { 'no.such.action': 'q' } })).code, 'VALIDATION');
    await call('settings.set', { hotkeys: { 'image.next': 'n', 'tool.box': 'b' } });
  });

  test('under policy annotatorFromOsUser the OS user is the annotator, locked, and recorded without asking', async () => {
    const t = tempCore({ policy: { source: 'policy', policy: { annotatorFromOsUser: true }, sources: [], origins: {}, errors: [], warnings: [] } });
    try {
      const s = await t.core.dispatch('settings.get', {});
      assert.ok(s.ok);
      const value = s.value as Responses['settings.get'];
      assert.deepEqual([value.annotatorName, value.annotatorLocked], [userInfo().username, true]);
      const set = await t.core.dispatch('settings.set', { annotatorName: 'someone else' });
      assert.equal(set.ok, false);
      assert.equal(!set.ok && set.error.code, 'FORBIDDEN');
      // Labels need no name from the user: the OS user is recorded.
      const ds = t.core.datasets.create('Policy', '');
      await t.core.importFiles({ datasetId: ds.id, paths: [TWO_FRAMES] });
      const item = t.core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').get(ds.id) as { id: number };
      const cls = t.core.annotations.ensureClass(ds.id, 'thing');
      const created = await t.core.dispatch('annotations.create', { itemId: item.id, classId: cls, kind: 'class' });
      assert.ok(created.ok);
      assert.equal((created.value as Responses['annotations.create']).author, userInfo().username);
      const audit = t.core.db.prepare("SELECT actor FROM audit_log WHERE action = 'annotation.create'").get() as { actor: string };
      assert.equal(audit.actor, userInfo().username);
    } finally {
      t.cleanup();
    }
  });
});

describe('annotations', () => {
  test('a box is stored in image pixels with its author, audited, and moves the image to in_progress', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const a = await call('annotations.create', { itemId: slices[0], classId: cls.id, kind: 'box', geometry: { x: 4.5, y: 6, width: 10.25, height: 8 } });
    assert.deepEqual(a.geometry, { x: 4.5, y: 6, width: 10.25, height: 8 });
    assert.deepEqual([a.author, a.source, a.status, a.version, a.frame], ['Dr Ada', 'human', 'active', 1, null]);
    const stored = core.db.prepare('SELECT geometry, author FROM annotations WHERE id = ?').get(a.id) as { geometry: string; author: string };
    assert.deepEqual(JSON.parse(stored.geometry), { x: 4.5, y: 6, width: 10.25, height: 8 });
    assert.equal(stored.author, 'Dr Ada');
    const audit = auditRows('annotation.create').at(-1)!;
    assert.equal(audit.actor, 'Dr Ada');
    assert.equal(audit.object_id, String(a.id));
    assert.equal(JSON.parse(audit.details ?? '{}').kind, 'box');
    const labels = await call('annotations.list', { itemId: slices[0]! });
    assert.equal(labels.item?.status, 'in_progress');
    assert.deepEqual(labels.annotations.map((x) => x.id), [a.id]);
    assert.equal(core.audit.verify(), null);
  });

  test('update with the current version bumps it; a stale version is CONFLICT with the current row and changes nothing', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const a = await call('annotations.create', { itemId: slices[1], classId: cls.id, kind: 'polygon', geometry: { points: [[1, 1], [20, 2], [10, 15]] } });
    const b = await call('annotations.update', { id: a.id, expectedVersion: 1, geometry: { points: [[2, 2], [20, 2], [10, 15], [3, 12]] } });
    assert.equal(b.version, 2);
    const e = await fail('annotations.update', { id: a.id, expectedVersion: 1, geometry: { points: [[0, 0], [5, 0], [5, 5]] } });
    assert.equal(e.code, 'CONFLICT');
    assert.equal((e.details as { current: { version: number } }).current.version, 2);
    const now = core.annotations.get(a.id)!;
    assert.deepEqual(now.geometry, { points: [[2, 2], [20, 2], [10, 15], [3, 12]] });
    assert.equal(now.version, 2);
    assert.equal(auditRows('annotation.update').length, 1);
  });

  test('delete keeps the row (status deleted) and restore brings it back; both versioned and audited', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const a = await call('annotations.create', { itemId: slices[2], classId: cls.id, kind: 'mask', geometry: { rle: rectRle(SIZE, SIZE, 3, 4, 6, 7) } });
    const d = await call('annotations.delete', { id: a.id, expectedVersion: 1 });
    assert.equal(d.status, 'deleted');
    assert.deepEqual((await call('annotations.list', { itemId: slices[2]! })).annotations, []);
    assert.equal((await fail('annotations.update', { id: a.id, expectedVersion: 2, classId: cls.id })).code, 'NOT_FOUND');
    assert.equal((await fail('annotations.restore', { id: a.id, expectedVersion: 1 })).code, 'CONFLICT');
    const r = await call('annotations.restore', { id: a.id, expectedVersion: 2 });
    assert.deepEqual([r.status, r.version], ['active', 3]);
    assert.deepEqual(r.geometry, { rle: rectRle(SIZE, SIZE, 3, 4, 6, 7) });
    assert.equal(auditRows('annotation.delete').length, 1);
    assert.equal(auditRows('annotation.restore').length, 1);
  });

  test('frames of a multi-frame image: a frame sees its own labels and the whole image\'s', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const box = { x: 1, y: 1, width: 4, height: 4 };
    const f0 = await call('annotations.create', { itemId: multiFrame.id, frame: 0, classId: cls.id, kind: 'box', geometry: box });
    const f1 = await call('annotations.create', { itemId: multiFrame.id, frame: 1, classId: cls.id, kind: 'box', geometry: box });
    const whole = await call('annotations.create', { itemId: multiFrame.id, classId: cls.id, kind: 'class' });
    assert.deepEqual([f0.frame, f1.frame, whole.frame], [0, 1, null]);
    assert.deepEqual((await call('annotations.list', { itemId: multiFrame.id, frame: 1 })).annotations.map((x) => x.id), [f1.id, whole.id]);
    assert.equal((await fail('annotations.create', { itemId: multiFrame.id, frame: 2, classId: cls.id, kind: 'box', geometry: box })).code, 'VALIDATION');
  });

  test('shapes must fit their image; masks must be exactly its size', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const at = { itemId: slices[3], classId: cls.id };
    assert.match((await fail('annotations.create', { ...at, kind: 'box', geometry: { x: 100, y: 1, width: 5, height: 5 } })).message, /outside the 48x48 image/);
    assert.match((await fail('annotations.create', { ...at, kind: 'polygon', geometry: { points: [[1, 1], [90, 1], [1, 9]] } })).message, /outside/);
    assert.match((await fail('annotations.create', { ...at, kind: 'mask', geometry: { rle: rectRle(20, 20, 1, 1, 2, 2) } })).message, /20x20 but the image is 48x48/);
  });

  test('bad payloads are VALIDATION errors: bad RLE sums, negative counts, huge polygons, NaN, extra fields', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const at = { itemId: slices[3], classId: cls.id };
    const bad: [string, unknown][] = [
      ['counts that do not add up', { ...at, kind: 'mask', geometry: { rle: { size: [SIZE, SIZE], counts: [10, 5] } } }],
      ['a negative count', { ...at, kind: 'mask', geometry: { rle: { size: [SIZE, SIZE], counts: [SIZE * SIZE + 5, -5] } } }],
      ['a fractional count', { ...at, kind: 'mask', geometry: { rle: { size: [SIZE, SIZE], counts: [SIZE * SIZE - 0.5, 0.5] } } }],
      ['a huge mask size', { ...at, kind: 'mask', geometry: { rle: { size: [100000, 100000], counts: [1e10] } } }],
      ['too many polygon points', { ...at, kind: 'polygon', geometry: { points: Array.from({ length: 10001 }, (_, i) => [i % 40, (i * 7) % 40]) } }],
      ['a polygon of two points', { ...at, kind: 'polygon', geometry: { points: [[1, 1], [2, 2]] } }],
      ['a NaN coordinate', { ...at, kind: 'box', geometry: { x: Number.NaN, y: 1, width: 2, height: 2 } }],
      ['a coordinate far outside', { ...at, kind: 'box', geometry: { x: 1e12, y: 1, width: 2, height: 2 } }],
      ['a zero-width box', { ...at, kind: 'box', geometry: { x: 1, y: 1, width: 0, height: 2 } }],
      ['an extra field', { ...at, kind: 'box', geometry: { x: 1, y: 1, width: 2, height: 2, z: 1 } }],
      ['an author from the renderer', { ...at, kind: 'box', author: 'mallory', geometry: { x: 1, y: 1, width: 2, height: 2 } }],
      ['geometry of another kind', { ...at, kind: 'box', geometry: { points: [[1, 1], [2, 2], [3, 1]] } }],
      ['an unknown kind', { ...at, kind: 'ellipse', geometry: {} }],
    ];
    const count = (core.db.prepare('SELECT count(*) AS n FROM annotations').get() as { n: number }).n;
    for (const [what, payload] of bad) {
      const e = await fail('annotations.create', payload);
      assert.equal(e.code, 'VALIDATION', `${what}: ${e.code} ${e.message}`);
    }
    assert.equal((core.db.prepare('SELECT count(*) AS n FROM annotations').get() as { n: number }).n, count);
    // An RLE with a wrong sum is refused on update too.
    const m = (await call('annotations.list', { itemId: slices[2]! })).annotations[0]!;
    assert.equal((await fail('annotations.update', { id: m.id, expectedVersion: m.version, geometry: { rle: { size: [SIZE, SIZE], counts: [1, 2, 3] } } })).code, 'VALIDATION');
  });

  test('image and series classes: single-label refuses a second class, multi-label takes several, never the same twice', async () => {
    const schema = await call('classes.schema', { datasetId });
    assert.equal(schema.multiLabel, false);
    const normal = await call('classes.create', { datasetId, name: 'normal', hotkey: '2' });
    const nodule = await call('classes.create', { datasetId, name: 'nodule', color: '#ff0000', hotkey: '3' });
    const a = await call('annotations.create', { seriesId, classId: normal.id, kind: 'class' });
    assert.equal(a.seriesId, seriesId);
    const e = await fail('annotations.create', { seriesId, classId: nodule.id, kind: 'class' });
    assert.equal(e.code, 'CONFLICT');
    assert.match(e.message, /one class per image/);
    assert.equal((await fail('annotations.create', { seriesId, classId: normal.id, kind: 'box', geometry: { x: 1, y: 1, width: 2, height: 2 } })).code, 'VALIDATION');
    await call('classes.setMultiLabel', { datasetId, multiLabel: true });
    const b = await call('annotations.create', { seriesId, classId: nodule.id, kind: 'class' });
    assert.match((await fail('annotations.create', { seriesId, classId: nodule.id, kind: 'class' })).message, /already has the class "nodule"/);
    // A series' classes show with each of its images, and with the whole series.
    assert.ok((await call('annotations.list', { itemId: slices[0]! })).annotations.some((x) => x.id === b.id));
    const series = await call('annotations.list', { seriesId });
    assert.ok(series.annotations.length >= 5);
    assert.equal(series.series?.status, 'in_progress');
    await call('classes.setMultiLabel', { datasetId, multiLabel: false });
  });

  test('model proposals: accept makes a human annotation of the annotator (audited); edit-then-accept; reject', async () => {
    const cls = (await call('classes.schema', { datasetId })).classes[0]!;
    const propose = (x: number): number =>
      core.annotations.create({ datasetId, itemId: slices[3]!, classId: cls.id, kind: 'box', geometry: { x, y: 2, width: 6, height: 6 }, source: 'model', status: 'proposed', score: 0.87, author: 'model run 1' });
    const [p1, p2, p3] = [propose(2), propose(12), propose(22)];
    const listed = (await call('annotations.list', { itemId: slices[3]! })).annotations;
    assert.deepEqual(listed.filter((x) => x.status === 'proposed').map((x) => [x.id, x.score, x.source]), [[p1, 0.87, 'model'], [p2, 0.87, 'model'], [p3, 0.87, 'model']]);

    const a = await call('annotations.review', { id: p1, expectedVersion: 1, action: 'accept' });
    assert.deepEqual([a.source, a.status, a.author, a.score, a.version], ['human', 'active', 'Dr Ada', null, 2]);
    assert.deepEqual(a.geometry, { x: 2, y: 2, width: 6, height: 6 });
    const audit = auditRows('annotation.accept').at(-1)!;
    assert.equal(audit.actor, 'Dr Ada');
    assert.deepEqual([JSON.parse(audit.details!).proposedBy, JSON.parse(audit.details!).score], ['model run 1', 0.87]);
    assert.equal((await fail('annotations.review', { id: p1, expectedVersion: 2, action: 'accept' })).code, 'CONFLICT');

    // Edit (the proposal stays the model's), then accept.
    const edited = await call('annotations.update', { id: p2, expectedVersion: 1, geometry: { x: 13, y: 3, width: 5, height: 5 } });
    assert.deepEqual([edited.status, edited.source, edited.author], ['proposed', 'model', 'model run 1']);
    const b = await call('annotations.review', { id: p2, expectedVersion: 2, action: 'accept', geometry: { x: 13, y: 3, width: 5.5, height: 5 } });
    assert.deepEqual([b.source, b.status, b.author], ['human', 'active', 'Dr Ada']);
    assert.deepEqual(b.geometry, { x: 13, y: 3, width: 5.5, height: 5 });

    const c = await call('annotations.review', { id: p3, expectedVersion: 1, action: 'reject' });
    assert.equal(c.status, 'rejected');
    assert.ok(!(await call('annotations.list', { itemId: slices[3]! })).annotations.some((x) => x.id === p3));
    assert.equal(auditRows('annotation.reject').length, 1);
    assert.equal((await fail('annotations.update', { id: p3, expectedVersion: 2, geometry: { x: 1, y: 1, width: 2, height: 2 } })).code, 'CONFLICT');
  });

  test('status workflow: rejected needs a comment; who and when are kept; audit has no comment text', async () => {
    assert.equal((await fail('items.setStatus', { itemId: slices[0], status: 'rejected' })).code, 'VALIDATION');
    assert.equal((await fail('items.setStatus', { itemId: slices[0], seriesId, status: 'done' })).code, 'VALIDATION');
    assert.equal((await fail('items.setStatus', { itemId: 999999, status: 'done' })).code, 'NOT_FOUND');
    const s = await call('items.setStatus', { itemId: slices[0]!, status: 'needs_review' });
    assert.deepEqual([s.status, s.by, s.comment], ['needs_review', 'Dr Ada', null]);
    const r = await call('items.setStatus', { itemId: slices[0]!, status: 'rejected', comment: 'Lesion margin of patient Smith missed' });
    assert.deepEqual([r.status, r.comment], ['rejected', 'Lesion margin of patient Smith missed']);
    const last = auditRows('item.status').at(-1)!;
    assert.deepEqual(JSON.parse(last.details!), { from: 'needs_review', to: 'rejected', comment: true });
    assert.doesNotMatch(last.details!, /Smith/);
    const series = await call('items.setStatus', { seriesId, status: 'approved' });
    assert.equal(series.status, 'approved');
    assert.equal((await call('annotations.list', { itemId: slices[0]! })).series?.status, 'approved');
    const page = await call('items.list', { datasetId, status: ['rejected'] });
    assert.deepEqual(page.rows.map((x) => x.id), [slices[0]]);
  });

  test('label schema: unique names and keys; a class in use cannot be deleted, unless reassigned', async () => {
    const schema = await call('classes.schema', { datasetId });
    const lesion = schema.classes.find((c) => c.name === 'lesion')!;
    const normal = schema.classes.find((c) => c.name === 'normal')!;
    assert.equal((await fail('classes.create', { datasetId, name: 'lesion' })).code, 'CONFLICT');
    assert.equal((await fail('classes.create', { datasetId, name: 'other', hotkey: '2' })).code, 'CONFLICT');
    assert.equal((await fail('classes.create', { datasetId, name: 'x', color: 'red' })).code, 'VALIDATION');
    assert.equal((await fail('classes.create', { datasetId, name: 'bad\u202ename' })).code, 'VALIDATION');
    const renamed = await call('classes.update', { id: normal.id, name: 'healthy', color: '#00ff00', hotkey: null });
    assert.deepEqual([renamed.name, renamed.color, renamed.hotkey], ['healthy', '#00ff00', null]);

    const inUse = await fail('classes.delete', { id: lesion.id });
    assert.equal(inUse.code, 'CONFLICT');
    assert.match(inUse.message, /used by \d+ annotations/);
    const spare = await call('classes.create', { datasetId, name: 'spare' });
    assert.deepEqual(await call('classes.delete', { id: spare.id }), { deleted: true, reassigned: 0 });
    const moved = await call('classes.delete', { id: lesion.id, reassignTo: renamed.id });
    assert.ok(moved.reassigned > 0);
    assert.equal((core.db.prepare('SELECT count(*) AS n FROM annotations WHERE class_id = ?').get(lesion.id) as { n: number }).n, 0);
    assert.equal(auditRows('class.delete').length, 2);
    assert.equal((core.db.pragma('foreign_key_check') as unknown[]).length, 0);
    assert.equal(core.audit.verify(), null);
  });

  test('a labels.changed event follows every write', async () => {
    const seen: unknown[] = [];
    const off = core.on('labels.changed', (e) => seen.push(e));
    await call('items.setStatus', { itemId: slices[1]!, status: 'done' });
    off();
    assert.deepEqual(seen, [{ datasetId, itemId: slices[1], seriesId: null }]);
  });

  test('writes are refused on a read-only library', async () => {
    // The dispatcher's WRITES list covers every labeling write.
    const writes: RequestName[] = ['annotations.create', 'annotations.update', 'annotations.delete', 'annotations.restore', 'annotations.review', 'items.setStatus', 'classes.create', 'classes.update', 'classes.delete', 'classes.setMultiLabel', 'settings.set'];
    const valid: Partial<Record<RequestName, unknown>> = {
      'items.setStatus': { itemId: slices[1], status: 'done' },
      'classes.create': { datasetId, name: 'never' },
      'settings.set': { annotatorName: 'x' },
      'annotations.delete': { id: 1, expectedVersion: 1 },
    };
    (core.library as { readOnly: boolean }).readOnly = true;
    try {
      for (const [w, payload] of Object.entries(valid)) {
        const r = await core.dispatch(w, payload);
        assert.equal(!r.ok && r.error.code, 'LIBRARY_READ_ONLY', w);
      }
      assert.equal(writes.length, 11);
    } finally {
      (core.library as { readOnly: boolean }).readOnly = false;
    }
  });
});
