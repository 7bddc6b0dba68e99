/**
 * DICOMDIR reading over pydicom's variants (big endian, implicit VR, no
 * offsets, no patient records, reordered records, empty), and the
 * case-insensitive match of CD file names.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FoveaException } from '../../../../electron/contract/result';
import { readDicomDir } from '../../../../electron/core/dicom/dicomdir';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dir = join(repoRoot, '..', 'shared', 'testdata', 'dicom', 'pydicom', 'dicomdirtests');

function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('readDicomDir', () => {
  const images = ['77654033', '98892001', '98892003'].flatMap((p) => filesUnder(join(dir, p))).sort();

  for (const name of ['DICOMDIR', 'DICOMDIR-bigEnd', 'DICOMDIR-implicit', 'DICOMDIR-nooffset', 'DICOMDIR-nopatient', 'DICOMDIR-reordered']) {
    it(`${name} lists every image file`, () => {
      const paths = readDicomDir(readFileSync(join(dir, name)), dir);
      assert.ok(paths.every((p) => isAbsolute(p)));
      assert.deepEqual([...paths].sort(), images);
    });
  }

  it('DICOMDIR-empty lists nothing', () => {
    assert.deepEqual(readDicomDir(readFileSync(join(dir, 'DICOMDIR-empty.dcm')), dir), []);
  });

  it('matches names case-insensitively (CDs upper-case them)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'fovea-dicomdir-'));
    try {
      copyFileSync(join(dir, 'DICOMDIR'), join(tmp, 'DICOMDIR'));
      mkdirSync(join(tmp, '77654033', 'cr1'), { recursive: true });
      writeFileSync(join(tmp, '77654033', 'cr1', '6154'), 'x');
      const paths = readDicomDir(readFileSync(join(tmp, 'DICOMDIR')), tmp);
      assert.ok(paths.includes(join(tmp, '77654033', 'cr1', '6154')));
      // Files that are not there are still listed, so the import can report them as missing.
      assert.ok(paths.includes(join(tmp, '77654033', 'CR2', '6247')));
      assert.ok(paths.every((p) => p.startsWith(tmp)));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a file that is not a DICOMDIR is BAD_INPUT', () => {
    assert.throws(
      () => readDicomDir(readFileSync(join(dir, '77654033', 'CR1', '6154')), dir),
      (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT' && /not a DICOMDIR/.test(e.message),
    );
  });
});
