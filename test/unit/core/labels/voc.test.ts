/**
 * Pascal VOC: the real Penn-Fudan annotations (PASCAL text format, read in
 * place) and generated XML, including XXE / entity-bomb attempts.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { WarningSink } from '../../../../electron/core/labels/label-types';
import { parseVoc, parseVocText, parseXml } from '../../../../electron/core/labels/parse-voc';
import { tempDir, TESTDATA, write } from './label-fixtures';

const PENN = join(TESTDATA, 'train/pennfudan_ped/Annotation');
const isBad = (re: RegExp) => (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT' && re.test(e.message);

describe('VOC parser', () => {
  it('reads all 287 Penn-Fudan boxes in 119 files, 1-based corners to continuous boxes', async () => {
    const f = await parseVoc(PENN);
    assert.equal(f.format, 'voc');
    assert.equal(f.images.length, 119);
    assert.equal(f.images.reduce((n, i) => n + i.labels.length, 0), 287);
    assert.deepEqual(f.warnings, []);
    assert.ok(f.classes.includes('PASpersonWalking'));
    const first = f.images.find((i) => i.source === 'FudanPed00001.txt');
    assert.equal(first?.fileName, 'PennFudanPed/PNGImages/FudanPed00001.png');
    assert.equal(first?.match, 'path');
    assert.equal(first?.width, 559);
    assert.equal(first?.height, 536);
    // "(160, 182) - (302, 431)": pixels 160..302 (1-based) = columns 159..301 (0-based).
    assert.deepEqual(first?.labels[0], { className: 'PASpersonWalking', geometry: { kind: 'box', x: 159, y: 181, width: 143, height: 250 } });
    assert.deepEqual(first?.labels[1]?.geometry, { kind: 'box', x: 419, y: 170, width: 116, height: 316 });
    for (const img of f.images) {
      for (const l of img.labels) {
        assert.ok(l.geometry.kind === 'box');
        if (l.geometry.kind === 'box') assert.ok(l.geometry.x >= 0 && l.geometry.x + l.geometry.width <= (img.width ?? 0));
      }
    }
  });

  it('reads VOC XML: filename, size, objects, difficult, 1-based boxes, clipping, entities and CDATA', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'Annotations'));
    write(
      dir,
      'Annotations/000001.xml',
      `<?xml version="1.0" encoding="utf-8"?>
<!-- written by a labelling tool -->
<annotation verified="no">
  <folder>VOC2012</folder>
  <filename>000001.jpg</filename>
  <size><width>100</width><height>50</height><depth>3</depth></size>
  <object><name>dog</name><difficult>1</difficult>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>20</ymax></bndbox></object>
  <object><name>cat &amp; kitten</name><bndbox><xmin>90.5</xmin><ymin>40</ymin><xmax>120</xmax><ymax>60</ymax></bndbox></object>
  <object><name><![CDATA[bird <small>]]></name></object>
  <object><name>bad</name><bndbox><xmin>30</xmin><ymin>1</ymin><xmax>20</xmax><ymax>5</ymax></bndbox></object>
  <object><name>&#x41;&#66;C</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>x</xmax><ymax>6</ymax></bndbox></object>
  <object><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>6</xmax><ymax>6</ymax></bndbox></object>
</annotation>`,
    );
    write(dir, 'Annotations/000002.xml', '<annotation><path>C:\\data\\img\\000002.png</path><object><name>dog</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object></annotation>');
    write(dir, 'Annotations/notvoc.xml', '<svg></svg>');
    write(dir, 'Annotations/broken.xml', '<annotation><filename>x</annotation>');
    const f = await parseVoc(dir);
    assert.equal(f.images.length, 2);
    const [a, b] = f.images;
    assert.equal(a?.fileName, '000001.jpg');
    assert.equal(a?.source, 'Annotations/000001.xml');
    assert.deepEqual(a?.labels[0], { className: 'dog', difficult: true, geometry: { kind: 'box', x: 0, y: 0, width: 10, height: 20 } });
    assert.deepEqual(a?.labels[1], { className: 'cat & kitten', geometry: { kind: 'box', x: 89.5, y: 39, width: 10.5, height: 11 } });
    assert.deepEqual(a?.labels[2], { className: 'bird <small>', geometry: { kind: 'class' } });
    assert.equal(a?.labels.length, 3);
    // No <filename>: the base name of <path>; no <size>: nothing to clip against.
    assert.equal(b?.fileName, '000002.png');
    assert.deepEqual(b?.labels[0]?.geometry, { kind: 'box', x: -1, y: -1, width: 5, height: 5 });
    assert.deepEqual(f.classes, ['dog', 'cat & kitten', 'bird <small>']);
    const w = f.warnings.join('\n');
    assert.match(w, /000001.xml object 2: box .* reaches outside the 100x50 image .*clipped/);
    assert.match(w, /000001.xml object 4: <bndbox> has xmax < xmin/);
    assert.match(w, /000001.xml object 5: <bndbox> needs four numbers/);
    assert.match(w, /000001.xml object 6: no <name>/);
    assert.match(w, /broken.xml: Malformed XML .*<\/annotation> does not close <filename>/);
    assert.match(w, /1 .xml\/.txt file\(s\) .* are not VOC annotations/);
  });

  it('refuses DOCTYPE and ENTITY declarations (XXE, billion laughs) and unknown entities', () => {
    const xxe = `<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>`;
    assert.throws(() => parseXml(xxe), isBad(/DOCTYPE declaration is refused/));
    const lol = `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><annotation>&lol2;</annotation>`;
    assert.throws(() => parseXml(lol), isBad(/refused/));
    assert.throws(() => parseXml('<annotation><!ENTITY x "y"></annotation>'), isBad(/ENTITY declaration is refused/));
    assert.throws(() => parseXml('<annotation>&xxe;</annotation>'), isBad(/unknown entity &xxe;/));
    assert.throws(() => parseXml('<annotation>a & b</annotation>'), isBad(/bare "&"/));
    assert.throws(() => parseXml('<annotation>&#0;</annotation>'), isBad(/not a character/));
  });

  it('fast-xml-parser under the same rules: entities in attributes, CDATA kept literal, lowercase doctype, repeated attributes, quick on deep nesting', () => {
    assert.throws(() => parseXml('<annotation a="&xxe;"/>'), isBad(/unknown entity &xxe;/));
    assert.throws(() => parseXml('<!doctype annotation><annotation/>'), isBad(/DOCTYPE declaration is refused/));
    assert.throws(() => parseXml('<annotation><?pi never closed </annotation>'), isBad(/unclosed processing instruction/));
    assert.throws(() => parseXml('<annotation><![CDATA[ x </annotation>'), isBad(/unclosed CDATA/));
    assert.throws(() => parseXml('<a x="1" x="2"/>'), isBad(/Malformed XML/));
    const cdata = parseXml('<annotation><filename><![CDATA[a&xxe;<b>.png]]></filename></annotation>');
    assert.equal(cdata.children[0]?.text, 'a&xxe;<b>.png', 'CDATA is text, never an entity');
    assert.equal(parseXml('<a>&#x1F600;&amp;&lt;</a>').text, '\u{1F600}&<');
    const t0 = performance.now();
    assert.throws(() => parseXml('<a>'.repeat(1_000_000)), isBad(/Malformed|nested/));
    assert.ok(performance.now() - t0 < 5000, 'a million open tags are refused within seconds');
  });

  it('refuses malformed XML with a line number, and deep nesting without a stack overflow', () => {
    assert.throws(() => parseXml('<a><b></a>'), isBad(/line 1.*<\/a> does not close <b>/));
    assert.throws(() => parseXml('<a>\n<b x=1></b></a>'), isBad(/line 2.*not quoted/));
    assert.throws(() => parseXml('<a></a><b></b>'), isBad(/second root/));
    assert.throws(() => parseXml('<a>'), isBad(/never closed/));
    assert.throws(() => parseXml(''), isBad(/no root/));
    assert.throws(() => parseXml('<a><!-- x </a>'), isBad(/unclosed comment/));
    assert.throws(() => parseXml('<a'.repeat(10) + '>'), isBad(/Malformed/));
    assert.throws(() => parseXml('<a>'.repeat(100_000) + '</a>'.repeat(100_000)), isBad(/nested deeper than 256/));
    const ok = parseXml('\uFEFF<a k="v &lt; w" j=\'2\'><b/>t<c>u</c>x</a>');
    assert.deepEqual(ok.attrs, { k: 'v < w', j: '2' });
    assert.equal(ok.text, 'tx');
    assert.deepEqual(ok.children.map((c) => c.name), ['b', 'c']);
  });

  it('reads one PASCAL text file and warns when its object count disagrees', async (t) => {
    const dir = tempDir(t);
    const text = [
      '# Compatible with PASCAL Annotation Version 1.00',
      'Image filename : "X/PNGImages/a.png"',
      'Image size (X x Y x C) : 100 x 80 x 3',
      'Objects with ground truth : 3 { "P" "P" "P" }',
      'Bounding box for object 1 "P" (Xmin, Ymin) - (Xmax, Ymax) : (1, 1) - (100, 80)',
      'Bounding box for object 2 "P" (Xmin, Ymin) - (Xmax, Ymax) : (50, 50) - (150, 90)',
      'Bounding box for object 3 "P" (Xmin, Ymin) - (Xmax, Ymax) : garbage',
    ].join('\r\n');
    const f = await parseVoc(write(dir, 'a.txt', text));
    assert.deepEqual(f.images[0]?.labels.map((l) => l.geometry), [
      { kind: 'box', x: 0, y: 0, width: 100, height: 80 },
      { kind: 'box', x: 49, y: 49, width: 51, height: 31 },
    ]);
    const w = f.warnings.join('\n');
    assert.match(w, /object 2: .*clipped/);
    assert.match(w, /cannot read "Bounding box for object 3/);
    await assert.rejects(parseVoc(write(dir, 'plain.txt', 'hello')), isBad(/neither a Pascal VOC XML file nor/));
    assert.equal(parseVocText('0 0.5 0.5 0.1 0.1', 'y.txt', new WarningSink()), null);
  });
});
