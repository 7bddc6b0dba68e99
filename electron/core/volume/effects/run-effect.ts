/**
 * The segment editor's effects on a series' segmentation: each computes the new masks of the
 * slices it changes (a SliceChanges), which the volume service shows as a preview and saves on
 * apply. Effects run on the acquisition grid (the voxels the labels are stored on); sizes in mm
 * use its spacing [column, row, slice gap along the normal] (on a resampled series the median
 * gap). Values are modality values (HU for CT): stored value * slope + intercept.
 */
import { FoveaException } from '../../../contract/result';
import type { VolumeEffect } from '../../../contract/volume';
import { addChange, type LabelVolume, type SliceChanges } from '../label-volume';
import type { ScanVolume } from '../scan-volume';
import { anyOn, boxDims, denseOf, growBox, segmentBox, slicesFromDense, unionBox, type Box } from './dense';
import { interpolateGap } from './fill-between';
import { growFromSeeds } from './grow-from-seeds';
import { componentAt, components, keepComponents, largestComponent } from './islands';
import { close, dilate, erode, kernelVoxels, majority, open, shell } from './morphology';

export interface EffectContext {
  scan: ScanVolume;
  labels: LabelVolume;
  /** Segment names for labels ("Threshold bone"). */
  name(classId: number): string;
  /** Display voxel -> acquired voxel [column, row, slice], or null outside the acquired data. */
  acquiredVoxel(i: number, j: number, k: number): [number, number, number] | null;
}

export interface EffectResult {
  label: string;
  changes: SliceChanges;
}

/** [column, row, slice] spacing of the acquisition grid for sizes in mm. */
export function effectSpacing(scan: ScanVolume): [number, number, number] {
  return [scan.grid.spacing[0], scan.grid.spacing[1], scan.grid.spacing[2]];
}

function requireVoxels(ctx: EffectContext, classId: number): Box {
  const box = segmentBox(ctx.labels, classId);
  if (!box) throw new FoveaException('VALIDATION', `The segment "${ctx.name(classId)}" has no voxels yet: paint it first.`);
  return box;
}

/** Voxels a ball of r mm reaches along each axis, plus one. */
function reach(r: number, spacing: readonly number[]): [number, number, number] {
  return [Math.ceil(r / (spacing[0] as number)) + 1, Math.ceil(r / (spacing[1] as number)) + 1, Math.ceil(r / (spacing[2] as number)) + 1];
}

function fromDense(ctx: EffectContext, classId: number, box: Box, dense: Uint8Array): SliceChanges {
  const changes: SliceChanges = new Map();
  const m = slicesFromDense(ctx.labels, classId, box, dense);
  if (m.size) changes.set(classId, m);
  return changes;
}

