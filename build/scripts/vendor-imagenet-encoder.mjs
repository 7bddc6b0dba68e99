#!/usr/bin/env node
/**
 * Vendors the ImageNet MobileNetV2 encoder (blocks 0-10) from nsfwjs 4.3.0 into
 * resources/models/imagenet-mobilenetv2/ (issue 13 item 6). Run once by a developer, with the
 * package unpacked beside it (there is no download here or at run time):
 *
 *   npm pack nsfwjs@4.3.0 && tar xzf nsfwjs-4.3.0.tgz
 *   node build/scripts/vendor-imagenet-encoder.mjs package
 *
 * nsfwjs's mobilenet_v2 is a Keras MobileNetV2 (alpha 1.0, 224 px) whose layers up to
 * block_10_project_BN are marked trainable=false in its topology: the original ImageNet weights,
 * quantized to uint8 by the TF.js converter. Its later blocks were retrained on other data and are
 * NOT taken. Written: weights.bin (the uint8 values of those layers, in order), encoder.json (each
 * weight's name, shape, byte offset and its min/scale: value = min + scale * q), the SHA-256 of
 * weights.bin, and the licence (MIT, Infinite Red, Inc.) in NOTICE.txt.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const pkg = resolve(process.argv[2] ?? 'package');
const version = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version;
if (version !== '4.3.0') throw new Error(`nsfwjs 4.3.0 expected, found ${version}`);
const require = createRequire(import.meta.url);
const load = (f) => {
  // The model files are UMD bundles (a module.exports of the JSON or of the base64 shard).
  const src = join(pkg, 'dist/models/mobilenet_v2', f);
  const tmp = join(process.env.TMPDIR ?? '/tmp', `fovea-nsfwjs-${process.pid}-${f.replace(/\W/g, '_')}.cjs`);
  writeFileSync(tmp, readFileSync(src));
  return require(tmp);
};
const model = load('model.min.js');
const shard = Buffer.from(load('group1-shard1of1.min.js'), 'base64');
const layers = model.modelTopology.model_config.config.layers;
const last = layers.findIndex((l) => l.name === 'block_10_project_BN');
if (last < 0) throw new Error('block_10_project_BN not found');
const kept = layers.slice(1, last + 1);
if (!kept.every((l) => l.config.trainable === false)) throw new Error('a layer up to block 10 is trainable: not the frozen ImageNet weights');
if (layers[last + 1]?.config.trainable !== true) throw new Error('block 11 should be the first retrained layer');
const names = new Set(kept.map((l) => l.name));

const specs = model.weightsManifest.flatMap((g) => g.weights);
let offset = 0;
const out = [];
const chunks = [];
let outOffset = 0;
for (const s of specs) {
  const n = s.shape.reduce((a, b) => a * b, 1);
  if (s.quantization?.dtype !== 'uint8') throw new Error(`${s.name}: uint8 quantization expected`);
  const layer = s.name.slice(0, s.name.lastIndexOf('/'));
  if (names.has(layer)) {
    chunks.push(shard.subarray(offset, offset + n));
    out.push({ name: s.name, shape: s.shape, offset: outOffset, min: s.quantization.min, scale: s.quantization.scale });
    outOffset += n;
  }
  offset += n;
}
if (offset !== shard.length) throw new Error(`shard is ${shard.length} bytes, the manifest says ${offset}`);
const bin = Buffer.concat(chunks);
const dir = resolve(new URL('../../resources/models/imagenet-mobilenetv2', import.meta.url).pathname);
writeFileSync(join(dir, 'weights.bin'), bin);
const card = {
  format: 'fovea-encoder',
  version: 1,
  architecture: 'mobilenetv2-1.0-blocks0-10',
  source: 'nsfwjs@4.3.0, dist/models/mobilenet_v2 (Keras MobileNetV2 alpha 1.0), layers Conv1 .. block_10_project_BN (trainable=false there: the ImageNet weights)',
  license: 'MIT (nsfwjs, Copyright (c) 2019 Infinite Red, Inc.); the Keras MobileNetV2 ImageNet weights are Apache-2.0 (keras-team/keras-applications)',
  input: 'RGB scaled to [-1, 1] (keras.applications.mobilenet_v2.preprocess_input)',
  quantization: 'uint8 affine per tensor: value = min + scale * q',
  sha256: createHash('sha256').update(bin).digest('hex'),
  bytes: bin.length,
  weights: out,
};
writeFileSync(join(dir, 'encoder.json'), `${JSON.stringify(card, null, 1)}\n`);
console.log(`${out.length} tensors, ${bin.length} bytes -> ${dir}`);
