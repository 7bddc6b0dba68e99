/**
 * The orientation markers' direction math against planes whose labels every radiologist knows
 * (axial: R on the screen's left, A at the top; coronal: S at the top; sagittal: A on the left),
 * and oblique planes, with the IOP values of real files in /work/shared/testdata.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test('a small tilt (under about 8 degrees) keeps the plain label; rounding noise adds nothing', () => {
  // A gantry-tilted CT row, 5 degrees off.
  assert.equal(directionLabel([1, 0, Math.sin((5 * Math.PI) / 180)]), 'L');
  assert.deepEqual(orientationMarkers([1, 0.001, -0.001, -0.001, 0.006, -1]), { left: 'R', right: 'L', top: 'S', bottom: 'I' });
  // 10 degrees does show.
  assert.equal(directionLabel([Math.cos(0.1745), 0, Math.sin(0.1745)]), 'LS');
});

test('at most two letters, the third axis dropped', () => {
  const s = 1 / Math.sqrt(3);
  assert.equal(directionLabel([s, -s, s]).length, 2);
});

test('no orientation, a zero or non-finite one: no markers', () => {
  assert.equal(orientationMarkers(null), null);
  assert.equal(orientationMarkers(undefined), null);
  assert.equal(orientationMarkers([0, 0, 0, 0, 0, 0]), null);
  assert.equal(orientationMarkers([Number.NaN, 0, 0, 0, 1, 0]), null);
});
