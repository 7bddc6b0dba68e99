/**
 * Issue 19's reference test: measurements on a real CT (pydicom's CT_small.dcm) computed by the core
 * from its own decoder (HU through the rescale) against pydicom + numpy
 * (test/reference/measure_check.py) with the same documented pixel-inclusion rule: every value
 * equal within 1e-6, every pixel count exactly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Core } from '../../../../electron/core/composition-root';
import type { Measurement, MeasurementValues } from '../../../../electron/contract/measure';
import { REPO_ROOT } from '../../../helpers/paths';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';
import { tempCore } from '../../../helpers/temp-library';
import { CT_ROIS, importRealCt, REAL_CT } from './measure-fixtures';

let core: Core;
let dir: string;
let cleanup: () => void;
let itemId: number;

before(async () => {
  const t = tempCore();
  core = t.core;
  dir = t.dir;
  cleanup = t.cleanup;
  ({ itemId } = await importRealCt(core));
});
after(() => cleanup?.());

test('lengths, angles and region statistics on a real CT match pydicom + numpy within 1e-6', async () => {
  requireTool('pydicom', 'numpy');
  const ours: MeasurementValues[] = [];
  for (const roi of CT_ROIS) {
    const r = await core.dispatch('measurements.create', { itemId, kind: roi.kind, points: roi.points.map((p) => [p[0], p[1]]) });
    assert.ok(r.ok, JSON.stringify(r));
    ours.push((r.value as Measurement).values);
  }
  const input = join(dir, 'measure-input.json');
  writeFileSync(input, JSON.stringify({ file: REAL_CT, frame: 0, measurements: CT_ROIS }));
  const py = spawnSync(PYTHON, [join(REPO_ROOT, 'test/reference/measure_check.py'), input], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const ref = JSON.parse(py.stdout) as Record<string, number | string | null>[];
  assert.equal(ref.length, CT_ROIS.length);
  let regionsWithStats = 0;
  ref.forEach((expected, i) => {
    const got = ours[i] as unknown as Record<string, number | string | null>;
    for (const [k, want] of Object.entries(expected)) {
      const have = got[k];
      if (typeof want === 'number' && typeof have === 'number') assert.ok(Math.abs(have - want) <= 1e-6, `${CT_ROIS[i]?.kind} #${i} ${k}: ${have} vs ${want}`);
      else assert.equal(have, want, `${CT_ROIS[i]?.kind} #${i} ${k}`);
    }
    if (typeof expected['mean'] === 'number') regionsWithStats++;
  });
  assert.ok(regionsWithStats >= 4, 'the comparison covered region statistics');
  assert.equal(ours[2]?.valueUnit, 'HU');
  assert.equal(ours[0]?.unit, 'mm');
});
