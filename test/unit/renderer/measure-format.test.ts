/** What the viewer writes next to a kept measurement: the core's values, their units, 1 decimal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeasurementValues } from '../../../electron/contract/measure';
import { measurementLines } from '../../../renderer/src/viewer/measure-format';

const NONE: MeasurementValues = { unit: 'mm', spacingSource: 'PixelSpacing', length: null, angle: null, area: null, pixels: null, mean: null, sd: null, min: null, max: null, valueUnit: null };

test('lengths, angles and regions read with their units', () => {
  assert.deepEqual(measurementLines('length', { ...NONE, length: 12.345 }), ['12.3 mm']);
  assert.deepEqual(measurementLines('length', { ...NONE, unit: 'px', length: 7 }), ['7.0 px']);
  assert.deepEqual(measurementLines('angle', { ...NONE, angle: 89.96 }), ['90.0°']);
  assert.deepEqual(measurementLines('ellipse', { ...NONE, area: 50.27, pixels: 52, mean: -12.34, sd: 3.21, min: -40, max: 22.5, valueUnit: 'HU' }), [
    'Area 50.3 mm²',
    'Mean -12.3 HU SD 3.2',
    'Min -40.0 Max 22.5 · 52 px',
  ]);
  // A single pixel has no sample SD; a colour image has no statistics.
  assert.deepEqual(measurementLines('rectangle', { ...NONE, area: 1, pixels: 1, mean: 5, sd: null, min: 5, max: 5, valueUnit: null })[1], 'Mean 5.0 SD –');
  assert.deepEqual(measurementLines('freehand', { ...NONE, unit: 'px', area: 8, pixels: 6 }), ['Area 8.0 px²', '6 px']);
});
