/**
 * Orientation markers: the patient direction on each edge of the image, from the frame's
 * ImageOrientationPatient (PS3.3 C.7.6.2.1.1: the row direction, the way the column index
 * grows, then the column direction, the way the row index grows, in the patient's LPS frame:
 * +x patient Left, +y Posterior, +z Superior).
 *
 * As OHIF's orientation markers do, an edge's label names the patient axes the direction runs
 * along, the largest component first: 'L' for a pure axial row, 'LA' for one turned 30 degrees.
 * Components under OBLIQUE_MIN (about 17 degrees of tilt) are left out, so that a slightly
 * tilted slice still reads as the plain plane radiologists name it. This is the MPR views'
 * rule (electron/core/volume/volume-grid.ts orientationLetters; a unit test keeps the two equal),
 * so a series reads the same in the 2-D viewer and in MPR.
 * The viewer shows the image unrotated and unflipped, so right = +row, bottom = +column.
 * Pure: unit-tested in Node.
 */

export type Orientation6 = readonly [number, number, number, number, number, number];

export interface OrientationMarkers {
  top: string;
  bottom: string;
  left: string;
  right: string;
}

/** Smallest direction cosine that still adds a letter (about sin 17 degrees). */
export const OBLIQUE_MIN = 0.3;

const AXES: readonly (readonly [string, string])[] = [
  ['L', 'R'],
  ['P', 'A'],
  ['S', 'I'],
];

/** The patient direction a unit vector points to ('L', 'PL', ...); '' for a zero vector. */
export function directionLabel(v: readonly [number, number, number]): string {
  const parts = v
    .map((c, i) => ({ c, i }))
    .filter((p) => Math.abs(p.c) >= OBLIQUE_MIN)
    .sort((a, b) => Math.abs(b.c) - Math.abs(a.c) || a.i - b.i);
  return parts.map((p) => (p.c > 0 ? AXES[p.i]![0] : AXES[p.i]![1])).join('');
}

/** The four edge labels of an image with this orientation, or null without a valid one. */
export function orientationMarkers(o: Orientation6 | null | undefined): OrientationMarkers | null {
  if (!o || o.length !== 6 || !o.every((x) => Number.isFinite(x))) return null;
  const row: [number, number, number] = [o[0], o[1], o[2]];
  const col: [number, number, number] = [o[3], o[4], o[5]];
  const neg = (v: [number, number, number]): [number, number, number] => [-v[0], -v[1], -v[2]];
  const right = directionLabel(row);
  const bottom = directionLabel(col);
  if (!right || !bottom) return null;
  return { right, left: directionLabel(neg(row)), bottom, top: directionLabel(neg(col)) };
}

