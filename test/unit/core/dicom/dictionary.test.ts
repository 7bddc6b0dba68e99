/**
 * The data dictionary (dcmjs's PS3.6 table, electron/core/dicom/dictionary-lookup.ts)
 * against an independent one: dcmtk's. For every public attribute of the
 * shared test files, and of implicit-VR copies of them (dcmconv +ti: there
 * the VR comes from the dictionary alone), `fovea inspect`'s keyword is
 * dcmdump's name and its VR is dcmdump's VR (where dcmdump prints one of its
 * context codes, 'xs' US-or-SS, 'ox' OB-or-OW, 'lt', 'up' UL, our VR is one
 * of the choices the code stands for).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspectDicom, parseDicom } from '../../../../electron/core/dicom';
import type { InspectedDataSet } from '../../../../electron/core/dicom/inspect-dicom';
import { lookupTag } from '../../../../electron/core/dicom/dictionary-lookup';
import { TESTDATA_DICOM } from '../../../helpers/decoding-classes';
import { walkFiles } from '../../../helpers/paths';
import { requireTools, runTool } from '../../../helpers/reference-tools';

const DCMTK_CODES: Readonly<Record<string, readonly string[]>> = {
  xs: ['US', 'SS'],
  ox: ['OB', 'OW'],
  lt: ['US', 'SS', 'OW'],
  up: ['UL'],
};


let dir = '';
const files: string[] = [];

before(() => {
  requireTools('dcmdump', 'dcmconv');
  dir = mkdtempSync(join(tmpdir(), 'fovea-dictionary-'));
  // The DICOMDIR test tree repeats a handful of files: one of each modality and the DICOMDIR are enough.
  const sample = /dicomdirtests\/(?!DICOMDIR$|77654033\/CR1\/6154$|98892001\/CT2N\/6293$|98892003\/MR1\/4919$)/;
  for (const f of walkFiles(TESTDATA_DICOM).filter((p) => !sample.test(relative(TESTDATA_DICOM, p)))) {
    files.push(f);
    // Implicit VR copies of the files dcmconv can rewrite (not the compressed ones).
    const copy = join(dir, `${relative(TESTDATA_DICOM, f).replaceAll('/', '_')}.implicit.dcm`);
    try {
      runTool('dcmconv', ['+ti', f, copy]);
      files.push(copy);
    } catch {
      // Compressed pixel data, or not DICOM: dcmconv refuses; the original is still compared.
    }
  }
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('the data dictionary', () => {
  it("gives every public attribute dcmtk's keyword and VR, in explicit and implicit VR files", (t) => {
    let compared = 0;
    const mismatches: string[] = [];
    for (const file of files) {
      let ours: InspectedDataSet;
      let dump: string;
      try {
        ours = inspectDicom(parseDicom(new Uint8Array(readFileSync(file))));
        dump = runTool('dcmdump', ['-q', '+L', file]).toString('latin1');
      } catch {
        continue; // not DICOM, or malformed: testdata-files.test.ts covers those
      }
      for (const line of dump.split('\n')) {
        const m = /^\(([0-9a-f]{4}),([0-9a-f]{4})\) (\w\w) .*#\s*\d+,\s*\S+\s+(\S+)$/.exec(line);
        if (m === null) continue;
        const group = parseInt(m[1] ?? '', 16);
        if (group % 2 === 1) continue; // private: no public dictionary has them
        const key = `${m[1] ?? ''}${m[2] ?? ''}`.toUpperCase();
        const attr = ours[key];
        if (attr === undefined) continue; // nested items are compared at the top level only
        compared++;
        const [, , , vr = '', name = ''] = m;
        if (attr.keyword !== name && `RETIRED_${attr.keyword ?? ''}` !== name) mismatches.push(`${file}: ${key} keyword ${attr.keyword ?? '-'} vs dcmtk ${name}`);
        const allowed = DCMTK_CODES[vr] ?? [vr];
        if (!allowed.includes(attr.vr)) mismatches.push(`${file}: ${key} VR ${attr.vr} vs dcmtk ${vr}`);
      }
    }
    assert.ok(compared > 3000, `compared ${compared}`);
    assert.deepEqual(mismatches, []);
    t.diagnostic(`${compared} attributes in ${files.length} files: keyword and VR as dcmtk's dictionary gives them`);
  });

  it("translates dcmjs's context codes and retired names to what the reader expects", () => {
    assert.deepEqual(lookupTag(0x00280106), { vr: 'US|SS', keyword: 'SmallestImagePixelValue' });
    assert.deepEqual(lookupTag(0x7fe00010), { vr: 'OB|OW', keyword: 'PixelData' });
    assert.deepEqual(lookupTag(0x00283006), { vr: 'US|OW', keyword: 'LUTData' });
    assert.deepEqual(lookupTag(0x00281200), { vr: 'US|SS|OW', keyword: 'GrayLookupTableData' });
    assert.deepEqual(lookupTag(0x00041200), { vr: 'UL', keyword: 'OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity' });
    assert.deepEqual(lookupTag(0xfffee000), { vr: 'NONE', keyword: 'Item' });
    assert.deepEqual(lookupTag(0x60023000), { vr: 'OB|OW', keyword: 'OverlayData' }, 'a repeating group');
    assert.deepEqual(lookupTag(0x00280040), { vr: 'CS', keyword: 'ImageFormat' }, 'retired, without the RETIRED_ prefix');
    assert.deepEqual(lookupTag(0x00080000), { vr: 'UL', keyword: 'GenericGroupLength' });
    assert.deepEqual(lookupTag(0x60010010), { vr: 'LO', keyword: 'PrivateCreator' });
    assert.equal(lookupTag(0x60013000), undefined, 'odd groups are private, even inside 60xx');
    assert.equal(lookupTag(0x00099999), undefined);
  });
});
