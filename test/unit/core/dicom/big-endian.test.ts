/**
 * Issue 17, class 4: Explicit VR Big Endian with OW pixel data of 8-bit
 * (and 1-bit) samples and an odd byte count.
 *
 * OW is a stream of 16-bit words; in big endian each word's bytes are
 * swapped, so byte i of the value sits at i ^ 1 and an odd last byte sits in
 * the last word, before the pad byte. Files made here: little-endian OW
 * files (RGB 3x3, three RGB 3x3 frames whose frames start mid-word, grey
 * 5x5, 1-bit 7x5), converted to big endian by dcmtk's dcmconv +tb.
 *
 * Reference: dcmtk. dcmconv +te turns each big-endian file back into little
 * endian, which pydicom's numpy handler reads. pydicom 2.3 reading the big
 * endian file directly pair-swaps 8-bit OW data and drops the odd byte (the
 * machine notes say so); where it disagrees, dcmtk decides, and the
 * diagnostics say so.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeFrame, parseDicom, readImageInfo } from '../../../../electron/core/dicom';
import { writeBigEndianFiles, type BigEndianClassFile } from '../../../helpers/decoding-classes';
import { REFERENCE_PYTHON, requireTools, runTool } from '../../../helpers/reference-tools';
import { REPO_ROOT } from '../../../helpers/paths';

interface ReferenceEntry {
  path: string;
  status: string;
  error?: string;
  frameFiles?: string[];
}

let dir = '';
let files: BigEndianClassFile[] = [];
const reference = new Map<string, ReferenceEntry>();
const backToLittle = new Map<string, string>();

before(() => {
  requireTools(REFERENCE_PYTHON, 'dcmconv');
  dir = mkdtempSync(join(tmpdir(), 'fovea-big-endian-'));
  files = writeBigEndianFiles(dir);
  for (const f of files) {
    const back = join(dir, `${f.name}-dcmconv-te.dcm`);
    runTool('dcmconv', ['+te', f.path, back]);
    backToLittle.set(f.path, back);
  }
  const out = join(dir, 'reference');
  runTool(REFERENCE_PYTHON, [join(REPO_ROOT, 'test/reference/dicom_reference.py'), ...backToLittle.values(), ...files.map((f) => f.path), '--out', out]);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: ReferenceEntry[] };
  for (const e of manifest.files) reference.set(e.path, { ...e, frameFiles: e.frameFiles?.map((name) => join(out, name)) });
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function frames(path: string): Promise<Uint8Array[]> {
  const parsed = parseDicom(new Uint8Array(readFileSync(path)));
  const info = readImageInfo(parsed);
  assert.ok(info !== null, path);
  const out: Uint8Array[] = [];
  for (let f = 0; f < info.numberOfFrames; f++) out.push(Uint8Array.from((await decodeFrame(parsed, f, { info })).data));
  return out;
}

describe('Explicit VR Big Endian, OW with 8-bit and 1-bit samples and an odd byte count', () => {
  it('decodes as dcmtk does (dcmconv +te, read by pydicom), odd last byte and mid-word frames included', async (t) => {
    assert.equal(files.length, 4);
    for (const f of files) {
      const ours = await frames(f.path);
      const dcmtk = reference.get(backToLittle.get(f.path) ?? '');
      assert.equal(dcmtk?.status, 'ok', `${f.name}: ${dcmtk?.error ?? ''}`);
      assert.equal(ours.length, dcmtk.frameFiles?.length);
      for (const [i, frame] of ours.entries()) {
        assert.deepEqual(frame, new Uint8Array(readFileSync(dcmtk.frameFiles?.[i] ?? '')), `${f.name} frame ${i} against dcmconv +te`);
      }
      // And as the little-endian file it was made from.
      assert.deepEqual(ours, await frames(f.littleEndianPath), `${f.name} against its little-endian original`);

      const direct = reference.get(f.path);
      const pydicomAgrees = direct?.status === 'ok' && ours.every((frame, i) => Buffer.from(frame).equals(readFileSync(direct.frameFiles?.[i] ?? '')));
      t.diagnostic(`${f.name}: equal to dcmtk; pydicom 2.3 reading the big-endian file directly ${pydicomAgrees ? 'agrees' : 'disagrees (dcmtk decides)'}`);
    }
  });
});
