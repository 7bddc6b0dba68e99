/**
 * The evaluation report of a real trained run: a small classifier on real
 * chest X-rays (PneumoniaMNIST, a few hundred images, 2 epochs on the wasm
 * backend), never evaluated before, exported through the 'reports.export'
 * request (which evaluates it first) and through `fovea report`:
 * - report.html: well formed, the CSP, the evaluation's numbers as formatted,
 *   one inline SVG per chart (bars, confusion matrix, ROC, PR, loss), nothing
 *   that could reach outside the file, no script; opened in Chromium with the
 *   network blocked it makes no request but the file itself;
 * - report.pdf: a PDF whose text has the same numbers, standard fonts only;
 * - the manifest's SHA-256 match the files; one audit row per export;
 * - no patient data: no source file name, no library path;
 * - no silent overwrite; usage errors from the CLI.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { ReportExportResponse } from '../../../../electron/contract/api';
import type { CliContext } from '../../../../electron/cli/cli-context';
import { reportOptions, runReport } from '../../../../electron/cli/commands/report';
import { createCore } from '../../../../electron/core/composition-root';
import { readStoredEvaluation } from '../../../../electron/core/evaluation/evaluate-run';
import { DB_FILE } from '../../../../electron/core/store/library-db';
import { LATEST_SCHEMA_VERSION } from '../../../../electron/core/store/migrations';
import { REPORT_CSP } from '../../../../electron/core/report/html-report';
import { fmt } from '../../../../electron/core/report/report-model';
import { writePneumoniaSubset } from '../../../helpers/pneumonia-subset';
import { tempCore } from '../../../helpers/temp-library';
import { createMlEngine } from '../../../../native-models/engine';
import { requireTool } from '../../../helpers/reference-tools';
import { openOffline, parseHtmlStrict, pdfText, remoteReferences } from './report-checks';

function cliContext(core: CliContext['core'] extends () => infer C ? C : never): { ctx: CliContext; out: string[] } {
  const out: string[] = [];
  const ctx: CliContext = {
    json: true,
    libraryDir: '',
    core: () => core,
    out: (t) => out.push(t),
    jsonLine: (v) => out.push(JSON.stringify(v)),
    err: () => undefined,
    isTty: false,
    close: () => undefined,
  };
  return { ctx, out };
}

test('report of a trained classifier: HTML and PDF with the evaluation numbers, offline, audited, no patient data', { timeout: 120_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const files = await writePneumoniaSubset(join(dir, 'pneumonia'), { train: 40, val: 10, test: 20 });
  const ds = core.datasets.create('PneumoniaMNIST', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [files.imagesDir] });
  assert.equal(imp.counts.failed, 0);
  await core.importLabels(ds.id, files.labelsCsv, 'csv', 'test');
  const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ?').all(ds.id) as { id: number; source_name: string }[];
  for (const s of ['train', 'val', 'test'] as const) core.splits.setSplit(ds.id, items.filter((r) => files.split.get(r.source_name) === s).map((r) => r.id), s);
  const t0 = performance.now();
  const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs: 2, inputSize: 28, batchSize: 32, backend: 'wasm', seed: 7 });
  t.diagnostic(`trained ${outcome.epochsCompleted} epochs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.ok(outcome.status === 'done' || outcome.status === 'stopped-early', JSON.stringify(outcome));
  assert.equal(readStoredEvaluation(core, runId, 'test'), null, 'not evaluated yet');

  // --- Through the contract: evaluates first, writes HTML and PDF.
  const out = join(dir, 'report out');
  const t1 = performance.now();
  const res = await core.dispatch('reports.export', { runId, outDir: out, pdf: true });
  t.diagnostic(`evaluated and exported the report in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  assert.ok(res.ok, JSON.stringify(res));
  const r = res.value as ReportExportResponse;
  assert.equal(r.evaluatedNow, true);
  assert.equal(r.task, 'classification');
  assert.equal(r.split, 'test');
  assert.equal(r.audited, true);
  assert.deepEqual(r.files.map((f) => f.path).sort(), ['report.html', 'report.pdf']);
  const evaluation = readStoredEvaluation(core, runId, 'test');
  assert.ok(evaluation && evaluation.task === 'classification', 'the evaluation was stored');
  assert.equal(evaluation.n, 40);

  // Manifest: every file with its SHA-256.
  const manifest = JSON.parse(readFileSync(r.manifest, 'utf8')) as { files: { path: string; bytes: number; sha256: string }[]; runId: number; task: string };
  assert.equal(manifest.runId, runId);
  for (const f of manifest.files) {
    const bytes = readFileSync(join(r.root, f.path));
    assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'), f.path);
    assert.equal(f.bytes, bytes.length);
  }

  // --- The HTML.
  const htmlPath = join(r.root, 'report.html');
  const html = readFileSync(htmlPath, 'utf8');
  const counts = parseHtmlStrict(html);
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`));
  assert.equal(REPORT_CSP, "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
  assert.deepEqual(remoteReferences(html), [], 'the report reaches outside itself');
  assert.equal(counts.get('script'), undefined);
  // Charts: per-class bars, confusion matrix, ROC, PR, loss per epoch.
  assert.equal(counts.get('svg'), 5, 'one <svg> per chart');
  for (const title of ['Precision, recall and F1 per class', 'Confusion matrix', 'ROC curves (one class vs the rest)', 'Precision-recall curves (one class vs the rest)', 'Loss per epoch']) {
    assert.ok(html.includes(`<title>${title}</title>`), `chart "${title}"`);
  }
  assert.ok((counts.get('polyline') ?? 0) >= 2 + 2 + 2, 'ROC and PR curves of both classes and the two loss curves');
  // The numbers, formatted as everywhere in Fovea (three decimals).
  const numbers: string[] = [fmt(evaluation.accuracy), fmt(evaluation.macro.precision), fmt(evaluation.macro.recall), fmt(evaluation.macro.f1), fmt(evaluation.auc.macro), fmt(evaluation.averagePrecision.macro)];
  for (const [name, m] of Object.entries(evaluation.perClass)) {
    numbers.push(fmt(m.precision), fmt(m.recall), fmt(m.f1), fmt(evaluation.auc.perClass[name]));
    assert.ok(html.includes(`<th scope="row">${name}</th><td class="num">${fmt(m.precision)}</td><td class="num">${fmt(m.recall)}</td><td class="num">${fmt(m.f1)}</td><td class="num">${m.support}</td>`), `per-class row of ${name}`);
  }
  for (const v of numbers) assert.ok(html.includes(v), `${v} missing from the HTML`);
  assert.ok(html.includes(`<div class="label">Accuracy</div><div class="value">${fmt(evaluation.accuracy)}</div>`));
  const cm = evaluation.confusionMatrix;
  assert.ok(cm);
  cm.labels.forEach((label, i) => {
    assert.ok(html.includes(`<tr><th scope="row">${label}</th>${(cm.matrix[i] ?? []).map((v) => `<td class="num">${v}</td>`).join('')}</tr>`), `confusion row ${label}`);
  });
  // No patient data: no source file names, no library or checkpoint paths.
  for (const it of items) assert.ok(!html.includes(it.source_name), `${it.source_name} in the report`);
  assert.ok(!html.includes(dir), 'a local path in the report');

  // --- Chromium, network blocked: the file itself is the only request, nothing fails.
  requireTool('chromium');
  const opened = await openOffline(htmlPath, 'report-classification', join(r.root, 'report.pdf'));
  assert.deepEqual(opened.requests, [new URL(`file://${htmlPath}`).href], 'requests besides the report file');
  assert.deepEqual(opened.blocked, []);
  assert.deepEqual(opened.errors, []);
  assert.equal(opened.dom.svgs, 5);
  assert.equal(opened.dom.scripts, 0);
  assert.ok(opened.dom.tables >= 5);
  assert.equal(opened.dom.title, `Evaluation report: run ${runId}`);
  assert.ok(opened.dom.bodyText.includes(fmt(evaluation.accuracy)));
  t.diagnostic(`screenshots: ${opened.screenshot}, ${opened.pdfScreenshot}`);

  // --- The PDF.
  const pdfPath = join(r.root, 'report.pdf');
  const pdf = readFileSync(pdfPath);
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.ok(pdf.subarray(-8).toString('latin1').includes('%%EOF'));
  const raw = pdf.toString('latin1');
  assert.ok(!raw.includes('/FontFile'), 'a font file is embedded: only the standard fonts are meant to be used');
  assert.deepEqual([...new Set([...raw.matchAll(/\/BaseFont\s*\/([A-Za-z-]+)/gu)].map((m) => m[1]))].sort(), ['Helvetica', 'Helvetica-Bold']);
  assert.ok(!/\/(JavaScript|JS|URI|Launch|EmbeddedFile)\b/u.test(raw), 'active content or links in the PDF');
  const { text, tool } = pdfText(pdfPath);
  t.diagnostic(`PDF text read with ${tool}`);
  for (const v of numbers) assert.ok(text.includes(v), `${v} missing from the PDF`);
  assert.ok(text.includes('Accuracy'));
  assert.ok(text.includes('Confusion matrix'));
  assert.ok(text.includes('ROC curves'));
  for (const it of items) assert.ok(!text.includes(it.source_name));

  // --- Audit: one row for the export, with the manifest's hash and no patient data.
  const audits = core.db.prepare("SELECT object_type, object_id, outcome, details FROM audit_log WHERE action = 'export.report'").all() as { object_type: string; object_id: string; outcome: string; details: string }[];
  assert.equal(audits.length, 1);
  assert.equal(audits[0]?.object_type, 'run');
  assert.equal(audits[0]?.object_id, String(runId));
  assert.equal(audits[0]?.outcome, 'ok');
  const details = JSON.parse(audits[0]?.details ?? '{}') as Record<string, unknown>;
  assert.equal(details['manifestSha256'], createHash('sha256').update(readFileSync(r.manifest)).digest('hex'));
  assert.equal(details['files'], 2);
  assert.equal(details['split'], 'test');

  // --- No silent overwrite; the refusal is audited and the files are untouched.
  const again = await core.dispatch('reports.export', { runId, outDir: out });
  assert.ok(!again.ok && again.error.code === 'CONFLICT', JSON.stringify(again));
  assert.equal(readFileSync(htmlPath, 'utf8'), html);
  const failed = core.db.prepare("SELECT outcome FROM audit_log WHERE action = 'export.report' ORDER BY id DESC LIMIT 1").get() as { outcome: string };
  assert.equal(failed.outcome, 'failed');

  // --- The CLI: the stored evaluation is used, JSON output; usage errors.
  const { ctx, out: lines } = cliContext(core);
  const cliOut = join(dir, 'cli-report');
  assert.equal(await runReport(ctx, [], { run: String(runId), out: cliOut, pdf: false, overwrite: false }), 0);
  const cli = JSON.parse(lines[0] ?? '{}') as ReportExportResponse;
  assert.equal(cli.evaluatedNow, false);
  assert.deepEqual(cli.files.map((f) => f.path), ['report.html']);
  assert.ok(!existsSync(join(cliOut, 'report.pdf')));
  assert.deepEqual(cli.metrics.find((m) => m.label === 'Accuracy'), { label: 'Accuracy', value: fmt(evaluation.accuracy) });
  assert.ok('pdf' in reportOptions && 'split' in reportOptions);
  await assert.rejects(runReport(ctx, [], { out: cliOut }), /--run ID is required/);
  await assert.rejects(runReport(ctx, [], { run: String(runId) }), /--out DIR is required/);
  await assert.rejects(runReport(ctx, [], { run: String(runId), out: cliOut, split: 'nope' }), /--split must be one of/);
  await assert.rejects(runReport(ctx, [], { run: '999', out: join(dir, 'x') }), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');

  // --- A malformed request is a validation error, never a crash.
  const bad = await core.dispatch('reports.export', { runId: 'one', outDir: out });
  assert.ok(!bad.ok && bad.error.code === 'VALIDATION');

  // --- A read-only library (written by a newer Fovea): the report is still written, from the stored
  // evaluation or from one computed now and not stored; the result says it could not be audited.
  const libraryDir = join(dir, 'library');
  const auditRows = (core.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  core.close();
  const sqlite = new Database(join(libraryDir, DB_FILE));
  sqlite.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
  sqlite.close();
  const ro = createCore({ libraryDir, ml: createMlEngine() });
  t.after(() => ro.close());
  assert.equal(ro.library.readOnly, true);
  const roTest = await ro.dispatch('reports.export', { runId, outDir: join(dir, 'ro-test') });
  assert.ok(roTest.ok, JSON.stringify(roTest));
  assert.equal((roTest.value as ReportExportResponse).evaluatedNow, false);
  assert.equal((roTest.value as ReportExportResponse).audited, false);
  const roVal = await ro.dispatch('reports.export', { runId, split: 'val', outDir: join(dir, 'ro-val') });
  assert.ok(roVal.ok, JSON.stringify(roVal));
  assert.equal((roVal.value as ReportExportResponse).evaluatedNow, true);
  assert.equal(readStoredEvaluation(ro, runId, 'val'), null, 'nothing stored in a read-only library');
  assert.ok(readFileSync(join(dir, 'ro-val', 'report.html'), 'utf8').includes('val split, 20 image(s)'));
  assert.equal((ro.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n, auditRows);
});
