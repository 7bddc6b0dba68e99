/**
 * How a kept measurement reads on the image and in the list: the core's values with their units.
 * Lengths and areas to 1 decimal, angles to 1 decimal, statistics to 1 decimal (HU for CT).
 * Pure: unit-tested in Node, and the browser test compares it against the core's values.
 */
import type { Measurement, MeasurementKind, MeasurementValues } from '../../../electron/contract/measure';

export const MEASUREMENT_LABELS: Readonly<Record<MeasurementKind, string>> = {
  length: 'Length',
  angle: 'Angle',
  ellipse: 'Ellipse',
  rectangle: 'Rectangle',
  freehand: 'Freehand',
};

function n1(x: number | null): string {
  return x === null ? '–' : x.toFixed(1);
}

/** The lines drawn next to the shape (the first is the list's summary). */
export function measurementLines(kind: MeasurementKind, v: MeasurementValues): string[] {
  if (kind === 'length') return [`${n1(v.length)} ${v.unit}`];
  if (kind === 'angle') return [`${n1(v.angle)}°`];
  const lines = [`Area ${n1(v.area)} ${v.unit}²`];
  if (v.mean !== null) {
    const u = v.valueUnit ? ` ${v.valueUnit}` : '';
    lines.push(`Mean ${n1(v.mean)}${u} SD ${n1(v.sd)}`, `Min ${n1(v.min)} Max ${n1(v.max)} · ${v.pixels ?? 0} px`);
  } else {
    lines.push(`${v.pixels ?? 0} px`);
  }
  return lines;
}

export function measurementSummary(m: Measurement): string {
  const lines = measurementLines(m.kind, m.values);
  return m.kind === 'length' || m.kind === 'angle' ? lines[0] ?? '' : lines.slice(0, 2).join(' · ');
}
