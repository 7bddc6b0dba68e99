/**
 * A tiny explicit-VR little-endian DICOM writer for tests that need exact
 * control over the bytes (lies in lengths, chosen fragment boundaries, odd
 * value lengths): the files are generated in the tests, never stored.
 */

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
export const UNDEFINED_LENGTH = 0xffffffff;

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A string value padded to even length (with a space, or NUL for UIDs). */
export function text(s: string, pad = ' '): Uint8Array {
  const padded = s.length % 2 === 1 ? s + pad : s;
  return Uint8Array.from(padded, (c) => c.charCodeAt(0));
}

export function u16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

export function tagBytes(tag: number): Uint8Array {
  return cat(u16(tag >>> 16), u16(tag & 0xffff));
}

/** Explicit VR little endian element; `length` overrides the real length (for lies). */
export function el(tag: number, vr: string, value: Uint8Array, length = value.length): Uint8Array {
  const head = LONG_VRS.has(vr) ? cat(tagBytes(tag), text(vr), u16(0), u32(length)) : cat(tagBytes(tag), text(vr), u16(length));
  return cat(head, value);
}

export function implicitEl(tag: number, value: Uint8Array, length = value.length): Uint8Array {
  return cat(tagBytes(tag), u32(length), value);
}

/** Preamble, "DICM" and a file meta group around a data set. */
export function part10(dataSet: Uint8Array, transferSyntax = '1.2.840.10008.1.2.1'): Uint8Array {
  const meta = cat(el(0x00020001, 'OB', Uint8Array.of(0, 1)), el(0x00020010, 'UI', text(transferSyntax, '\0')));
  return cat(new Uint8Array(128), text('DICM'), el(0x00020000, 'UL', u32(meta.length)), meta, dataSet);
}

/** An item tag with its length, then the bytes (an odd fragment gets its 0x00 pad, as PS3.5 A.4 asks). */
export function item(value: Uint8Array): Uint8Array {
  const padded = value.length % 2 === 1 ? cat(value, Uint8Array.of(0)) : value;
  return cat(tagBytes(0xfffee000), u32(padded.length), padded);
}

/**
 * Encapsulated Pixel Data (PS3.5 A.4): the Basic Offset Table item (empty
 * unless `offsetTable`), one item per fragment, the Sequence Delimitation.
 * `frames[f]` lists the fragments of frame f.
 */
export function encapsulatedPixelData(frames: readonly (readonly Uint8Array[])[], offsetTable: boolean): Uint8Array {
  const items: Uint8Array[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const fragments of frames) {
    offsets.push(at);
    for (const f of fragments) {
      const it = item(f);
      items.push(it);
      at += it.length;
    }
  }
  const bot = offsetTable ? cat(...offsets.map((o) => u32(o))) : new Uint8Array(0);
  return cat(
    tagBytes(0x7fe00010),
    text('OB'),
    u16(0),
    u32(UNDEFINED_LENGTH),
    cat(tagBytes(0xfffee000), u32(bot.length), bot),
    ...items,
    tagBytes(0xfffee0dd),
    u32(0),
  );
}
