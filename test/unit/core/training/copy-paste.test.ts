/**
 * Detection copy-paste (issue 13 item 4; core/training/copy-paste.ts): the paste in input pixels
 * (pixels, added boxes, covered objects turned into regions to ignore or shrunk), the library
 * provider pasting masked objects of another training image (pixels equal to the source's,
 * boxes added, seeded), and the option's checks (contract, provider, 'training.start', CLI).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { TrainConfig } from '../../../../electron/contract/ml';
import { AugmentSchema, copyPasteProblem, runRecipeProblem } from '../../../../electron/contract/runs';
import { parseRunStartOptions } from '../../../../electron/cli/commands/runs';
import { UsageError } from '../../../../electron/cli/cli-context';
import { encodeMask } from '../../../../electron/core/labels/rle';
import { imageArea, pasteObjects, planCopyPaste, renderInstances, type InputBox } from '../../../../electron/core/training/copy-paste';
import { createLibraryBatchProvider } from '../../../../electron/core/training/library-batch-provider';
import { decodeSample, drawAugmentation, renderSample, sampleTransform } from '../../../../electron/core/training/sample-loader';
import { collectSamples, maskReader } from '../../../../electron/core/training/training-samples';
import { tempCore } from '../../../helpers/temp-library';
import * as v from 'valibot';

const NO_AUGMENT = { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 };

function config(over: Partial<TrainConfig>): TrainConfig {
  return {
    task: 'detection',
    inputSize: 64,
    channels: 1,
    classNames: ['person', 'car'],
    multiLabel: false,
    epochs: 3,
    batchSize: 3,
    learningRate: 1e-3,
    seed: 5,
    backend: 'cpu',
    earlyStoppingPatience: 0,
    augment: { ...NO_AUGMENT, copyPaste: 1, minBoxVisibility: 0.4 },
    classWeights: null,
    normalization: { kind: 'unit' },
    ...over,
  };
}

test('the paste in input pixels: source pixels under the mask, its box added; covered objects ignored or shrunk', () => {
  const S = 10;
  const x = new Float32Array(S * S).fill(0.1);
  const sourceX = Float32Array.from({ length: S * S }, (_, i) => (i + 1) / 1000);
  // Source: instance 2 on columns 0-4 of rows 0-5 (a 5 x 6 object), instance 1 elsewhere is not chosen.
  const sourceInstances = new Uint8Array(S * S);
  for (let v0 = 0; v0 < 6; v0++) for (let u = 0; u < 5; u++) sourceInstances[v0 * S + u] = 2;
  sourceInstances[9 * S + 9] = 1;
  // Target: object A (instance 1) entirely under the paste, object B (instance 2) 2/3 under it,
  // object C (instance 3) 1/6 under it (its left column), object D a plain box (no mask) beside it.
  const instances = new Uint8Array(S * S);
  const paint = (val: number, u0: number, v0: number, w: number, h: number) => {
    for (let v1 = v0; v1 < v0 + h; v1++) for (let u = u0; u < u0 + w; u++) instances[v1 * S + u] = val;
  };
  paint(1, 1, 1, 2, 2);
  paint(2, 3, 0, 3, 1); // columns 3, 4 covered, 5 not
  paint(3, 4, 4, 6, 2); // columns 4-9 of rows 4-5: column 4 covered -> 2 of 12 pixels
  const objects = [
    { box: [1, 1, 2, 2, 0] as InputBox, visible: 1, instance: 1 },
    { box: [3, 0, 3, 1, 0] as InputBox, visible: 1, instance: 2 },
    { box: [4, 4, 6, 2, 1] as InputBox, visible: 1, instance: 3 },
    { box: [3, 7, 4, 2, 1] as InputBox, visible: 1, instance: 0 },
  ];
  const ignore: InputBox[] = [[8, 8, 2, 2, -1]];
  const r = pasteObjects({ size: S, channels: 1, x, objects, instances, ignore, sourceX, sourceInstances, pasted: [{ instance: 2, classIndex: 1, area: 30 }], minVisibility: 0.4 });
  assert.equal(r.pastedObjects, 1);
  for (let i = 0; i < S * S; i++) {
    if (sourceInstances[i] === 2) assert.equal(r.x[i], sourceX[i], `pixel ${i} is the source's`);
    else assert.equal(r.x[i], Math.fround(0.1), `pixel ${i} is the target's`);
  }
  assert.equal(x[0], Math.fround(0.1), 'the input image is not modified');
  assert.deepEqual(r.boxes, [
    [1, 1, 2, 2, -1], // fully covered: a region to ignore
    [3, 0, 3, 1, -1], // 1/3 visible < 0.4: a region to ignore, its box
    [5, 4, 5, 2, 1], // 10/12 visible: shrunk to its visible pixels (columns 5-9)
    [3, 7, 4, 2, 1], // a plain box below the paste: untouched
    [0, 0, 5, 6, 1], // the pasted object
    [8, 8, 2, 2, -1], // the target's region to ignore
  ]);

  // The crop's visibility counts too: 0.45 of its box left inside the input x 10/12 uncovered = 0.375 < 0.4.
  const cropped = pasteObjects({ size: S, channels: 1, x, objects: [{ box: [4, 4, 6, 2, 1], visible: 0.45, instance: 3 }], instances, ignore: [], sourceX, sourceInstances, pasted: [{ instance: 2, classIndex: 1, area: 30 }], minVisibility: 0.4 });
  assert.deepEqual(cropped.boxes[0], [4, 4, 6, 2, -1]);

  // An object with too little of itself inside the input is not pasted at all (its pixels stay the target's).
  const outside = pasteObjects({ size: S, channels: 1, x, objects: [], instances: null, ignore: [], sourceX, sourceInstances, pasted: [{ instance: 2, classIndex: 1, area: 100 }], minVisibility: 0.4 });
  assert.equal(outside.pastedObjects, 0);
  assert.deepEqual(outside.boxes, []);
  assert.deepEqual([...outside.x], [...x]);

  // Nothing lands outside the target image (its letterbox padding): rows 0-2 here are padding.
  const canvas = new Uint8Array(S * S).fill(1).fill(0, 0, 3 * S);
  const onImage = pasteObjects({ size: S, channels: 1, x, objects: [], instances: null, ignore: [], canvas, sourceX, sourceInstances, pasted: [{ instance: 2, classIndex: 1, area: 30 }], minVisibility: 0.4 });
  assert.deepEqual(onImage.boxes, [[0, 3, 5, 3, 1]], 'the box of what was pasted: rows 3-5');
  for (let i = 0; i < S * S; i++) assert.equal(onImage.x[i], sourceInstances[i] === 2 && i >= 3 * S ? sourceX[i] : Math.fround(0.1));
});

test('the plan: drawn with probability p from (seed, epoch, item, frame), never the image itself, a subset of the masked objects', () => {
  const sample = (itemId: number, masked: number) => ({
    itemId,
    frameIndex: 0,
    kind: 'image' as const,
    blobSha256: '',
    width: 10,
    height: 10,
    colour: false,
    patientKey: null,
    annotations: [],
    target: {
      task: 'detection' as const,
      boxes: [0, 1, 2].map((k) => ({ x: k, y: k, width: 2, height: 2, classIndex: 0 })),
      masks: [0, 1, 2].map((k) => (k < masked ? { kind: 'polygon' as const, points: [[k, k], [k + 2, k], [k + 2, k + 2]] as [number, number][] } : null)),
    },
  });
  const pool = [sample(1, 3), sample(2, 1), sample(3, 2)];
  const aug = { ...NO_AUGMENT, scale: 0.3, flipHorizontal: true, copyPaste: 0.5 };
  let drawn = 0;
  for (let e = 0; e < 200; e++) {
    const p = planCopyPaste(aug, 1, e, pool[0] as (typeof pool)[0], pool, 0);
    assert.deepEqual(planCopyPaste(aug, 1, e, pool[0] as (typeof pool)[0], pool, 0), p, 'the same draw again');
    if (!p) continue;
    drawn++;
    assert.notEqual(p.source.itemId, 1);
    const masked = p.source.itemId === 2 ? [0] : [0, 1];
    assert.ok(p.objects.length >= 1 && p.objects.every((o) => masked.includes(o)), JSON.stringify(p.objects));
    assert.ok(p.draw.scale >= 0.7 && p.draw.scale <= 1.3 && Math.abs(p.draw.shiftX) <= 0.3 && p.draw.angle === 0 && p.draw.contrast === 1);
  }
  assert.ok(drawn > 70 && drawn < 130, `drawn ${drawn} of 200 at p 0.5`);
  assert.equal(planCopyPaste({ ...aug, copyPaste: 0 }, 1, 0, pool[0] as (typeof pool)[0], pool, 0), null);
  assert.equal(planCopyPaste({ ...aug, copyPaste: 1 }, 1, 0, pool[0] as (typeof pool)[0], [pool[0] as (typeof pool)[0]], 0), null, 'no other image: no paste');
});

/** A library of grey scenes: each image has a person (a mask) and a car (a polygon), each object painted its own grey. */
async function library(t: { after(fn: () => void): void }, withMasks = true) {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const imgDir = join(dir, 'img');
  mkdirSync(imgDir);
  const W = 64;
  const H = 48;
  const people = [0, 1, 2, 3, 4].map((i) => ({ x: 4 + i * 5, y: 6 + i, w: 10, h: 20 }));
  const cars = [0, 1, 2, 3, 4].map((i) => ({ x: 36 - i * 2, y: 28 + i, w: 18, h: 10 }));
  for (let i = 0; i < 5; i++) {
    const px = Buffer.alloc(W * H, 20);
    const p = people[i] as (typeof people)[0];
    const c = cars[i] as (typeof cars)[0];
    for (let y = p.y; y < p.y + p.h; y++) for (let x = p.x; x < p.x + p.w; x++) px[y * W + x] = 100 + i * 20;
    for (let y = c.y; y < c.y + c.h; y++) for (let x = c.x; x < c.x + c.w; x++) px[y * W + x] = 110 + i * 20;
    await sharp(px, { raw: { width: W, height: H, channels: 1 } }).png().toFile(join(imgDir, `s${i}.png`));
  }
  const ds = core.datasets.create('scenes', '');
  await core.importFiles({ datasetId: ds.id, paths: [imgDir] });
  const items = core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY source_name').pluck().all(ds.id) as number[];
  const person = core.annotations.ensureClass(ds.id, 'person');
  const car = core.annotations.ensureClass(ds.id, 'car');
  items.forEach((itemId, i) => {
    const p = people[i] as (typeof people)[0];
    const c = cars[i] as (typeof cars)[0];
    const base = { datasetId: ds.id, itemId, source: 'human' as const, author: 't' };
    if (withMasks) {
      const m = new Uint8Array(W * H);
      for (let y = p.y; y < p.y + p.h; y++) for (let x = p.x; x < p.x + p.w; x++) m[y * W + x] = 1;
      core.annotations.create({ ...base, classId: person, kind: 'mask', geometry: { rle: encodeMask(m, H, W) } });
      core.annotations.create({ ...base, classId: car, kind: 'polygon', geometry: { points: [[c.x, c.y], [c.x + c.w, c.y], [c.x + c.w, c.y + c.h], [c.x, c.y + c.h]] } });
    } else {
      core.annotations.create({ ...base, classId: person, kind: 'box', geometry: { x: p.x, y: p.y, width: p.w, height: p.h } });
      core.annotations.create({ ...base, classId: car, kind: 'box', geometry: { x: c.x, y: c.y, width: c.w, height: c.h } });
    }
  });
  core.splits.setSplit(ds.id, items.slice(0, 4), 'train');
  core.splits.setSplit(ds.id, items.slice(4), 'val');
  return { core, ds, items };
}

