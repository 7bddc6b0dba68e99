/**
 * The text and pixel encoders of the label formats against our own readers: awkward class and
 * file names (quotes, ampersands, angle brackets, commas, control characters, formula starts)
 * survive, and 16-bit label maps keep their values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvCell } from '../../../../electron/core/export/csv-export';
import { NameAllocator, num } from '../../../../electron/core/export/export-data';
import { encodeLabelMapPng } from '../../../../electron/core/export/masks-export';
import { escapeXml } from '../../../../electron/core/export/voc-export';
import { yamlQuote } from '../../../../electron/core/export/yolo-export';
import { WarningSink } from '../../../../electron/core/labels/label-types';
import { parseCsvText } from '../../../../electron/core/labels/parse-csv';
import { decodeLabelPng } from '../../../../electron/core/labels/parse-masks';
import { parseVocText } from '../../../../electron/core/labels/parse-voc';
import { yamlNames } from '../../../../electron/core/labels/parse-yolo';

const AWKWARD = ['car', "it's", 'a "quoted" & <tagged> name', 'x: y # not a comment', 'comma, here', 'ünïcødé 漢字'];

test('escapeXml: awkward names come back through parse-voc; characters XML cannot hold are dropped', () => {
  for (const name of AWKWARD) {
    const xml = `<annotation><filename>${escapeXml(`dir/${name}.png`)}</filename><object><name>${escapeXml(name)}</name></object></annotation>`;
    const img = parseVocText(xml, 'x.xml', new WarningSink());
    assert.equal(img?.fileName, `dir/${name}.png`);
    assert.equal(img?.labels[0]?.className, name);
  }
  assert.equal(escapeXml('a\u0000b\u0008c\td\ud800e'), 'abc\tde');
});

test('yamlQuote: class names come back through the data.yaml reader', () => {
  const yaml = ['names:', ...AWKWARD.map((n, i) => `  ${i}: ${yamlQuote(n)}`)].join('\n');
  assert.deepEqual(yamlNames(yaml), AWKWARD);
});

test('csvCell: quoting round-trips through parse-csv; formula starts are guarded', () => {
  const rows = ['filename,label', ...AWKWARD.map((n) => `${csvCell(`${n}.png`).text},${csvCell(n).text}`)].join('\r\n');
  const parsed = parseCsvText(rows);
  assert.deepEqual(parsed.images.map((i) => i.fileName), AWKWARD.map((n) => `${n}.png`));
  assert.deepEqual(parsed.classes, AWKWARD);
  assert.deepEqual(csvCell('=HYPERLINK("x")'), { text: '"\'=HYPERLINK(""x"")"', guarded: true });
  assert.equal(csvCell('@SUM(A1)').guarded, true);
  assert.equal(csvCell('-1').guarded, false, 'a class called -1 stays -1');
});

test('label maps: 8-bit and 16-bit PNGs decode to the exact values written', async () => {
  const w = 7;
  const h = 5;
  const small = Uint8Array.from({ length: w * h }, (_, i) => i % 4);
  assert.deepEqual(decodeLabelPng(await encodeLabelMapPng(small, w, h)).values, small);
  const wide = Uint16Array.from({ length: w * h }, (_, i) => (i * 997) % 600);
  const back = decodeLabelPng(await encodeLabelMapPng(wide, w, h));
  assert.ok(back.values instanceof Uint16Array);
  assert.deepEqual(Array.from(back.values), Array.from(wide));
});

test('image names are unique case-insensitively and numbers are never written in exponent form', () => {
  const names = new NameAllocator();
  assert.equal(names.take('a/B.png'), 'a/B.png');
  assert.equal(names.take('a/b.png'), 'a/b-2.png');
  assert.equal(names.take('../a/b.png'), '_/a/b.png');
  const long = `${'漢'.repeat(120)}.png`;
  const first = names.take(long);
  const second = names.take(long);
  assert.notEqual(first, second);
  assert.ok(second.endsWith('-2.png'));
  assert.equal(num(1e-7), '0.0000001');
  assert.equal(Number(num(1.5e-12)), 1.5e-12);
  assert.equal(num(12), '12');
  assert.equal(num(0.1 + 0.2), '0.30000000000000004');
});
