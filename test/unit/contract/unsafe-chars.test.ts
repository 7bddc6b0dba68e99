/**
 * One set of unsafe characters (contract/unsafe-chars.ts) used by every check
 * that had its own: dataset, class and annotator names, model pack file names,
 * the policy's library path, and export file names (stripped). Each consumer
 * refuses (or strips) a character of every group - C0, C1, bidi, invisible -
 * and keeps ordinary text, accents and other scripts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v from 'valibot';
import { annotateRequestSchemas } from '../../../electron/contract/annotate';
import { requestSchemas } from '../../../electron/contract/api';
import { hasUnsafeChar, PLAIN_FILE_NAME, withoutUnsafeChars } from '../../../electron/contract/unsafe-chars';
import { sanitizeSegment } from '../../../electron/core/export/safe-output';
import { libraryLocationProblem } from '../../../electron/core/policy/policy-schema';

/** One of each group: NUL, ESC, DEL, C1 CSI, Arabic letter mark, RLO, isolate, zero-width space, word joiner, BOM. */
const UNSAFE = ['\u0000', '\u001b', '\u007f', '\u009b', '\u061c', '\u202e', '\u2067', '\u200b', '\u2060', '\ufeff'];
const SAFE = ['Chest CT', 'Lésion née', '肺結節', 'Rhône-Alpes_2', 'class (1)'];

const hex = (c: string): string => `U+${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

test('the set: every group is unsafe, ordinary text in any script is not', () => {
  for (const c of UNSAFE) assert.ok(hasUnsafeChar(`a${c}b`), hex(c));
  for (const s of SAFE) assert.ok(!hasUnsafeChar(s), s);
  assert.equal(withoutUnsafeChars(`x${UNSAFE.join('')}y`), 'xy');
});

test('every consumer refuses or strips the same characters', () => {
  const datasetName = (name: string) => v.safeParse(requestSchemas['datasets.create'], { name }).success;
  const className = (name: string) => v.safeParse(annotateRequestSchemas['classes.create'], { datasetId: 1, name }).success;
  for (const c of UNSAFE) {
    const name = `scan${c}01`;
    assert.ok(!datasetName(name), `dataset name ${hex(c)}`);
    assert.ok(!className(name), `class name ${hex(c)}`);
    assert.equal(libraryLocationProblem(`/srv/fovea/${name}`, 'linux'), 'contains control characters', `policy path ${hex(c)}`);
    assert.equal(sanitizeSegment(`${name}.png`), 'scan01.png', `export file name ${hex(c)}`);
    assert.ok(!PLAIN_FILE_NAME.test(`${name}.onnx`), `pack file name ${hex(c)}`);
  }
  for (const s of SAFE) {
    assert.ok(datasetName(s), s);
    assert.ok(className(s), s);
    assert.equal(libraryLocationProblem(`/srv/fovea/${s}`, 'linux'), null, s);
    assert.ok(PLAIN_FILE_NAME.test(`${s}.onnx`), s);
  }
});
