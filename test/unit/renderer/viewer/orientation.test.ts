/**
 * The orientation markers' direction math against planes whose labels every radiologist knows
 * (axial: R on the screen's left, A at the top; coronal: S at the top; sagittal: A on the left),
 * and oblique planes, with the IOP values of real files in /work/shared/testdata.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orientationLetters } from '../../../../electron/core/volume/volume-grid';
import { directionLabel, orientationMarkers } from '../../../../renderer/src/viewer/orientation';

test('axial (1,0,0 / 0,1,0): R left, L right, A top, P bottom', () => {
  assert.deepEqual(orientationMarkers([1, 0, 0, 0, 1, 0]), { left: 'R', right: 'L', top: 'A', bottom: 'P' });
});

test('coronal (1,0,0 / 0,0,-1): R left, L right, S top, I bottom', () => {
  assert.deepEqual(orientationMarkers([1, 0, 0, 0, 0, -1]), { left: 'R', right: 'L', top: 'S', bottom: 'I' });
});

test('sagittal (0,1,0 / 0,0,-1): A left, P right, S top, I bottom', () => {
  assert.deepEqual(orientationMarkers([0, 1, 0, 0, 0, -1]), { left: 'A', right: 'P', top: 'S', bottom: 'I' });
});

test('sagittal seen from the other side (0,-1,0 / 0,0,-1): P left, A right', () => {
  assert.deepEqual(orientationMarkers([0, -1, 0, 0, 0, -1]), { left: 'P', right: 'A', top: 'S', bottom: 'I' });
});

test('axial stored flipped left-right (-1,0,0 / 0,1,0): L on the left', () => {
  assert.deepEqual(orientationMarkers([-1, 0, 0, 0, 1, 0]), { left: 'L', right: 'R', top: 'A', bottom: 'P' });
});

test('oblique: both axes named, the larger first (MR2_UNCR: 0.569,0.822,0 / 0,0,-1)', () => {
  assert.deepEqual(orientationMarkers([0.569, 0.822, 0, 0, 0, -1]), { left: 'AR', right: 'PL', top: 'S', bottom: 'I' });
  // A 30 degree turn of an axial row towards anterior: mostly L, some A.
  assert.equal(directionLabel([Math.cos(Math.PI / 6), -Math.sin(Math.PI / 6), 0]), 'LA');
});

test('a small tilt (under about 17 degrees) keeps the plain label; rounding noise adds nothing', () => {
  // A gantry-tilted CT row, 15 degrees off.
  assert.equal(directionLabel([Math.cos(0.2618), 0, Math.sin(0.2618)]), 'L');
  assert.deepEqual(orientationMarkers([1, 0.001, -0.001, -0.001, 0.006, -1]), { left: 'R', right: 'L', top: 'S', bottom: 'I' });
  // 20 degrees does show.
  assert.equal(directionLabel([Math.cos(0.349), 0, Math.sin(0.349)]), 'LS');
});

test('a direction along all three axes names all three, the largest first', () => {
  assert.equal(directionLabel([0.5, -0.7, 0.5]), 'ALS');
});

test('the same letters as the MPR views (the core\'s orientationLetters) for any direction', () => {
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  for (let i = 0; i < 2000; i++) {
    const v: [number, number, number] = [rnd(), rnd(), rnd()];
    const n = Math.hypot(...v);
    if (n < 1e-3) continue;
    const u: [number, number, number] = [v[0] / n, v[1] / n, v[2] / n];
    assert.equal(directionLabel(u), orientationLetters(u), `${u}`);
  }
});

test('no orientation, a zero or non-finite one: no markers', () => {
  assert.equal(orientationMarkers(null), null);
  assert.equal(orientationMarkers(undefined), null);
  assert.equal(orientationMarkers([0, 0, 0, 0, 0, 0]), null);
  assert.equal(orientationMarkers([Number.NaN, 0, 0, 0, 1, 0]), null);
});
