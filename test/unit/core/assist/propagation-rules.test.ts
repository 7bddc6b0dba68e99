/**
 * When propagation stops, and what it prompts with: the rules on small masks drawn by hand, and
 * the names of an Ultralytics export's classes as its metadata writes them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mostInteriorPoint } from '../../../../electron/core/assist/mask-geometry';
import { parseUltralyticsNames } from '../../../../electron/core/assist/model-layouts';
import { nextPrompt, objectLook, stopReason } from '../../../../electron/core/assist/propagation';

const W = 20;
const H = 20;

function disc(cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) m[y * W + x] = 1;
  return m;
}

/** An RGB image: `fg` grey inside the mask, `bg` outside. */
function image(mask: Uint8Array, fg: number, bg: number): { data: Uint8Array } {
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < mask.length; i++) data.fill(mask[i] ? fg : bg, i * 3, i * 3 + 3);
  return { data };
}

test('the next slice is prompted with the grown box and the most interior pixel of the previous mask', () => {
  const m = disc(10, 10, 4);
  const p = nextPrompt(m, W, H);
  assert.ok(p && p.box);
  const c = mostInteriorPoint(m, W, H)!;
  assert.deepEqual(p.points, [{ x: c.x, y: c.y, positive: true }]);
  // The disc's centre pixel (pixel centres at +0.5).
  assert.deepEqual([c.x, c.y], [9.5, 9.5]);
  // Bounds 6..13 (8 px): grown by 2 px each way.
  assert.deepEqual(p.box, { x: 4, y: 4, width: 12, height: 12 });
  assert.equal(nextPrompt(new Uint8Array(W * H), W, H), null);
});

test('stop rules: empty, growth, jump, low score, another brightness; a similar mask continues', () => {
  const prev = disc(10, 10, 4);
  const look = objectLook(image(prev, 200, 100), prev, W, H);
  assert.equal(look.luminance, 200);
  assert.equal(look.tolerance, 50); // half the contrast with its surroundings
  assert.equal(stopReason(disc(10, 10, 3.5), prev, 0.9, look, 195), null);
  assert.match(stopReason(new Uint8Array(W * H), prev, 0.9) ?? '', /object ended \(empty mask\)/);
  assert.match(stopReason(disc(10, 10, 8), prev, 0.9) ?? '', /times the previous slice's area/);
  assert.match(stopReason(disc(3, 3, 2.5), disc(16, 16, 2.5), 0.9) ?? '', /does not overlap/);
  assert.match(stopReason(disc(10, 10, 4), prev, 0.2) ?? '', /unsure \(score 0\.20\)/);
  assert.match(stopReason(disc(10, 10, 4), prev, 0.9, look, 120) ?? '', /object ended \(the mask is darker than the object: 120 vs 200/);
  // Slow growth past the object is caught against the seed.
  const seedSmall = { ...look, area: 10 };
  assert.match(stopReason(disc(10, 10, 4), disc(10, 10, 3.8), 0.9, seedSmall, 200) ?? '', /times the first mask's area/);
});

test('Ultralytics names metadata is read in index order; anything else is not names', () => {
  assert.deepEqual(parseUltralyticsNames("{0: 'person', 1: 'bicycle', 2: \"traffic light\", 3: 'it\\'s'}"), ['person', 'bicycle', 'traffic light', "it's"]);
  assert.equal(parseUltralyticsNames('{0: "a", 2: "c"}'), null);
  assert.equal(parseUltralyticsNames(undefined), null);
  assert.equal(parseUltralyticsNames('person,car'), null);
});