test('the provider pastes another image\'s masked objects: their pixels are the source\'s, their boxes added; seeded', { timeout: 30_000 }, async (t) => {
  const { core, ds } = await library(t);
  const plain = collectSamples(core.db, ds.id, 'detection');
  assert.ok(plain.samples.every((s) => s.target.task === 'detection' && s.target.masks === undefined), 'no outlines unless asked for');
  const { samples } = collectSamples(core.db, ds.id, 'detection', { objectMasks: true });
  const c = config({});
  const splits = core.splits.splitMap(ds.id);
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples, splits, config: c, prefetchBatches: 0 });
  t.after(() => provider.dispose());
  const pool = samples.filter((s) => splits.get(s.itemId) === 'train');
  const decodeOptions = { normalization: c.normalization, channels: c.channels, inputSize: 64, readMask: maskReader(core.db), instanceMasks: true };
  let checkedPixels = 0;
  let pastedBoxes = 0;
  for (let i = 0; i < provider.batchesPerEpoch('train'); i++) {
    const b = await provider.batch('train', 1, i);
    assert.equal(b.targets.task, 'detection');
    if (b.targets.task !== 'detection') continue;
    for (let k = 0; k < b.n; k++) {
      const itemId = b.itemIds[k] as number;
      const self = pool.findIndex((s) => s.itemId === itemId);
      const plan = planCopyPaste(c.augment, c.seed, 1, { itemId, frameIndex: 0 }, pool, self);
      assert.ok(plan, 'p = 1: every training image gets a paste');
      // The source placed on its own: where its chosen objects are, the batch holds its pixels.
      const src = await decodeSample(core.blobs, plan.source, decodeOptions);
      const ts = sampleTransform(src.sourceWidth, src.sourceHeight, 64, plan.draw);
      const placed = renderSample(src, ts).x;
      // Pasted only where the target image is (not on its letterbox padding: 64 x 48 in 64 x 64).
      const area = imageArea({ sourceWidth: 64, sourceHeight: 48 }, sampleTransform(64, 48, 64, drawAugmentation(c.augment, c.seed, 1, itemId, 0)));
      const inst = renderInstances(src, ts).map((o, p) => (area[p] ? o : 0));
      assert.ok(area.includes(0) && area.includes(1));
      const x = b.x.subarray(k * 64 * 64, (k + 1) * 64 * 64);
      const greys = new Map<number, number>();
      const srcIndex = pool.indexOf(plan.source);
      for (let p = 0; p < 64 * 64; p++) {
        const o = inst[p] as number;
        if (o === 0 || !plan.objects.includes(o - 1)) continue;
        assert.equal(x[p], placed[p], `pixel ${p} of item ${itemId}`);
        // Inside the object (all 4 neighbours too), the source's painted grey exactly.
        const u = p % 64;
        if (u > 0 && u < 63 && [p - 1, p + 1, p - 64, p + 64].every((q) => inst[q] === o)) {
          const grey = (o === 1 ? 100 : 110) + srcIndex * 20;
          assert.ok(Math.abs((x[p] as number) - grey / 255) < 1e-6, `pixel ${p}: ${x[p]} is not ${grey}/255`);
          greys.set(o, grey);
        }
        checkedPixels++;
      }
      // Each pasted object's box: around its pixels, with its class (person 0: the mask, car 1: the polygon).
      for (const o of plan.objects) {
        let u0 = 64;
        let v0 = 64;
        let u1 = -1;
        let v1 = -1;
        for (let p = 0; p < 64 * 64; p++) {
          if (inst[p] !== o + 1) continue;
          u0 = Math.min(u0, p % 64);
          u1 = Math.max(u1, p % 64);
          v0 = Math.min(v0, Math.floor(p / 64));
          v1 = Math.max(v1, Math.floor(p / 64));
        }
        if (u1 < 0) continue;
        const visibleEnough = b.targets.boxes[k]?.some((bx) => bx[0] === u0 && bx[1] === v0 && bx[2] === u1 - u0 + 1 && bx[3] === v1 - v0 + 1 && bx[4] === o);
        assert.ok(visibleEnough, `item ${itemId}: the box of pasted object ${o} is in ${JSON.stringify(b.targets.boxes[k])}`);
        pastedBoxes++;
      }
      // The image's own two objects, plus the pasted ones (own ones may have become regions to ignore).
      assert.equal(b.targets.boxes[k]?.length, 2 + plan.objects.filter((o) => inst.includes(o + 1)).length);
    }
  }
  assert.ok(checkedPixels > 500 && pastedBoxes >= 4, `${checkedPixels} pixels, ${pastedBoxes} boxes`);
  assert.ok(provider.stats().copyPaste.pastedImages >= 4);
  assert.equal(provider.stats().copyPaste.sources, 4);

  // Validation batches are never pasted onto.
  const val = await provider.batch('val', 0, 0);
  assert.ok(val.targets.task === 'detection' && val.targets.boxes[0]?.length === 2);

  // The same seed: the same batches; another seed: other pastes.
  const again = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples, splits, config: c, prefetchBatches: 1 });
  const other = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples, splits, config: { ...c, seed: 6 }, prefetchBatches: 0 });
  t.after(() => again.dispose());
  t.after(() => other.dispose());
  let differs = false;
  for (let i = 0; i < provider.batchesPerEpoch('train'); i++) {
    const a = await provider.batch('train', 2, i);
    const b = await again.batch('train', 2, i);
    assert.deepEqual(b.itemIds, a.itemIds);
    assert.deepEqual(b.targets, a.targets);
    assert.ok(b.x.every((val, j) => val === a.x[j]), `batch ${i}: the same pixels`);
    const o = await other.batch('train', 2, i);
    if (JSON.stringify(o.targets) !== JSON.stringify(a.targets)) differs = true;
  }
  assert.ok(differs, 'another seed pastes otherwise');
});