export function runEffect(ctx: EffectContext, effect: VolumeEffect): EffectResult {
  const { scan, labels } = ctx;
  const spacing = effectSpacing(scan);
  const size = labels.sliceSize;
  switch (effect.effect) {
    case 'threshold': {
      const changes: SliceChanges = new Map();
      const { min, max } = effect.range;
      const data = scan.data;
      const { slope, intercept } = scan;
      const scratch = new Uint8Array(size);
      // Stored int16 values: decide each possible value once (the same formula), then look it up.
      const lut = data instanceof Int16Array ? inRangeTable(scan, min, max) : null;
      const lo = scan.min;
      for (let s = 0; s < labels.slices; s++) {
        const before = labels.mask(effect.classId, s);
        const base = s * size;
        if (lut) {
          const d = data as Int16Array;
          for (let i = 0; i < size; i++) scratch[i] = lut[(d[base + i] as number) - lo] as number;
        } else {
          for (let i = 0; i < size; i++) {
            const v = (data[base + i] as number) * slope + intercept;
            scratch[i] = v >= min && v <= max ? 1 : 0;
          }
        }
        let any = false;
        let changed = false;
        for (let i = 0; i < size; i++) {
          const on = scratch[i] as number;
          if (on) any = true;
          if (on !== (before ? before[i] : 0)) changed = true;
        }
        if (changed) addChange(changes, effect.classId, s, any ? scratch.slice() : null);
      }
      return { label: `Threshold ${ctx.name(effect.classId)} ${min} to ${max}`, changes };
    }
    case 'islands': {
      requireVoxels(ctx, effect.classId);
      const c = components(labels, effect.classId);
      let keep: (root: number) => boolean;
      let label: string;
      if (effect.mode === 'keep-largest') {
        const best = largestComponent(c);
        keep = (root) => root === best;
        label = 'Keep the largest island';
      } else if (effect.mode === 'remove-small') {
        const min = effect.minVoxels ?? 1000;
        keep = (root) => (c.size[root] as number) >= min;
        label = `Remove islands under ${min} voxels`;
      } else {
        if (!effect.voxel) throw new FoveaException('VALIDATION', 'Keeping the selected island needs a voxel (click the island).');
        const at = ctx.acquiredVoxel(effect.voxel[0], effect.voxel[1], effect.voxel[2]);
        const root = at ? componentAt(c, at[0], at[1], at[2]) : -1;
        if (root < 0) throw new FoveaException('VALIDATION', `The clicked voxel is not in the segment "${ctx.name(effect.classId)}".`);
        keep = (r) => r === root;
        label = 'Keep the selected island';
      }
      const m = keepComponents(labels, effect.classId, c, keep);
      return { label, changes: m.size ? new Map([[effect.classId, m]]) : new Map() };
    }
    case 'grow': {
      const ids = [...new Set(effect.classIds)];
      if (ids.length < 2) throw new FoveaException('VALIDATION', 'Growing needs seeds of at least two different segments (for example the structure and its surroundings).');
      if (ids.length > 254) throw new FoveaException('VALIDATION', 'At most 254 segments can grow together.');
      let box: Box | null = null;
      for (const id of ids) box = unionBox(box, requireVoxels(ctx, id));
      const b = box as Box;
      const dims0 = boxDims(b);
      const grown = growBox(b, [Math.max(3, Math.ceil(dims0[0] / 5)), Math.max(3, Math.ceil(dims0[1] / 5)), Math.max(3, Math.ceil(dims0[2] / 5))], labels);
      const [nx, ny, nz] = boxDims(grown);
      const values = new Float32Array(nx * ny * nz);
      const cols = labels.columns;
      for (let z = 0; z < nz; z++) {
        for (let y = 0; y < ny; y++) {
          const src = (z + grown.z0) * size + (y + grown.y0) * cols + grown.x0;
          const dst = (z * ny + y) * nx;
          for (let x = 0; x < nx; x++) values[dst + x] = (scan.data[src + x] as number) * scan.slope + scan.intercept;
        }
      }
      const seeds = new Uint8Array(nx * ny * nz);
      // Listed first wins where seeds overlap: fill from the last segment to the first.
      for (let k = ids.length - 1; k >= 0; k--) {
        const d = denseOf(labels, ids[k] as number, grown);
        for (let i = 0; i < d.length; i++) if (d[i]) seeds[i] = k + 1;
      }
      const result = growFromSeeds({ dims: [nx, ny, nz], values, seeds });
      const changes: SliceChanges = new Map();
      ids.forEach((id, k) => {
        const dense = Uint8Array.from(result, (l) => (l === k + 1 ? 1 : 0));
        const m = slicesFromDense(labels, id, grown, dense);
        if (m.size) changes.set(id, m);
      });
      return { label: `Grow from seeds (${ids.map((id) => ctx.name(id)).join(', ')})`, changes };
    }
    case 'smooth': {
      const box = requireVoxels(ctx, effect.classId);
      if (effect.method === 'median') {
        const k: [number, number, number] = [kernelVoxels(effect.kernelMm, spacing[0]), kernelVoxels(effect.kernelMm, spacing[1]), kernelVoxels(effect.kernelMm, spacing[2])];
        const b = growBox(box, [(k[0] - 1) / 2, (k[1] - 1) / 2, (k[2] - 1) / 2], labels);
        const out = majority(denseOf(labels, effect.classId, b), boxDims(b), k);
        return { label: `Median ${effect.kernelMm} mm (${k.join('x')} voxels)`, changes: fromDense(ctx, effect.classId, b, out) };
      }
      const r = effect.kernelMm / 2;
      const b = growBox(box, reach(r, spacing), labels, false);
      const dense = denseOf(labels, effect.classId, b);
      const out = effect.method === 'open' ? open(dense, boxDims(b), spacing, r) : close(dense, boxDims(b), spacing, r);
      return { label: `${effect.method === 'open' ? 'Opening' : 'Closing'} ${effect.kernelMm} mm`, changes: fromDense(ctx, effect.classId, b, out) };
    }
    case 'margin': {
      const box = requireVoxels(ctx, effect.classId);
      const r = Math.abs(effect.mm);
      if (effect.mm > 0) {
        const b = growBox(box, reach(r, spacing), labels);
        const out = dilate(denseOf(labels, effect.classId, b), boxDims(b), spacing, r);
        return { label: `Grow ${ctx.name(effect.classId)} by ${r} mm`, changes: fromDense(ctx, effect.classId, b, out) };
      }
      const b = growBox(box, [1, 1, 1], labels, false);
      const out = erode(denseOf(labels, effect.classId, b), boxDims(b), spacing, r);
      return { label: `Shrink ${ctx.name(effect.classId)} by ${r} mm`, changes: fromDense(ctx, effect.classId, b, out) };
    }
    case 'hollow': {
      const box = requireVoxels(ctx, effect.classId);
      const b = growBox(box, [1, 1, 1], labels, false);
      const out = shell(denseOf(labels, effect.classId, b), boxDims(b), spacing, effect.thicknessMm);
      return { label: `Hollow ${ctx.name(effect.classId)} (${effect.thicknessMm} mm shell)`, changes: fromDense(ctx, effect.classId, b, out) };
    }
    case 'logical': {
      const a = effect.classId;
      const bId = effect.modifierClassId;
      const op = effect.operation;
      if (op !== 'invert' && op !== 'clear' && bId === a) throw new FoveaException('VALIDATION', 'Choose two different segments.');
      const changes: SliceChanges = new Map();
      const slices = op === 'invert' ? Array.from({ length: labels.slices }, (_, s) => s) : [...new Set([...labels.slicesOf(a), ...(bId !== undefined ? labels.slicesOf(bId) : [])])].sort((x, y) => x - y);
      const none = new Uint8Array(size);
      for (const s of slices) {
        const ma = labels.mask(a, s) ?? none;
        const mb = (bId !== undefined ? labels.mask(bId, s) : null) ?? none;
        const next = new Uint8Array(size);
        // One tight loop per operation (masks hold 0/1).
        if (op === 'copy') next.set(mb);
        else if (op === 'union') for (let i = 0; i < size; i++) next[i] = (ma[i] as number) | (mb[i] as number);
        else if (op === 'intersect') for (let i = 0; i < size; i++) next[i] = (ma[i] as number) & (mb[i] as number);
        else if (op === 'subtract') for (let i = 0; i < size; i++) next[i] = (ma[i] as number) & ((mb[i] as number) ^ 1);
        else if (op === 'invert') for (let i = 0; i < size; i++) next[i] = (ma[i] as number) ^ 1;
        let changed = false;
        for (let i = 0; i < size && !changed; i++) changed = next[i] !== ma[i];
        if (changed) addChange(changes, a, s, anyOn(next) ? next : null);
      }
      const verb: Record<typeof op, string> = { copy: 'Copy', union: 'Add', intersect: 'Intersect', subtract: 'Subtract', invert: 'Invert', clear: 'Clear' };
      return { label: `${verb[op]} ${ctx.name(a)}${bId !== undefined && op !== 'invert' && op !== 'clear' ? ` with ${ctx.name(bId)}` : ''}`, changes };
    }
    case 'fill-between': {
      const slices = labels.slicesOf(effect.classId);
      if (slices.length < 2) throw new FoveaException('VALIDATION', `Fill between slices needs the segment "${ctx.name(effect.classId)}" on at least two slices with empty slices between them.`);
      const out = new Map<number, Uint8Array>();
      for (let t = 1; t < slices.length; t++) {
        const a = slices[t - 1] as number;
        const b = slices[t] as number;
        if (b - a > 1) interpolateGap(a, labels.mask(effect.classId, a) as Uint8Array, b, labels.mask(effect.classId, b) as Uint8Array, labels.columns, labels.rows, [spacing[0], spacing[1]], out);
      }
      const changes: SliceChanges = new Map();
      for (const [s, m] of out) if (anyOn(m)) addChange(changes, effect.classId, s, m);
      return { label: `Fill between slices (${ctx.name(effect.classId)})`, changes };
    }
  }
}

/** For every stored value of an int16 volume (min..max): 1 when its modality value lies in [min, max]. */
function inRangeTable(scan: ScanVolume, min: number, max: number): Uint8Array {
  const lut = new Uint8Array(scan.max - scan.min + 1);
  for (let v = scan.min; v <= scan.max; v++) {
    const hu = v * scan.slope + scan.intercept;
    lut[v - scan.min] = hu >= min && hu <= max ? 1 : 0;
  }
  return lut;
}
