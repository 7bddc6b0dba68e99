/**
 * Every file in ../shared/testdata/dicom is imported or rejected as its
 * MANIFEST.md row describes, through the real import engine into a real
 * library; the DICOM hierarchy and indexed attributes land in SQLite.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, after, test } from 'node:test';
import type { ImportReport } from '../../electron/contract/domain';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';

type Expect = 'imported' | 'skipped' | 'failed' | 'consumed';

/** The expected outcome for each file, read from the manifest's own words. */
function manifestExpectations(): Map<string, Expect> {
  const rows = readFileSync(join(SHARED_TESTDATA, 'MANIFEST.md'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('| dicom/'));
  const map = new Map<string, Expect>();
  for (const row of rows) {
    const cells = row.split('|').map((c) => c.trim());
    const file = cells[1] ?? '';
    const what = cells[6] ?? '';
    let e: Expect;
    if (/MALFORMED/.test(what)) e = 'failed';
    else if (/(^|\/)DICOMDIR$/.test(file)) e = 'consumed';
    else if (/no pixel data|no image/i.test(what) || /DICOMDIR/.test(file.split('/').pop() ?? '')) e = 'skipped';
    else e = 'imported';
    map.set(file, e);
  }
  return map;
}

let report: ImportReport;
let t: ReturnType<typeof tempCore>;

before(async () => {
  t = tempCore();
  const ds = t.core.datasets.create('testdata', '');
  report = await t.core.importFiles({ datasetId: ds.id, paths: [join(SHARED_TESTDATA, 'dicom')] });
});
after(() => t.cleanup());

test('every shared DICOM file is imported, skipped or refused as MANIFEST.md describes, each with a reason', () => {
  const expected = manifestExpectations();
  assert.ok(expected.size >= 80, `manifest rows: ${expected.size}`);
  const notImported = new Map(report.notImported.map((f) => [relative(SHARED_TESTDATA, f.path), f]));
  const mismatches: string[] = [];
  for (const [file, e] of expected) {
    const got = notImported.get(file);
    const outcome = got?.outcome ?? 'imported';
    if (e === 'consumed') continue; // the DICOMDIR itself is read, not imported
    const ok = e === 'imported' ? outcome === 'imported' || outcome === 'duplicate' : outcome === e;
    if (!ok) mismatches.push(`${file}: expected ${e}, got ${outcome} (${got?.reason ?? ''})`);
    if (got && got.outcome !== 'imported') assert.ok(got.reason && got.reason.length > 10, `${file} has a reason`);
  }
  assert.deepEqual(mismatches, []);
  assert.equal(report.problems.length, 0);
  assert.equal(report.counts.failed, [...expected.values()].filter((e) => e === 'failed').length);
});

test('duplicates are only other encodings of an instance already imported (same SOP Instance UID)', () => {
  for (const d of report.notImported.filter((f) => f.outcome === 'duplicate')) {
    assert.match(d.reason ?? '', /same SOP Instance UID/);
    assert.ok(d.itemId === undefined || d.itemId > 0);
  }
});

test('the DICOM hierarchy, indexed attributes and thumbnails are stored', () => {
  const db = t.core.db;
  const ct = db
    .prepare("SELECT i.*, s.modality AS s_modality FROM items i JOIN series s ON s.id = i.series_id WHERE i.source_name LIKE '%CT_small.dcm'")
    .get() as Record<string, unknown>;
  assert.equal(ct['rows'], 128);
  assert.equal(ct['columns'], 128);
  assert.equal(ct['modality'], 'CT');
  assert.equal(ct['s_modality'], 'CT');
  assert.ok(Math.abs((ct['pixel_spacing_row'] as number) - 0.661468) < 1e-5);
  assert.equal(typeof ct['slice_position'], 'number');
  assert.ok(t.core.blobs.has(ct['thumb_sha256'] as string));
  // The DICOMDIR tree: patient 77654033 with its CR and CT series.
  const series = db
    .prepare("SELECT s.modality, count(i.id) AS n FROM series s JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id JOIN items i ON i.series_id = s.id WHERE p.patient_key = '77654033' GROUP BY s.id ORDER BY s.modality, n")
    .all() as { modality: string; n: number }[];
  assert.deepEqual(series.map((s) => s.modality).sort(), ['CR', 'CR', 'CR', 'CT']);
  // Multi-frame instances get a row per frame.
  const multi = db.prepare("SELECT frames, (SELECT count(*) FROM frames f WHERE f.item_id = items.id) AS rows_ FROM items WHERE source_name LIKE '%examples_ybr_color.dcm'").get() as { frames: number; rows_: number };
  assert.deepEqual(multi, { frames: 30, rows_: 30 });
  const check = t.core.maintenance.check();
  assert.equal(check.ok, true, JSON.stringify(check));
});

test('running the same import again imports nothing new', async () => {
  const ds = t.core.datasets.findByName('testdata');
  assert.ok(ds);
  const before = ds.counts.items;
  const again = await t.core.importFiles({ datasetId: ds.id, paths: [join(SHARED_TESTDATA, 'dicom')] });
  assert.equal(again.counts.imported, 0);
  assert.equal(t.core.datasets.get(ds.id).counts.items, before);
});
