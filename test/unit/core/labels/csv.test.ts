/** CSV classification labels: RFC 4180 quoting, BOM, CRLF, multi-label, broken rows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { parseCsv, parseCsvText, readCsvRows } from '../../../../electron/core/labels/parse-csv';
import { tempDir, write } from './label-fixtures';

const isBad = (re: RegExp) => (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT' && re.test(e.message);

describe('CSV parser', () => {
  it('reads quoted cells, a BOM, CRLF, multi-label cells and extra columns', async (t) => {
    const dir = tempDir(t);
    const text =
      '\uFEFFFilename,Label,notes\r\n' +
      'a.png,cat,\r\n' +
      '"dir/b, c.png","dog;cat","said ""hi"""\r\n' +
      '"multi\nline.png", pneumonia ; effusion ;,x\r\n' +
      'd.png,,empty\r\n';
    const f = await parseCsv(write(dir, 'labels.csv', text));
    assert.equal(f.format, 'csv');
    assert.deepEqual(
      f.images.map((i) => [i.fileName, i.match, i.labels.map((l) => l.className)]),
      [
        ['a.png', 'path', ['cat']],
        ['dir/b, c.png', 'path', ['dog', 'cat']],
        ['multi\nline.png', 'path', ['pneumonia', 'effusion']],
        ['d.png', 'path', []],
      ],
    );
    assert.deepEqual(f.images[0]?.labels[0]?.geometry, { kind: 'class' });
    assert.deepEqual(f.classes, ['cat', 'dog', 'pneumonia', 'effusion']);
    assert.deepEqual(f.warnings, [
      `${dir}/labels.csv: column(s) "notes" are not read.`,
      `${dir}/labels.csv line 6: "d.png" has an empty label; it is read as an image with no label.`,
    ]);
  });

  it('warns for short rows, missing names and repeated files (merging their labels)', () => {
    const f = parseCsvText('image,class\nx.png,a\nlonely\n,b\nx.png,b\nx.png,a\n\n', 'l.csv');
    assert.deepEqual(f.images.map((i) => [i.fileName, i.labels.map((l) => l.className)]), [['x.png', ['a', 'b']]]);
    const w = f.warnings.join('\n');
    assert.match(w, /l.csv line 3: 1 cell\(s\), the header has 2; skipped/);
    assert.match(w, /l.csv line 4: no file name; skipped/);
    assert.match(w, /l.csv line 5: "x.png" is also on line 2; its labels are added together/);
    assert.equal(f.warnings.length, 4);
  });

  it('reads tab-separated files and LF or CR line ends alike', () => {
    assert.deepEqual(parseCsvText('filename\tlabel\na.png\tx\n').images[0]?.labels[0]?.className, 'x');
    assert.deepEqual(parseCsvText('filename,label\ra.png,x\rb.png,y').images.length, 2);
    assert.deepEqual(
      readCsvRows('a,"b\r\nc",d\r\ne').map((r) => [r.line, r.cells]),
      [
        [1, ['a', 'b\r\nc', 'd']],
        [3, ['e']],
      ],
    );
  });

  it('refuses a file without a usable header or with an unclosed quote, with BAD_INPUT', () => {
    assert.throws(() => parseCsvText('', 'e.csv'), isBad(/e.csv is empty/));
    assert.throws(() => parseCsvText('a.png,cat\nb.png,dog\n', 'h.csv'), isBad(/header row with a file column/));
    assert.throws(() => parseCsvText('filename,label\n"a.png,cat\nb.png,dog\n', 'q.csv'), isBad(/quoted cell opened on line 2 never closes/));
  });

  it('csv-parse: an unclosed quote after a multi-line cell names the line its row starts on; NUL bytes and odd quoting do not throw', () => {
    assert.throws(() => parseCsvText('filename,label\n"x\ny.png",a\n"z.png,b\nw.png,c\n', 'm.csv'), isBad(/m.csv: a quoted cell opened on line 4 never closes/));
    const rows = readCsvRows('a,b\u0000c\nd,"e""f",\n');
    assert.deepEqual(rows.map((r) => [r.line, r.cells]), [
      [1, ['a', 'b\u0000c']],
      [2, ['d', 'e"f', '']],
    ]);
  });

  it('handles 30k rows quickly', () => {
    const rows = ['filename,label'];
    for (let i = 0; i < 30_000; i++) rows.push(`img${i}.png,"c${i % 7};c${i % 3}"`);
    const t0 = Date.now();
    const f = parseCsvText(rows.join('\n'));
    assert.equal(f.images.length, 30_000);
    assert.equal(f.classes.length, 7);
    assert.ok(Date.now() - t0 < 3000);
  });
});