test('the option is checked: range and task in the contract and the provider; a dataset of boxes only is refused before a run; the CLI flag', { timeout: 30_000 }, async (t) => {
  assert.equal(v.safeParse(AugmentSchema, { copyPaste: 0.5 }).success, true);
  assert.equal(runRecipeProblem(null, { copyPaste: 1.5 }), 'Copy-paste is a probability from 0 (off) to 1.');
  assert.equal(runRecipeProblem(null, { copyPaste: -0.1 }), 'Copy-paste is a probability from 0 (off) to 1.');
  assert.equal(copyPasteProblem('detection', 0.5), null);
  assert.equal(copyPasteProblem('segmentation', 0), null);
  assert.equal(copyPasteProblem('classification', 0.5), 'Copy-paste augmentation applies to detection runs only (a classification run was asked for).');
  assert.throws(() => createLibraryBatchProvider({ blobs: { read: () => new Uint8Array() } }, { samples: [], splits: new Map(), config: config({ task: 'segmentation' }) }), /Copy-paste augmentation applies to detection runs only/);
  assert.throws(() => createLibraryBatchProvider({ blobs: { read: () => new Uint8Array() } }, { samples: [], splits: new Map(), config: config({ augment: { ...NO_AUGMENT, copyPaste: 2 } }) }), /copy-paste in \[0, 1\]/);

  assert.deepEqual(parseRunStartOptions({ 'copy-paste': '0.5' }).augment, { copyPaste: 0.5 });
  assert.deepEqual(parseRunStartOptions({ 'copy-paste': '0.25', augment: 'scale=0.2' }).augment, { scale: 0.2, copyPaste: 0.25 });
  assert.deepEqual(parseRunStartOptions({ augment: 'copy-paste=0.3' }).augment, { copyPaste: 0.3 });
  assert.throws(() => parseRunStartOptions({ 'copy-paste': '1.5' }), (e: unknown) => e instanceof UsageError && /--copy-paste: Copy-paste is a probability from 0 \(off\) to 1\./.test(e.message));
  assert.throws(() => parseRunStartOptions({ 'copy-paste': 'lots' }), UsageError);

  const boxes = await library(t, false);
  const runsBefore = boxes.core.runs.list().length;
  const refused = await boxes.core.dispatch('training.start', { datasetId: boxes.ds.id, task: 'detection', epochs: 1, inputSize: 32, backend: 'wasm', augment: { copyPaste: 0.5 } });
  assert.ok(!refused.ok);
  assert.equal(refused.error.code, 'VALIDATION');
  assert.match(refused.error.message, /^Copy-paste pastes objects cut out along their masks, and no detection object of this dataset has an instance mask or a polygon \(boxes only\)\./);
  const wrongTask = await boxes.core.dispatch('training.start', { datasetId: boxes.ds.id, task: 'classification', epochs: 1, augment: { copyPaste: 0.5 } });
  assert.ok(!wrongTask.ok && /detection runs only/.test(wrongTask.error.message), JSON.stringify(wrongTask));
  await assert.rejects(boxes.core.training.train(boxes.ds.id, 'detection', { epochs: 1, inputSize: 32, backend: 'wasm', augment: { copyPaste: 0.5 } }), /no detection object of this dataset has an instance mask/);
  assert.equal(boxes.core.runs.list().length, runsBefore, 'no run was created');
});

