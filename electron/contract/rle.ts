/**
 * The mask format of the contract (MaskGeometry.rle): COCO's uncompressed RLE, runs counted
 * COLUMN-MAJOR, zeros first, size [height, width]. The two loops that define it live here so that
 * the core (electron/core/labels/rle.ts, which adds validation and errors) and the renderer's brush
 * (renderer/src/annotate/mask.ts) share one codec. Pure: no checks beyond the loops themselves.
 */

/** Column-major runs (zeros first) of a row-major height x width mask (any non-zero value is on). */
export function rleCounts(mask: ArrayLike<number>, height: number, width: number): number[] {
  const counts: number[] = [];
  let prev = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < height * width; i += width) {
      const v = mask[i] ? 1 : 0;
      if (v !== prev) {
        counts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** Paints the on runs of `counts` as 1 into a row-major height x width `out`; returns the pixels the counts cover. */
export function paintRleCounts(counts: readonly number[], height: number, width: number, out: Uint8Array): number {
  let pos = 0;
  for (let j = 0; j < counts.length; j++) {
    const c = counts[j] ?? 0;
    if (j % 2 === 1) {
      for (let p = pos; p < pos + c; p++) {
        const y = p % height;
        out[y * width + (p - y) / height] = 1;
      }
    }
    pos += c;
  }
  return pos;
}
