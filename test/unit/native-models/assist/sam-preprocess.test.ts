/**
 * Segment Anything's preprocessing equals its reference: the resize is PIL's bilinear filter
 * (what SAM's ResizeLongestSide uses), checked against Pillow itself on a real photo, shrunk and
 * enlarged; the encoder input is normalised and zero-padded bottom-right.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { resizedSize, resizeRgb, samEncoderInput } from '../../../../native-models/assist/sam-preprocess';
import { SHARED_TESTDATA } from '../../../helpers/paths';

const PYTHON = '/usr/bin/python3';
const PHOTO = join(SHARED_TESTDATA, 'train', 'pennfudan_ped', 'PNGImages', 'FudanPed00001.png');

test('the resized size is SAM\'s: longest side to the target, int(side * scale + 0.5)', () => {
  assert.deepEqual(resizedSize(559, 536, 1024), { width: 1024, height: 982 });
  assert.deepEqual(resizedSize(128, 128, 1024), { width: 1024, height: 1024 });
  assert.deepEqual(resizedSize(4000, 3000, 1024), { width: 1024, height: 768 });
});

test('resizeRgb equals Pillow\'s BILINEAR resize within one grey level (its fixed-point rounding), shrinking and enlarging', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import PIL, numpy'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `Pillow and numpy are the reference: apt-get install python3-pil python3-numpy\n${probe.stderr}`);
  const { data, info } = await sharp(PHOTO).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { width: info.width, height: info.height, data: new Uint8Array(data) };
  for (const [w, h] of [[1024, 982], [200, 192], [301, 77]] as const) {
    const ours = resizeRgb(image, w, h);
    const py = spawnSync(PYTHON, ['-c', `import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); sys.stdout.buffer.write(im.resize((${w}, ${h}), Image.BILINEAR).tobytes())`, PHOTO], { maxBuffer: 64 * 1024 * 1024 });
    assert.equal(py.status, 0, String(py.stderr));
    const ref = new Uint8Array(py.stdout);
    assert.equal(ref.length, ours.data.length);
    // Pillow resamples 8-bit images in fixed point: its rounding is off by one now and then.
    let worst = 0;
    let sum = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs((ref[i] as number) - (ours.data[i] as number));
      worst = Math.max(worst, d);
      sum += d;
    }
    assert.ok(worst <= 1, `${w}x${h}: worst difference ${worst}`);
    assert.ok(sum / ref.length < 0.25, `${w}x${h}: mean difference ${sum / ref.length}`);
  }
});

test('the encoder input: normalised per channel, zero padding bottom-right', () => {
  const image = { width: 4, height: 2, data: new Uint8Array(4 * 2 * 3).fill(200) };
  const x = samEncoderInput(image, 8, [100, 110, 120], [50, 45, 40]);
  assert.equal(x.length, 3 * 64);
  // 4x2 -> 8x4 at the top-left; the rest 0.
  for (let c = 0; c < 3; c++) {
    const want = (200 - [100, 110, 120][c]!) / [50, 45, 40][c]!;
    for (let r = 0; r < 8; r++) for (let q = 0; q < 8; q++) assert.ok(Math.abs(x[c * 64 + r * 8 + q]! - (r < 4 ? want : 0)) < 1e-5, `c${c} r${r} q${q}`);
  }
});