test('on by default for detection: a dataset with masks trains with it; a dataset of boxes only trains without it and says so', { timeout: 60_000 }, async (t) => {
  const masks = await library(t);
  const boxes = await library(t, false);
  const quick = { epochs: 1, inputSize: 32, batchSize: 2, backend: 'wasm' as const, earlyStoppingPatience: 0 };
  const warnings: string[][] = [];
  const on = await masks.core.training.train(masks.ds.id, 'detection', quick, { onStart: (s) => warnings.push(s.warnings) });
  assert.equal(on.outcome.status, 'done', JSON.stringify(on.outcome.error));
  assert.equal(masks.core.runs.get(on.runId).config.augment.copyPaste, 0.25);
  assert.ok(!(warnings[0] ?? []).some((w) => /Copy-paste/.test(w)));
  const off = await boxes.core.training.train(boxes.ds.id, 'detection', quick, { onStart: (s) => warnings.push(s.warnings) });
  assert.equal(off.outcome.status, 'done', JSON.stringify(off.outcome.error));
  assert.equal(boxes.core.runs.get(off.runId).config.augment.copyPaste, 0);
  assert.ok((warnings[1] ?? []).includes('Copy-paste is off for this run: no training image has an object with an instance mask or a polygon to paste.'), JSON.stringify(warnings[1]));
});
