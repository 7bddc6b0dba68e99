/**
 * Each closed list is defined once in the contract, and the CLI's help and
 * checks, the request schemas, the IT policy and the renderer's choices are
 * driven by it: the assertions below compare each consumer with the
 * contract's list itself (a second copy would drift from it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v from 'valibot';
import { exportHelp, runExport } from '../../../electron/cli/commands/export';
import { exportModelHelp, runExportModel } from '../../../electron/cli/commands/export-model';
import { UsageError, type CliContext } from '../../../electron/cli/cli-context';
import { requestSchemas } from '../../../electron/contract/api';
import { DEID_PROFILE_FLAGS, RETAIN_LONGITUDINAL_DATES, deidOptionsSchema } from '../../../electron/contract/deid-options';
import { DATASET_EXPORT_FORMATS, EXPORT_FORMATS, EXPORT_LABELS, EXPORT_START_FORMATS, LABEL_EXPORT_FORMATS, MODEL_EXPORT_FORMATS, TRAINING_EXPORT_TARGETS } from '../../../electron/contract/export-formats';
import { parseDeidOptions } from '../../../electron/core/deid/deid-export';
import { POLICY_KEYS, type PolicyKey } from '../../../electron/contract/policy-keys';
import { DEFAULT_POLICY_SETTINGS, isPolicyKey, validatePolicyDocument } from '../../../electron/core/policy/policy-schema';
import { DEID_FLAGS, EXPORT_CHOICES, WITH_IMAGES_FORMATS } from '../../../renderer/src/lib/export-choices';

/** The CLI checks its flags before it opens a library: a context that is never used. */
const NO_CONTEXT = {} as CliContext;

async function usageError(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    return (e as Error).message;
  }
  assert.fail('expected a usage error');
}

test('export formats: the CLI help and its --format check list the contract formats', async () => {
  assert.ok(exportHelp.includes(`--format ${DATASET_EXPORT_FORMATS.join('|')} `), exportHelp);
  assert.ok(exportHelp.includes(`--labels ${EXPORT_LABELS.join('|')}`), exportHelp);
  const bad = await usageError(() => runExport(NO_CONTEXT, [], { format: 'bogus' }));
  assert.equal(bad, `--format must be one of ${DATASET_EXPORT_FORMATS.join(', ')}`);
  assert.ok(exportModelHelp.includes(`--format ${MODEL_EXPORT_FORMATS.join('|')} `), exportModelHelp);
  const badModel = await usageError(() => runExportModel(NO_CONTEXT, [], { run: '1', format: 'pt' }));
  assert.equal(badModel, `--format must be one of ${MODEL_EXPORT_FORMATS.join(', ')}`);
});

test('export formats: the request schemas take exactly the contract lists', () => {
  const start = requestSchemas['export.start'];
  for (const format of EXPORT_START_FORMATS) assert.ok(v.safeParse(start, { datasetId: 1, format, outDir: '/x' }).success, format);
  assert.deepEqual([...EXPORT_START_FORMATS], [...DATASET_EXPORT_FORMATS, ...TRAINING_EXPORT_TARGETS]);
  for (const format of [...MODEL_EXPORT_FORMATS, 'report', 'bogus']) assert.ok(!v.safeParse(start, { datasetId: 1, format, outDir: '/x' }).success, format);
  for (const labels of EXPORT_LABELS) assert.ok(v.safeParse(start, { datasetId: 1, format: 'coco', outDir: '/x', labels }).success, labels);
  const model = requestSchemas['models.export'];
  for (const format of MODEL_EXPORT_FORMATS) assert.ok(v.safeParse(model, { runId: 1, format, outDir: '/x' }).success, format);
  assert.ok(!v.safeParse(model, { runId: 1, format: 'coco', outDir: '/x' }).success);
  // The policy's list is every export: dataset formats, training hand-offs, model formats and the run report.
  assert.deepEqual([...EXPORT_FORMATS], [...DATASET_EXPORT_FORMATS, ...TRAINING_EXPORT_TARGETS, ...MODEL_EXPORT_FORMATS, 'report', 'measurements']);
  assert.equal(DEFAULT_POLICY_SETTINGS.allowedExportFormats, EXPORT_FORMATS);
});

test('export formats and de-identification options: the renderer offers the contract lists', () => {
  assert.deepEqual(
    EXPORT_CHOICES.map((c) => c.id),
    [...EXPORT_START_FORMATS],
  );
  assert.ok(EXPORT_CHOICES.every((c) => c.label.length > 0 && c.note.length > 0));
  assert.equal(WITH_IMAGES_FORMATS, LABEL_EXPORT_FORMATS);
  assert.deepEqual(
    DEID_FLAGS.map((f) => f.id),
    [...DEID_PROFILE_FLAGS],
  );
});

test('de-identification options: one typed object for the request, the exporter and the CLI --option pairs', () => {
  const all = Object.fromEntries(DEID_PROFILE_FLAGS.map((f) => [f, true]));
  assert.ok(v.safeParse(deidOptionsSchema, { ...all, retainLongitudinalDates: 'modified', pseudonymPrefix: 'P-', confirmBurnedIn: true }).success);
  assert.ok(!v.safeParse(deidOptionsSchema, { retainEverything: true }).success, 'strict: unknown names refused');
  assert.ok(!v.safeParse(deidOptionsSchema, { pseudonymPrefix: 'has space' }).success);
  for (const dates of RETAIN_LONGITUDINAL_DATES) assert.equal(parseDeidOptions({ retainLongitudinalDates: dates }).deid.retainLongitudinalDates, dates);
  const parsed = parseDeidOptions({ ...all, pseudonymPrefix: 'P-' });
  for (const f of DEID_PROFILE_FLAGS) assert.equal(parsed.deid[f], true, f);
  assert.deepEqual(parsed.unknown, []);
  assert.equal(parsed.pseudonymPrefix, 'P-');
  assert.deepEqual(parseDeidOptions({ retainEverything: true }).unknown, ['retainEverything']);
});

test('policy keys: the policy reader validates exactly the contract keys and names each in its messages', () => {
  const wrong: Record<PolicyKey, unknown> = {
    libraryLocation: 7,
    allowedExportFormats: 'coco',
    annotatorFromOsUser: 'yes',
    modelExport: 'no',
    sampleData: 1,
    modelPacksFolder: false,
  };
  assert.deepEqual(Object.keys(wrong).sort(), [...POLICY_KEYS].sort());
  for (const key of POLICY_KEYS) {
    const r = validatePolicyDocument({ [key]: wrong[key] }, 'policy.json', 'linux');
    assert.ok(r.errors.some((e) => e.includes(`"${key}"`)), `${key}: ${r.errors.join(' | ')}`);
    assert.ok(isPolicyKey(key));
  }
  const unknown = validatePolicyDocument({ allowEverything: true }, 'policy.json', 'linux');
  assert.deepEqual(unknown.errors, []);
  assert.ok(unknown.warnings.some((w) => w.includes('allowEverything')), unknown.warnings.join(' | '));
  assert.ok(!isPolicyKey('allowEverything'));
  const formats = validatePolicyDocument({ allowedExportFormats: [...EXPORT_FORMATS] }, 'policy.json', 'linux');
  assert.deepEqual(formats.errors, []);
  assert.deepEqual(formats.policy.allowedExportFormats, [...EXPORT_FORMATS]);
});
