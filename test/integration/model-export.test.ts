/**
 * Model export end to end on a real library: real DICOM files (pydicom's CT
 * and MR test files) with a sentinel patient name and ID seeded into every
 * file (and its file name), class labels from a CSV, one short training run,
 * a stored evaluation; then:
 * - ONNX: onnxruntime-node's probabilities on the run's own validation batch
 *   (the library batch provider: decode, normalise, letterbox as training
 *   does) equal the engine's TF.js predictions within 1e-4;
 * - TF.js: the exported model.json + shards reload to the same predictions;
 * - the model card says how to feed and read the model, has the split counts
 *   and metrics, and no byte of any exported file (nor any path, nor the
 *   audit entry) holds the sentinel;
 * - policy modelExport=false refuses with FORBIDDEN and a 'refused' audit row;
 * - `fovea export-model --json` writes the same kind of export.
 *
 * onnxruntime-node is a devDependency: imported dynamically, here only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Batch, Prediction, TrainConfig } from '../../electron/contract/ml';
import { createCore, type Core } from '../../electron/core/composition-root';
import { evaluateRun } from '../../electron/core/evaluation/evaluate-run';
import { createSampleLibrary, SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { exportModel, MODEL_CARD_NAME, type ModelCard } from '../../electron/core/export/model-export';
import { MANIFEST_NAME } from '../../electron/core/export/safe-output';
import { createLibraryBatchProvider } from '../../electron/core/training/library-batch-provider';
import { collectSamples } from '../../electron/core/training/training-samples';
import { createMlEngine } from '../../native-models/engine';
import { fileSystemHandler, loadCheckpointModel } from '../../native-models/train/checkpoint-io';
import { REPO_ROOT, SHARED_TESTDATA } from '../helpers/paths';
import { tempDir } from '../helpers/temp-library';

const SENTINEL = 'ZqSentinelPatient';
const SENTINEL_ID = 'ZqSentinelId';

interface DcmjsDict {
  dict: Record<string, { vr: string; Value: unknown[] }>;
  write(): ArrayBuffer;
}
const dcmjs = createRequire(import.meta.url)('dcmjs') as { data: { DicomMessage: { readFile(b: ArrayBuffer): DcmjsDict } } };

const tmp = tempDir('fovea-model-export-it-');
const lib = join(tmp.dir, 'library');
let core: Core;
let runId: number;
let config: TrainConfig;
let valBatch: Batch;

/** Real CT and MR files from pydicom's test data, each a distinct (sentinel) patient. */
function seedDicom(dir: string): { csv: string; files: number } {
  const root = join(SHARED_TESTDATA, 'dicom', 'pydicom');
  const sources: { path: string; label: 'ct' | 'mr' }[] = [{ path: join(root, 'CT_small.dcm'), label: 'ct' }, { path: join(root, 'MR_small.dcm'), label: 'mr' }];
  for (const [sub, label] of [
    ['dicomdirtests/77654033/CT2', 'ct'],
    ['dicomdirtests/98892001/CT2N', 'ct'],
    ['dicomdirtests/98892001/CT5N', 'ct'],
    ['dicomdirtests/98892003/MR1', 'mr'],
    ['dicomdirtests/98892003/MR2', 'mr'],
    ['dicomdirtests/98892003/MR700', 'mr'],
  ] as const) {
    for (const f of readdirSync(join(root, sub)).sort()) sources.push({ path: join(root, sub, f), label });
  }
  const rows = ['filename,label'];
  mkdirSync(dir, { recursive: true });
  sources.forEach((s, i) => {
    const b = readFileSync(s.path);
    const d = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    d.dict['00100010'] = { vr: 'PN', Value: [{ Alphabetic: `${SENTINEL}^${i}` }] };
    d.dict['00100020'] = { vr: 'LO', Value: [`${SENTINEL_ID}${i}`] };
    const name = `${SENTINEL}_${i}_${basename(s.path).replace(/\.dcm$/, '')}.dcm`;
    writeFileSync(join(dir, name), Buffer.from(d.write()));
    rows.push(`${name},${s.label}`);
  });
  const csv = join(tmp.dir, 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return { csv, files: sources.length };
}

before(async () => {
  const { csv, files } = seedDicom(join(tmp.dir, `${SENTINEL}-scans`));
  core = createCore({ libraryDir: lib, ml: createMlEngine({ workerless: true }) });
  const ds = core.datasets.create('Export test CT/MR', '');
  const imported = await core.importFiles({ datasetId: ds.id, paths: [join(tmp.dir, `${SENTINEL}-scans`)] });
  assert.equal(imported.counts.imported, files, JSON.stringify(imported).slice(0, 400));
  await core.importLabels(ds.id, csv, 'csv', 'test');
  const trained = await core.training.train(ds.id, 'classification', { epochs: 2, batchSize: 8, inputSize: 16, backend: 'wasm' });
  assert.equal(trained.outcome.status, 'done', JSON.stringify(trained.outcome));
  runId = trained.runId;
  config = core.runs.get(runId).config;
  await evaluateRun(core, runId, { split: 'val' });
  // The run's validation images, preprocessed exactly as training does.
  const collected = collectSamples(core.db, ds.id, 'classification', { classNames: config.classNames, channels: config.channels, multiLabel: config.multiLabel });
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples: collected.samples, splits: core.splits.splitMap(ds.id), config: { ...config, batchSize: 64 } });
  valBatch = await provider.batch('val', 0, 0);
  provider.dispose();
  assert.ok(valBatch.n >= 1);
});

