/**
 * The MPR brush is round in millimetres on pictures with non-square pixels: every pixel whose
 * centre lies within the radius (in mm) is painted, checked against a brute-force count; a
 * stroke leaves no gaps at any speed; the mapping between view pixels and volume voxels
 * (contract/volume.ts) is one-to-one and inverse both ways for flipped views.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewPixelToVoxel, voxelToViewPixel, type VolumeViewSpec } from '../../../../electron/contract/volume';
import { emptyMask } from '../../../../renderer/src/annotate/mask';
import { stampEllipse, stampStroke } from '../../../../renderer/src/lib/volume/plane-brush';

test('a brush stamp covers exactly the pixel centres within the radius in mm', () => {
  const spacing: [number, number] = [2.5, 0.8]; // rows 2.5 mm apart, columns 0.8 mm
  for (const [cx, cy, d] of [[20.5, 10.5, 6], [20.2, 9.7, 4.3], [3, 2, 10], [39.9, 19.9, 5]] as const) {
    const m = emptyMask(40, 20);
    stampEllipse(m, cx, cy, d, spacing, 1);
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 40; x++) {
        const inside = ((x + 0.5 - cx) * spacing[1]) ** 2 + ((y + 0.5 - cy) * spacing[0]) ** 2 <= (d / 2) ** 2 || (x === Math.floor(cx) && y === Math.floor(cy));
        assert.equal(m.data[y * 40 + x], inside ? 1 : 0, `${cx},${cy},${d} at ${x},${y}`);
      }
    }
  }
});

test('a fast stroke leaves no gap between its ends', () => {
  const m = emptyMask(200, 50);
  stampStroke(m, 5.5, 25.5, 190.5, 25.5, 2, [1, 1]);
  for (let x = 5; x <= 190; x++) assert.equal(m.data[25 * 200 + x], 1, `column ${x}`);
});

test('view pixels and voxels map both ways, flips included', () => {
  const spec: VolumeViewSpec = {
    plane: 'coronal',
    normalAxis: 1,
    count: 30,
    horizontal: { axis: 0, flip: true },
    vertical: { axis: 2, flip: true },
    width: 12,
    height: 7,
    pixelSpacing: [2, 1],
    rowDirection: [1, 0, 0],
    columnDirection: [0, 0, -1],
    labels: { left: 'R', right: 'L', top: 'S', bottom: 'I' },
  };
  const seen = new Set<string>();
  for (let y = 0; y < spec.height; y++) {
    for (let x = 0; x < spec.width; x++) {
      const v = viewPixelToVoxel(spec, 9, x, y);
      assert.equal(v[1], 9);
      seen.add(v.join(','));
      assert.deepEqual(voxelToViewPixel(spec, v), { index: 9, x, y });
    }
  }
  assert.equal(seen.size, spec.width * spec.height);
  assert.deepEqual(viewPixelToVoxel(spec, 9, 0, 0), [11, 9, 6]);
});
