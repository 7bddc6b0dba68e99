import { badInput } from './dicom-errors';

/**
 * Segmented Palette Color Lookup Table Data (0028,1221-1223), PS3.3 C.7.9.2:
 * a palette stored as segments that expand into the full table.
 *
 * - Discrete (opcode 0, length n): the next n values are entries.
 * - Linear (opcode 1, length n, y1): n entries on the straight line from the
 *   previous segment's end point (x0, y0) to (x0 + n, y1): the entries after
 *   x0 up to and including y1 (C.7.9.2.2).
 * - Indirect (opcode 2, count, offset): expands `count` segments again,
 *   starting at a BYTE offset from the start of the data, stored as the least
 *   significant 16 bits then the most significant 16 bits (C.7.9.2.3); it
 *   shall not point at another indirect segment.
 *
 * The values between the end points of a linear segment are not specified
 * by the standard; they are computed as pydicom (2.3) does, the reference
 * the tests compare with: numpy.linspace(y0 + step, y1, n) rounded half to
 * even. pydicom reads the indirect offset as an index into the 16-bit words
 * rather than in bytes; we follow the standard there (gdcm does too), so
 * tables whose indirect segments point anywhere but the start differ from
 * pydicom's. dcmtk (3.6.7) does not read segmented palettes at all.
 *
 * Units are 16-bit words when the table's entries are 16 bits, and bytes
 * (in little-endian order within the OW words, as pydicom reads them) when
 * the entries are 8 bits.
 */

/** Segments copied by indirect segments are capped so a hostile table cannot make us work forever. */
const MAX_EXPANSION_STEPS = 1_000_000;

/**
 * Expands segmented table data into `entries` values. Refuses tables that
 * are malformed (a linear or indirect segment first, an unknown opcode, an
 * indirect segment pointing outside the data or at another indirect
 * segment, or fewer entries than the descriptor says). A table that expands
 * to more entries than the descriptor says is cut at `entries`, as pydicom
 * and the lookup do in effect.
 */
export function expandSegmentedLut(units: ArrayLike<number>, entries: number, entryBits: 8 | 16, what: string): Uint16Array {
  const out = new Uint16Array(entries);
  let count = 0;
  let steps = 0;
  const fail = (reason: string): never => {
    throw badInput(`The DICOM image's segmented ${what} palette colour table is malformed: ${reason}.`);
  };
  const push = (value: number): void => {
    if (count < entries) out[count] = value;
    count++;
  };

  /** Expands segments from unit `start`; at most `limit` segments; returns the unit after the last. */
  const expand = (start: number, limit: number, inIndirect: boolean): number => {
    let at = start;
    let segments = 0;
    // `at + 1 <` allows one trailing pad unit, as every segment is longer than that.
    while (at + 1 < units.length && segments < limit && count < entries) {
      if (++steps > MAX_EXPANSION_STEPS) fail('it expands too many segments');
      const opcode = units[at] ?? 0;
      const length = units[at + 1] ?? 0;
      at += 2;
      if (opcode === 0) {
        if (at + length > units.length) fail(`a discrete segment of ${length} entries runs past the end of the data`);
        for (let i = 0; i < length; i++) push(units[at + i] ?? 0);
        at += length;
      } else if (opcode === 1) {
        if (count === 0) fail('the first segment is a linear segment, which needs the end point of a previous one');
        if (at >= units.length) fail('a linear segment has no end value');
        const y0 = out[Math.min(count, entries) - 1] ?? 0;
        const y1 = units[at] ?? 0;
        at += 1;
        linear(y0, y1, length, push);
      } else if (opcode === 2) {
        if (inIndirect) fail('an indirect segment points at another indirect segment');
        if (count === 0) fail('the first segment is an indirect segment, which needs earlier segments to copy');
        let byteOffset: number;
        if (entryBits === 16) {
          if (at + 2 > units.length) fail('an indirect segment has no offset');
          byteOffset = (units[at] ?? 0) + (units[at + 1] ?? 0) * 0x10000;
          at += 2;
        } else {
          if (at + 4 > units.length) fail('an indirect segment has no offset');
          // Two little-endian 16-bit words, least significant first.
          byteOffset = (units[at] ?? 0) + (units[at + 1] ?? 0) * 0x100 + ((units[at + 2] ?? 0) + (units[at + 3] ?? 0) * 0x100) * 0x10000;
          at += 4;
        }
        const target = entryBits === 16 ? byteOffset / 2 : byteOffset;
        if (!Number.isInteger(target) || target >= units.length) fail(`an indirect segment points at byte ${byteOffset}, outside the data`);
        if ((units[target] ?? 0) === 2) fail('an indirect segment points at another indirect segment');
        expand(target, length, true);
      } else {
        fail(`segment type ${opcode} is not defined`);
      }
      segments++;
    }
    return at;
  };

  expand(0, Number.POSITIVE_INFINITY, false);
  if (count < entries) fail(`it expands to ${count} entries, but its descriptor says ${entries}`);
  return out;
}

/**
 * The n values of a linear segment from y0 (exclusive) to y1 (inclusive),
 * computed as numpy.around(numpy.linspace(y0 + step, y1, n)) with
 * step = (y1 - y0) / n, which is what pydicom does.
 */
function linear(y0: number, y1: number, n: number, push: (v: number) => void): void {
  if (n === 0) return;
  if (y0 === y1) {
    for (let i = 0; i < n; i++) push(y1);
    return;
  }
  const start = y0 + (y1 - y0) / n;
  if (n === 1) {
    push(roundHalfEven(y1));
    return;
  }
  // numpy.linspace: start + i * ((stop - start) / (n - 1)), the last value exactly stop.
  const delta = (y1 - start) / (n - 1);
  for (let i = 0; i < n - 1; i++) push(roundHalfEven(start + i * delta));
  push(y1);
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