after(() => {
  core?.close();
  tmp.cleanup();
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? [p, ...walk(p)] : [p];
  });
}

test('ONNX export: onnxruntime equals the TF.js predictions on the run\'s validation images; the card describes the model', async () => {
  const out = join(tmp.dir, 'out-onnx');
  const report = await exportModel(core, { runId, format: 'onnx', outDir: out });
  assert.deepEqual(report.files.map((f) => f.path).sort(), [MODEL_CARD_NAME, 'model.onnx']);
  const manifest = JSON.parse(readFileSync(join(out, MANIFEST_NAME), 'utf8')) as { files: { path: string; sha256: string }[] };
  assert.equal(manifest.files.length, 2);

  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(readFileSync(join(out, 'model.onnx')));
  const S = config.inputSize;
  const feeds = { [session.inputNames[0] as string]: new ort.Tensor('float32', valBatch.x, [valBatch.n, S, S, config.channels]) };
  const got = (await session.run(feeds))[session.outputNames[0] as string]!.data as Float32Array;
  await session.release();
  const want = await core.ml.predict(join(core.training.checkpointDir(runId), 'best'), config, valBatch);
  let worst = 0;
  want.forEach((p, i) => {
    assert.equal(p.task, 'classification');
    if (p.task !== 'classification') return;
    p.probabilities.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - (got[i * p.probabilities.length + k] as number)))));
  });
  console.log(`onnx vs tfjs on ${valBatch.n} validation image(s): max |diff| ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-4, `max difference ${worst}`);

  const card = JSON.parse(readFileSync(join(out, MODEL_CARD_NAME), 'utf8')) as ModelCard;
  assert.equal(card.task, 'classification');
  assert.deepEqual(card.classes, config.classNames);
  assert.deepEqual(card.input.shape, [null, S, S, 1]);
  assert.equal(card.input.name, 'image');
  assert.equal(session.inputNames[0], 'image', 'the ONNX input has the name the card gives');
  assert.equal(card.input.layout, 'NHWC');
  assert.equal(card.input.dtype, 'float32');
  assert.equal(card.preprocessing.normalization.kind, config.normalization.kind);
  assert.equal(card.preprocessing.letterbox.size, S);
  assert.equal(card.outputs[0]?.name, 'probabilities');
  assert.equal(card.model.onnx?.opset, 13);
  assert.equal(card.training.dataset, 'Export test CT/MR');
  const counts = card.training.splits?.images;
  assert.ok(counts && counts.train + counts.val + counts.test > 0);
  assert.ok(card.training.splits?.patients && card.training.splits.patients.train > 0, 'patient counts (numbers) per split');
  assert.ok(card.metrics.bestValidation && 'accuracy' in card.metrics.bestValidation);
  assert.equal(card.metrics.evaluations.length, 1, 'the stored evaluation');
  assert.equal(card.metrics.evaluations[0]?.['split'], 'val');
  assert.ok(typeof card.metrics.evaluations[0]?.['accuracy'] === 'number');
  assert.ok(!('images' in (card.metrics.evaluations[0] ?? {})), 'no per-image results');
  assert.equal(card.backend.training, 'wasm');
  assert.match(card.backend.tfjsVersion, /^\d+\.\d+\.\d+/);
  assert.ok(card.foveaVersion.length > 0);
});

test('TF.js export: the files reload with tf.loadLayersModel and predict the same; an existing export is not overwritten', async () => {
  const out = join(tmp.dir, 'out-tfjs');
  const report = await exportModel(core, { runId, format: 'tfjs', outDir: out });
  assert.deepEqual(report.files.map((f) => f.path).sort(), ['group1-shard1of1.bin', MODEL_CARD_NAME, 'model.json']);
  const model = await tf.loadLayersModel(fileSystemHandler(out));
  const S = config.inputSize;
  const got = tf.tidy(() => (model.predict(tf.tensor4d(valBatch.x, [valBatch.n, S, S, config.channels])) as tf.Tensor).dataSync());
  model.dispose();
  const want = await core.ml.predict(join(core.training.checkpointDir(runId), 'best'), config, valBatch);
  want.forEach((p, i) => {
    if (p.task !== 'classification') return;
    p.probabilities.forEach((v, k) => assert.ok(Math.abs(v - (got[i * p.probabilities.length + k] as number)) <= 1e-6));
  });
  await assert.rejects(exportModel(core, { runId, format: 'tfjs', outDir: out }), (e: Error & { code?: string }) => e.code === 'CONFLICT');
});

test('no exported byte, path or audit entry holds the patient sentinel', () => {
  const needles = [SENTINEL.toLowerCase(), SENTINEL_ID.toLowerCase()];
  let files = 0;
  for (const out of ['out-onnx', 'out-tfjs']) {
    for (const p of walk(join(tmp.dir, out))) {
      const rel = relative(tmp.dir, p).toLowerCase();
      for (const n of needles) assert.ok(!rel.includes(n), `path ${rel}`);
      if (statSync(p).isDirectory()) continue;
      files++;
      const text = readFileSync(p).toString('latin1').toLowerCase();
      for (const n of needles) assert.ok(!text.includes(n), `${rel} contains the sentinel`);
      // UTF-16 too (a name could hide in a wide string).
      const wide = readFileSync(p).toString('utf16le').toLowerCase();
      for (const n of needles) assert.ok(!wide.includes(n), `${rel} contains the sentinel (UTF-16)`);
    }
  }
  assert.ok(files >= 5);
  // The seeded names are really in the library (the test would prove nothing otherwise).
  const inLibrary = JSON.stringify(core.db.prepare('SELECT * FROM patients').all()).toLowerCase();
  assert.ok(inLibrary.includes(needles[0] as string) || inLibrary.includes(needles[1] as string), 'the sentinel is in the library');
  const audits = core.db.prepare("SELECT * FROM audit_log WHERE action = 'model.export'").all() as { outcome: string; details: string }[];
  assert.ok(audits.filter((a) => a.outcome === 'ok').length >= 2);
  for (const a of audits) for (const n of needles) assert.ok(!JSON.stringify(a).toLowerCase().includes(n));
});

test('policy modelExport=false refuses with FORBIDDEN and a refused audit entry', async () => {
  const policy = { source: 'file' as const, policy: { modelExport: false }, sources: [], origins: {}, errors: [], warnings: [] };
  const locked = createCore({ libraryDir: lib, ml: core.ml, policy: policy as never });
  try {
    const res = await locked.dispatch('models.export', { runId, format: 'onnx', outDir: join(tmp.dir, 'refused') });
    assert.equal(res.ok, false);
    if (res.ok) return;
    assert.equal(res.error.code, 'FORBIDDEN');
    assert.match(res.error.message, /policy/i);
    assert.match(res.error.message, /modelExport/);
    const refused = locked.db.prepare("SELECT outcome FROM audit_log WHERE action = 'model.export' AND outcome = 'refused'").all();
    assert.equal(refused.length, 1);
    assert.throws(() => readdirSync(join(tmp.dir, 'refused')), /ENOENT/, 'nothing written');
  } finally {
    locked.close();
  }
  // A list of allowed export formats without this one refuses too.
  const deidOnly = { source: 'file' as const, policy: { allowedExportFormats: ['dicom-deid'] }, sources: [], origins: {}, errors: [], warnings: [] };
  const limited = createCore({ libraryDir: lib, ml: core.ml, policy: deidOnly as never });
  try {
    const res = await limited.dispatch('models.export', { runId, format: 'tfjs', outDir: join(tmp.dir, 'refused') });
    assert.equal(res.ok ? 'ok' : res.error.code, 'FORBIDDEN');
    assert.match(res.ok ? '' : res.error.message, /allowedExportFormats/);
  } finally {
    limited.close();
  }
});

/** The model card's detector decoding recipe, written out independently of native-models. */
function decodeLikeTheCard(heat: Float32Array, size: Float32Array, offset: Float32Array, n: number, H: number, W: number, K: number): { x: number; y: number; width: number; height: number; classIndex: number; score: number }[][] {
  const out: ReturnType<typeof decodeLikeTheCard> = [];
  const maxLog = Math.log(2 * W);
  for (let i = 0; i < n; i++) {
    const peaks: { score: number; cx: number; cy: number; c: number }[] = [];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < K; c++) {
          const v = heat[((i * H + y) * W + x) * K + c] as number;
          let isMax = true;
          for (let dy = -1; dy <= 1 && isMax; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              if ((heat[((i * H + yy) * W + xx) * K + c] as number) > v) {
                isMax = false;
                break;
              }
            }
          }
          if (isMax && v >= 0.05) peaks.push({ score: v, cx: x, cy: y, c });
        }
      }
    }
    peaks.sort((a, b) => b.score - a.score);
    out.push(
      peaks.slice(0, 100).map((p) => {
        const cell = (i * H + p.cy) * W + p.cx;
        const w = Math.exp(Math.min(maxLog, size[2 * cell] as number)) * 4;
        const h = Math.exp(Math.min(maxLog, size[2 * cell + 1] as number)) * 4;
        const cx = (p.cx + (offset[2 * cell] as number)) * 4;
        const cy = (p.cy + (offset[2 * cell + 1] as number)) * 4;
        return { x: cx - w / 2, y: cy - h / 2, width: w, height: h, classIndex: p.c, score: p.score };
      }),
    );
  }
  return out;
}

test('detector trained on the sample road scenes: ONNX heatmap/size/offset equal TF.js, and the card\'s decoding gives the engine\'s boxes', async () => {
  const road = tempDir('fovea-model-export-road-');
  const rc = createCore({ libraryDir: join(road.dir, 'library'), ml: createMlEngine({ workerless: true }) });
  try {
    await createSampleLibrary(rc, { size: 'tiny' });
    const ds = rc.datasets.findByName(SAMPLE_ROAD_DATASET);
    assert.ok(ds);
    const trained = await rc.training.train(ds.id, 'detection', { epochs: 1, batchSize: 4, inputSize: 32, backend: 'wasm' });
    assert.equal(trained.outcome.status, 'done', JSON.stringify(trained.outcome));
    const cfg = rc.runs.get(trained.runId).config;
    const out = join(road.dir, 'out');
    const report = await exportModel(rc, { runId: trained.runId, format: 'onnx', outDir: out });
    assert.equal(report.card.outputs.map((o) => o.name).join(), 'heatmap,size,offset');
    assert.match(report.card.decoding, /3x3 max-pool/);

    const collected = collectSamples(rc.db, ds.id, 'detection', { classNames: cfg.classNames, channels: cfg.channels, multiLabel: false });
    const provider = createLibraryBatchProvider({ blobs: rc.blobs, db: rc.db }, { samples: collected.samples, splits: rc.splits.splitMap(ds.id), config: { ...cfg, batchSize: 64 } });
    const batch = await provider.batch('val', 0, 0);
    provider.dispose();
    const S = cfg.inputSize;
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(readFileSync(join(out, 'model.onnx')));
    const res = await session.run({ image: new ort.Tensor('float32', batch.x, [batch.n, S, S, cfg.channels]) });
    await session.release();
    const best = join(rc.training.checkpointDir(trained.runId), 'best');
    const model = await loadCheckpointModel(best);
    const want = tf.tidy(() => (model.predict(tf.tensor4d(batch.x, [batch.n, S, S, cfg.channels])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array));
    model.dispose();
    let worst = 0;
    (['heatmap', 'size', 'offset'] as const).forEach((name, k) => {
      const got = res[name]!.data as Float32Array;
      const w = want[k] as Float32Array;
      assert.equal(got.length, w.length);
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs((got[j] as number) - (w[j] as number)));
    });
    console.log(`detector (trained 1 epoch) onnx vs tfjs on ${batch.n} validation image(s): max |diff| ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `max difference ${worst}`);

    const H = S / 4;
    const K = cfg.classNames.length;
    const mine = decodeLikeTheCard(res['heatmap']!.data as Float32Array, res['size']!.data as Float32Array, res['offset']!.data as Float32Array, batch.n, H, H, K);
    const engine = (await rc.ml.predict(best, cfg, batch)) as Prediction[];
    const boxes = engine.reduce((n, p) => n + (p.task === 'detection' ? p.boxes.length : 0), 0);
    console.log(`engine boxes on the validation batch: ${boxes}`);
    assert.ok(boxes > 0, 'the comparison needs detections');
    engine.forEach((p, i) => {
      assert.equal(p.task, 'detection');
      if (p.task !== 'detection') return;
      const a = mine[i] ?? [];
      assert.equal(a.length, p.boxes.length, `image ${i}: ${a.length} boxes from the card's recipe, ${p.boxes.length} from the engine`);
      const key = (b: { x: number; y: number; classIndex: number }) => `${b.classIndex}:${b.x.toFixed(2)}:${b.y.toFixed(2)}`;
      assert.deepEqual(a.map(key).sort(), p.boxes.map(key).sort());
    });
  } finally {
    rc.close();
    road.cleanup();
  }
});

test('fovea export-model --json', () => {
  const out = join(tmp.dir, 'out-cli');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'export-model', '--library', lib, '--run', String(runId), '--format', 'onnx', '--out', out, '--json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, FOVEA_LIBRARY: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { runId: number; format: string; files: { path: string; sha256: string }[]; card: ModelCard };
  assert.equal(doc.runId, runId);
  assert.equal(doc.format, 'onnx');
  assert.deepEqual(doc.files.map((f) => f.path).sort(), [MODEL_CARD_NAME, 'model.onnx']);
  assert.equal(doc.card.task, 'classification');
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'export-model', '--library', lib, '--run', String(runId), '--format', 'pt', '--out', out], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--format must be one of tfjs, onnx/);
});
