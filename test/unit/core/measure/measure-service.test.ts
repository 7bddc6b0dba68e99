/**
 * Kept measurements through the one door (core.dispatch and the `fovea measurements` command) on
 * a real CT: values computed by the core, kept across a reopen of the library, moved (values
 * again), deleted, every change in the audit log (hash chain intact); bad input answered with a
 * code and a message; CSV and JSON exports with units and the image's display info; the IT
 * policy's allowedExportFormats and a read-only library refuse what they should.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../../../electron/cli/main';
import type { Measurement, MeasurementExportResult } from '../../../../electron/contract/measure';
import { createCore, type Core } from '../../../../electron/core/composition-root';
import type { PolicyLoadResult } from '../../../../electron/core/policy/policy';
import { MEASUREMENT_CSV_COLUMNS } from '../../../../electron/core/measure/measure-export';
import { createMlEngine } from '../../../../native-models/engine';
import { tempDir } from '../../../helpers/temp-library';
import { importRealCt } from './measure-fixtures';

let core: Core;
let dir: string;
let libraryDir: string;
let cleanup: () => void;
let datasetId: number;
let itemId: number;

before(async () => {
  const t = tempDir();
  dir = t.dir;
  libraryDir = join(dir, 'library');
  core = createCore({ libraryDir, ml: createMlEngine() });
  cleanup = () => {
    core.close();
    t.cleanup();
  };
  ({ datasetId, itemId } = await importRealCt(core, 'CT measure'));
});
after(() => cleanup?.());

async function call<T>(name: string, input: unknown): Promise<T> {
  const r = await core.dispatch(name, input);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value as T;
}

function auditActions(): string[] {
  return core.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'measurement.%' OR action = 'export.measurements' ORDER BY id").pluck().all() as string[];
}

async function cli(argv: string[], policy?: PolicyLoadResult): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv, { policy: policy ?? { source: 'none', policy: {}, sources: [], origins: {}, errors: [], warnings: [] } });
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test('create, list, move and delete: values from the core, every change audited', async () => {
  const len = await call<Measurement>('measurements.create', { itemId, kind: 'length', points: [[10, 10], [40, 50]] });
  assert.equal(len.values.unit, 'mm');
  assert.equal(len.values.spacingSource, 'PixelSpacing');
  assert.equal(len.item.sourceName, 'CT_small.dcm');
  assert.equal(len.datasetId, datasetId);
  const roi = await call<Measurement>('measurements.create', { itemId, kind: 'ellipse', points: [[40, 40], [80, 70]], note: 'liver ROI' });
  assert.equal(roi.values.valueUnit, 'HU');
  assert.ok(roi.values.pixels !== null && roi.values.pixels > 500);
  assert.ok(roi.values.sd !== null && roi.values.sd > 0);

  const moved = await call<Measurement>('measurements.update', { id: roi.id, points: [[40, 40], [60, 50]] });
  assert.ok((moved.values.pixels ?? 0) < (roi.values.pixels ?? 0), 'the values follow the new points');
  assert.equal(moved.note, 'liver ROI');
  const listed = await call<Measurement[]>('measurements.list', { itemId });
  assert.deepEqual(listed.map((m) => m.id), [len.id, roi.id]);
  assert.deepEqual(listed[1]?.values, moved.values);

  const angle = await call<Measurement>('measurements.create', { itemId, kind: 'angle', points: [[10, 60], [30, 60], [30, 90]] });
  assert.ok(Math.abs((angle.values.angle ?? 0) - 90) < 1e-9);
  await call('measurements.delete', { id: angle.id });
  assert.deepEqual((await call<Measurement[]>('measurements.list', { datasetId })).map((m) => m.id), [len.id, roi.id]);
  assert.deepEqual(auditActions(), ['measurement.create', 'measurement.create', 'measurement.update', 'measurement.create', 'measurement.delete']);
  assert.equal(core.audit.verify(), null, 'the audit chain is intact');
});

test('bad input is a code and a message, and changes nothing', async () => {
  const before = (await call<Measurement[]>('measurements.list', { datasetId })).length;
  const cases: [unknown, string, RegExp][] = [
    [{ itemId, kind: 'angle', points: [[1, 1], [2, 2]] }, 'VALIDATION', /do not fit/],
    [{ itemId, kind: 'rectangle', points: [[1, 1], [200, 2]] }, 'VALIDATION', /outside the image/],
    [{ itemId, kind: 'length', points: [[1, Number.NaN], [2, 2]] }, 'VALIDATION', /points/],
    [{ itemId: 99999, kind: 'length', points: [[1, 1], [2, 2]] }, 'NOT_FOUND', /no item/],
    [{ itemId, frame: 3, kind: 'length', points: [[1, 1], [2, 2]] }, 'VALIDATION', /Frame 3/],
  ];
  for (const [input, code, message] of cases) {
    const r = await core.dispatch('measurements.create', input);
    assert.ok(!r.ok, JSON.stringify(input));
    assert.equal(r.error.code, code);
    assert.match(r.error.message, message);
  }
  const missing = await core.dispatch('measurements.delete', { id: 99999 });
  assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');
  assert.equal((await call<Measurement[]>('measurements.list', { datasetId })).length, before);
});

test('CSV and JSON exports carry units and display info; no silent overwrite', async () => {
  const out = join(dir, 'export');
  const csv = await call<MeasurementExportResult>('measurements.export', { datasetId, format: 'csv', outDir: out });
  assert.equal(csv.measurements, 2);
  const lines = readFileSync(csv.file, 'utf8').trim().split('\r\n');
  assert.equal(lines[0], MEASUREMENT_CSV_COLUMNS.join(','));
  const header = (lines[0] ?? '').split(',');
  const first = (lines[1] ?? '').split(',');
  assert.equal(first[header.indexOf('source_name')], 'CT_small.dcm');
  assert.equal(first[header.indexOf('length_unit')], 'mm');
  assert.ok(lines[2]?.includes('HU') && lines[2].includes('mm2') && lines[2].includes('liver ROI'));
  assert.ok(existsSync(csv.manifest));
  const again = await core.dispatch('measurements.export', { datasetId, format: 'csv', outDir: out });
  assert.ok(!again.ok && again.error.code === 'CONFLICT');
  const json = await call<MeasurementExportResult>('measurements.export', { datasetId, format: 'json', outDir: join(dir, 'export-json') });
  const doc = JSON.parse(readFileSync(json.file, 'utf8')) as { dataset: { name: string }; conventions: { sd: string }; measurements: Measurement[] };
  assert.equal(doc.dataset.name, 'CT measure');
  assert.match(doc.conventions.sd, /sample/);
  assert.deepEqual(doc.measurements, await call<Measurement[]>('measurements.list', { datasetId }));
  assert.deepEqual(auditActions().slice(-2), ['export.measurements', 'export.measurements']);
});

test('the measurements survive a reopen of the library; `fovea measurements` lists and writes them', async () => {
  const kept = await call<Measurement[]>('measurements.list', { datasetId });
  core.close();
  core = createCore({ libraryDir, ml: createMlEngine() });
  assert.deepEqual(await call<Measurement[]>('measurements.list', { datasetId }), kept);
  core.close();

  const listed = await cli(['measurements', '--library', libraryDir, '--dataset', 'CT measure', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), kept);
  const table = await cli(['measurements', '--library', libraryDir, '--dataset', 'CT measure']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /ellipse .*CT_small\.dcm .*mean -?\d+\.\d\d SD \d+\.\d\d .*HU/);
  const file = join(dir, 'cli.csv');
  const wrote = await cli(['measurements', '--library', libraryDir, '--dataset', 'CT measure', '--csv', file]);
  assert.equal(wrote.code, 0, wrote.stderr);
  assert.equal(readFileSync(file, 'utf8').trim().split('\r\n').length, 1 + kept.length);
  const twice = await cli(['measurements', '--library', libraryDir, '--dataset', 'CT measure', '--csv', file]);
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /already exists/);
  const refused = await cli(['measurements', '--library', libraryDir, '--dataset', 'CT measure', '--csv', join(dir, 'no.csv')], {
    source: 'policy', policy: { allowedExportFormats: ['coco'] }, sources: [], origins: {}, errors: [], warnings: [],
  });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /allowedExportFormats/);
  assert.ok(!existsSync(join(dir, 'no.csv')));
  const usage = await cli(['measurements', '--library', libraryDir]);
  assert.equal(usage.code, 2);
  core = createCore({ libraryDir, ml: createMlEngine() });
});
