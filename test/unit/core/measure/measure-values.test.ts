/**
 * Measurement values on hand-made frames: the pixel-centre inclusion rule for each region kind,
 * physical lengths and angles with an anisotropic pixel spacing, the sample SD, px without a
 * spacing, and no statistics on colour frames.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measurementValues, type FrameValues } from '../../../../electron/core/measure/measure-values';

/** A 10 x 8 frame whose value is 10 * row + column. */
function frame(spacing: [number, number] | null = null, colour = false): FrameValues {
  const rows = 8;
  const columns = 10;
  const values = colour ? null : Float64Array.from({ length: rows * columns }, (_, i) => 10 * Math.floor(i / columns) + (i % columns));
  return { rows, columns, values, pixelSpacing: spacing, valueUnit: colour ? null : 'HU' };
}

test('length and angle are measured in mm with [row, column] spacing; px without one', () => {
  const mm = measurementValues('length', [[1, 1], [4, 5]], frame([2, 0.5]));
  assert.equal(mm.unit, 'mm');
  assert.ok(Math.abs((mm.length ?? 0) - Math.hypot(3 * 0.5, 4 * 2)) < 1e-12);
  const px = measurementValues('length', [[1, 1], [4, 5]], frame());
  assert.equal(px.unit, 'px');
  assert.equal(px.spacingSource, null);
  assert.equal(px.length, 5);
  const right = measurementValues('angle', [[5, 0], [0, 0], [0, 3]], frame());
  assert.ok(Math.abs((right.angle ?? 0) - 90) < 1e-12);
  // 45 degrees in pixels, but columns are twice as wide as rows: atan(1/2) in mm.
  const skew = measurementValues('angle', [[4, 0], [0, 0], [4, 4]], frame([1, 2]));
  assert.ok(Math.abs((skew.angle ?? 0) - (Math.atan2(4, 8) * 180) / Math.PI) < 1e-9);
  const straight = measurementValues('angle', [[0, 0], [2, 2], [4, 4]], frame());
  assert.ok(Math.abs((straight.angle ?? 0) - 180) < 1e-9);
  assert.equal(mm.mean, null, 'a line has no statistics');
});

test('a rectangle takes the pixels whose centre is inside, boundary included', () => {
  // Columns 1..3 (centres 1.5..3.5) and rows 2..3 (centres 2.5, 3.5): 6 pixels.
  const r = measurementValues('rectangle', [[3.5, 2], [1, 3.5]], frame());
  assert.equal(r.pixels, 6);
  assert.equal(r.area, 2.5 * 1.5);
  const vals = [21, 22, 23, 31, 32, 33];
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const sd = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / (vals.length - 1));
  assert.equal(r.mean, mean);
  assert.ok(Math.abs((r.sd ?? 0) - sd) < 1e-12, 'sample SD');
  assert.equal(r.min, 21);
  assert.equal(r.max, 33);
  assert.equal(r.valueUnit, 'HU');
});

test('an ellipse and a freehand polygon follow the centre rule; area is geometric', () => {
  // Box [0,4] x [0,4]: centre (2,2), radii 2: pixel centres (0.5..3.5) within the circle.
  const e = measurementValues('ellipse', [[0, 0], [4, 4]], frame([0.5, 0.5]));
  let expected = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) if ((c + 0.5 - 2) ** 2 + (r + 0.5 - 2) ** 2 <= 4) expected++;
  assert.equal(e.pixels, expected);
  assert.ok(Math.abs((e.area ?? 0) - Math.PI * 2 * 2 * 0.25) < 1e-12);
  // A right triangle with legs 4: centres strictly below the diagonal y = x.
  const t = measurementValues('freehand', [[0, 0], [4, 4], [0, 4]], frame());
  let below = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) if (c + 0.5 < r + 0.5) below++;
  assert.equal(t.pixels, below);
  assert.equal(t.area, 8);
});

test('a region partly outside the image counts only the pixels inside it; colour frames give area only', () => {
  const r = measurementValues('rectangle', [[-5, -5], [1, 1]], frame());
  assert.equal(r.pixels, 1);
  assert.equal(r.mean, 0);
  assert.equal(r.sd, null, 'no sample SD of one pixel');
  const c = measurementValues('rectangle', [[0, 0], [2, 2]], frame(null, true));
  assert.equal(c.pixels, 4);
  assert.equal(c.mean, null);
  assert.equal(c.valueUnit, null);
});
