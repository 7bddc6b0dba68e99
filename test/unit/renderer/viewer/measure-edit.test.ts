/**
 * Moving kept measurements (renderer/src/viewer/measure-edit.ts): a handle wins over a body, the
 * selected measurement over the others, freehand moves only whole, a press on nothing is null;
 * a whole move keeps the shape and stops at the image edge, a point move is kept inside.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dragPoints, hitMeasurement, type Pt } from '../../../../renderer/src/viewer/measure-edit';

const length = { id: 1, kind: 'length' as const, points: [[10, 10], [50, 10]] as Pt[] };
const rect = { id: 2, kind: 'rectangle' as const, points: [[60, 60], [80, 90]] as Pt[] };
const ellipse = { id: 3, kind: 'ellipse' as const, points: [[0, 0], [20, 10]] as Pt[] };
const free = { id: 4, kind: 'freehand' as const, points: [[100, 100], [120, 100], [110, 120]] as Pt[] };
const angle = { id: 5, kind: 'angle' as const, points: [[200, 10], [150, 50], [200, 90]] as Pt[] };
const all = [length, rect, ellipse, free, angle];

describe('hitMeasurement', () => {
  test('a point within the tolerance moves that point', () => {
    assert.deepEqual(hitMeasurement(all, [49, 11], 2), { id: 1, point: 1, from: [49, 11], points: [[10, 10], [50, 10]] });
    assert.equal(hitMeasurement(all, [151, 49], 2)?.point, 1, 'the vertex of the angle');
    assert.equal(hitMeasurement(all, [80.5, 89.5], 2)?.point, 1, 'a corner of the rectangle');
  });
  test('the outline of a line, the inside of a region moves it whole', () => {
    assert.deepEqual(hitMeasurement(all, [30, 11], 2), { id: 1, point: null, from: [30, 11], points: [[10, 10], [50, 10]] });
    assert.equal(hitMeasurement(all, [70, 75], 2)?.id, 2);
    assert.equal(hitMeasurement(all, [70, 75], 2)?.point, null);
    assert.equal(hitMeasurement(all, [10, 5], 1)?.id, 3, 'ellipse centre');
    assert.equal(hitMeasurement(all, [110, 105], 1)?.id, 4, 'inside the freehand outline');
    assert.equal(hitMeasurement(all, [175, 30], 1)?.id, 5, 'on the first arm of the angle');
  });
  test('freehand points are not handles: a press on one moves the outline whole', () => {
    assert.deepEqual(hitMeasurement([free], [120, 100], 2)?.point, null);
  });
  test('nothing hit: null (a new measurement is drawn)', () => {
    assert.equal(hitMeasurement(all, [30, 40], 2), null);
    assert.equal(hitMeasurement(all, [1, 9.9], 0.1), null, 'the corner of the ellipse box lies outside the ellipse');
    assert.equal(hitMeasurement([], [0, 0], 5), null);
  });
  test('overlapping: the selected one first, else the newest', () => {
    const a = { id: 7, kind: 'rectangle' as const, points: [[0, 0], [10, 10]] as Pt[] };
    const b = { id: 8, kind: 'rectangle' as const, points: [[2, 2], [12, 12]] as Pt[] };
    assert.equal(hitMeasurement([a, b], [5, 5], 0.5)?.id, 8);
    assert.equal(hitMeasurement([a, b], [5, 5], 0.5, 7)?.id, 7);
  });
});

describe('dragPoints', () => {
  test('a whole move shifts every point by the drag', () => {
    const g = hitMeasurement([length], [30, 10], 1)!;
    assert.deepEqual(dragPoints(g, [35, 22], 100, 100), [[15, 22], [55, 22]]);
  });
  test('a whole move stops at the image edge and keeps the shape', () => {
    const g = hitMeasurement([length], [30, 10], 1)!;
    assert.deepEqual(dragPoints(g, [0, -50], 100, 100), [[0, 0], [40, 0]]);
    assert.deepEqual(dragPoints(g, [500, 500], 100, 100), [[60, 100], [100, 100]]);
  });
  test('a point move changes that point only, kept inside the image', () => {
    const g = hitMeasurement([angle], [150, 50], 1)!;
    assert.deepEqual(dragPoints(g, [160, 40], 300, 300), [[200, 10], [160, 40], [200, 90]]);
    assert.deepEqual(dragPoints(g, [-5, 400], 300, 300), [[200, 10], [0, 300], [200, 90]]);
  });
  test('the grab is not changed by dragging', () => {
    const g = hitMeasurement([rect], [70, 70], 1)!;
    dragPoints(g, [75, 75], 200, 200);
    assert.deepEqual(g.points, [[60, 60], [80, 90]]);
  });
});
