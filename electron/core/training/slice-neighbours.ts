/**
 * 2.5-D input (TrainConfig.slices '2.5d'): a slice's neighbours in its
 * series become the model's other channels, [below, slice, above].
 *
 * Order: by position along the slice normal (Image Position (Patient)
 * projected on the normal of Image Orientation (Patient), ascending), NOT
 * by Instance Number, which scanners number in either direction or out of
 * order; equal positions by (item, frame) so the order is deterministic.
 * "Below" is the neighbour at the lower position. At the ends of a series
 * the edge slice repeats (the first slice's "below" is itself); a slice
 * without a position, or not in a series (a plain image), is its own
 * neighbour both ways (it trains as three copies of itself). Neighbours are
 * any slice of the series, labelled or not: context needs no label.
 */
import type { Db } from '../store/library-db';
import { listSeriesSlices, seriesOfItems, type SeriesSliceRow } from '../store/slice-order';
import type { SampleSource, SliceRef } from './training-samples';

/** The slices of one series in neighbour order (see the header); slices without a position are left out. */
export function orderSlices<T extends Pick<SeriesSliceRow, 'itemId' | 'frameIndex' | 'position'>>(slices: readonly T[]): T[] {
  return slices.filter((s) => s.position !== null && Number.isFinite(s.position)).sort((a, b) => (a.position as number) - (b.position as number) || a.itemId - b.itemId || a.frameIndex - b.frameIndex);
}

/** [below, above] of the slice at `index` of an ordered series (the edge slice repeats at the ends). */
export function neighbourIndices(count: number, index: number): [number, number] {
  return [Math.max(0, index - 1), Math.min(count - 1, index + 1)];
}

const key = (itemId: number, frameIndex: number): string => `${itemId}:${frameIndex}`;
const ref = (s: SeriesSliceRow): SliceRef => ({ itemId: s.itemId, frameIndex: s.frameIndex, blobSha256: s.blobSha256 });

/** The sources with their 2.5-D neighbours attached (same order; each source's own fields unchanged). */
export function withNeighbours<T extends SampleSource>(db: Db, sources: readonly T[]): T[] {
  const seriesOf = seriesOfItems(db, sources.filter((s) => s.kind === 'dicom').map((s) => s.itemId));
  const bySeries = new Map<number, SeriesSliceRow[]>();
  for (const row of listSeriesSlices(db, [...new Set(seriesOf.values())])) {
    let list = bySeries.get(row.seriesId);
    if (!list) bySeries.set(row.seriesId, (list = []));
    list.push(row);
  }
  const around = new Map<string, { below: SliceRef; above: SliceRef }>();
  for (const rows of bySeries.values()) {
    const ordered = orderSlices(rows);
    ordered.forEach((s, i) => {
      const [b, a] = neighbourIndices(ordered.length, i);
      around.set(key(s.itemId, s.frameIndex), { below: ref(ordered[b] as SeriesSliceRow), above: ref(ordered[a] as SeriesSliceRow) });
    });
  }
  return sources.map((s) => {
    const self: SliceRef = { itemId: s.itemId, frameIndex: s.frameIndex, blobSha256: s.blobSha256 };
    return { ...s, neighbours: around.get(key(s.itemId, s.frameIndex)) ?? { below: self, above: self } };
  });
}
