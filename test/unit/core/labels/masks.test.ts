/**
 * Label-map folders: real CamVid, Cityscapes, Penn-Fudan and DRIVE masks
 * read in place (pixel counts checked against sharp's own decoding), and
 * generated PNGs for palette, 16-bit, sub-byte, interlaced and broken files.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { FoveaException } from '../../../../electron/contract/result';
import { IMAGE_SUFFIXES, labelStem } from '../../../../electron/core/labels/label-types';
import { decodeLabelPng, parseClassMap, parseMasks } from '../../../../electron/core/labels/parse-masks';
import { parseVoc } from '../../../../electron/core/labels/parse-voc';
import { decodeRle, rleArea, rleToBbox } from '../../../../electron/core/labels/rle';
import { encodePng, rng, tempDir, TESTDATA, write } from './label-fixtures';

const CAMVID = join(TESTDATA, 'train/camvid/trainannot');
const CITY = join(TESTDATA, 'road/cityscapes/gtFine/val/frankfurt');
const PENN = join(TESTDATA, 'train/pennfudan_ped');
const DRIVE = join(TESTDATA, 'train/drive_retina/training/1st_manual');
const CAMVID_CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist', 'Unlabelled'];
// Cityscapes labelIds 0..33 (cityscapesScripts labels.py order).
const CITYSCAPES = [
  'unlabeled', 'ego vehicle', 'rectification border', 'out of roi', 'static', 'dynamic', 'ground', 'road', 'sidewalk', 'parking',
  'rail track', 'building', 'wall', 'fence', 'guard rail', 'bridge', 'tunnel', 'pole', 'polegroup', 'traffic light',
  'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'caravan',
  'trailer', 'train', 'motorcycle', 'bicycle',
];

/** Value -> pixel count, straight from sharp (independent of our PNG decoder). */
async function sharpCounts(file: string, sixteen = false): Promise<Map<number, number>> {
  const img = sixteen ? sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }) : sharp(file).raw();
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  const vals = sixteen ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : data;
  const counts = new Map<number, number>();
  for (let i = 0; i < vals.length; i += info.channels) counts.set(vals[i] as number, (counts.get(vals[i] as number) ?? 0) + 1);
  return counts;
}

const isCode = (code: string, re: RegExp) => (e: unknown) => e instanceof FoveaException && e.code === code && re.test(e.message);

describe('mask folder parser', () => {
  it('reads CamVid class-index masks: every class present, pixel counts equal to a direct count', async () => {
    const f = await parseMasks(CAMVID, { classes: CAMVID_CLASSES });
    assert.equal(f.format, 'masks');
    assert.equal(f.images.length, 92);
    assert.deepEqual(f.warnings, []);
    // Unlabelled (11) is void: a region to ignore, kept as a mask of its class so that training and
    // evaluation can leave its pixels out (issue 20.1; it used to be dropped at import).
    assert.deepEqual(f.classes, CAMVID_CLASSES);
    const first = f.images[0];
    assert.equal(first?.fileName, '0001TP_006690');
    assert.equal(first?.match, 'stem');
    assert.equal(first?.split, 'train', 'from the trainannot folder');
    assert.equal(first?.width, 480);
    assert.equal(first?.height, 360);
    for (const img of f.images.slice(0, 6)) {
      const direct = await sharpCounts(join(CAMVID, img.source ?? ''));
      const expected = [...direct].sort((a, b) => a[0] - b[0]);
      const got = img.labels.map((l) => {
        assert.ok(l.geometry.kind === 'mask');
        return [CAMVID_CLASSES.indexOf(l.className), l.geometry.kind === 'mask' ? rleArea(l.geometry.rle) : -1];
      });
      assert.deepEqual(got, expected, img.source);
    }
    // Sky is class 0 here: the class map names it, so 0 is not background.
    assert.ok(f.images.some((i) => i.labels.some((l) => l.className === 'Sky')));
  });

  it('reads the Cityscapes labelIds map chosen by suffix, "unlabeled" as a region to ignore; 16-bit instance ids exactly', async () => {
    const f = await parseMasks(CITY, { classes: CITYSCAPES, maskSuffix: '_gtFine_labelIds' });
    assert.equal(f.images.length, 1);
    const img = f.images[0];
    assert.equal(img?.fileName, 'frankfurt_000000_000294');
    assert.equal(labelStem('frankfurt_000000_000294_leftImg8bit.png', IMAGE_SUFFIXES), img?.fileName, 'matches its image');
    const direct = await sharpCounts(join(CITY, 'frankfurt_000000_000294_gtFine_labelIds.png'));
    // Value 0 is named "unlabeled": an ignore region, kept as a mask of that class (issue 20.1).
    const expected = new Map([...direct].map(([v, n]) => [CITYSCAPES[v], n]));
    assert.deepEqual(new Map(img?.labels.map((l) => [l.className, l.geometry.kind === 'mask' ? rleArea(l.geometry.rle) : -1])), expected);
    // Instance ids are 16-bit (class*1000 + instance): read untouched, unlike sharp's default 8-bit path.
    const inst = await parseMasks(CITY, { maskSuffix: '_gtFine_instanceIds', maskMode: 'instance', instanceClass: 'thing' });
    const ids = await sharpCounts(join(CITY, 'frankfurt_000000_000294_gtFine_instanceIds.png'), true);
    assert.ok([...ids.keys()].some((v) => v > 255), 'really 16-bit');
    const nonzero = [...ids].filter(([v]) => v !== 0);
    assert.equal(inst.images[0]?.labels.length, nonzero.length);
    assert.deepEqual(inst.images[0]?.labels.map((l) => (l.geometry.kind === 'mask' ? rleArea(l.geometry.rle) : -1)), nonzero.sort((a, b) => a[0] - b[0]).map(([, n]) => n));
    // Without a suffix, the three maps of one image collide: one is read, the others are named in warnings.
    const all = await parseMasks(CITY);
    assert.equal(all.images.length, 1);
    assert.equal(all.warnings.filter((w) => /is already the mask for image "frankfurt_000000_000294"/.test(w)).length, 2);
  });

  it('reads Cityscapes instanceIds as class-coded instances (v = class*1000 + k) with the class map; groups without ids are crowd', async () => {
    const f = await parseMasks(CITY, { classes: CITYSCAPES, maskSuffix: '_gtFine_instanceIds', maskMode: 'instance' });
    const ids = await sharpCounts(join(CITY, 'frankfurt_000000_000294_gtFine_instanceIds.png'), true);
    const labels = f.images[0]?.labels ?? [];
    const instances = [...ids].filter(([v]) => v >= 1000).sort((a, b) => a[0] - b[0]);
    assert.ok(instances.length > 3, 'several instances in the file');
    const got = labels.filter((l) => !l.crowd && instances.some(([v]) => CITYSCAPES[Math.floor(v / 1000)] === l.className));
    const withIds = new Set(instances.map(([v]) => Math.floor(v / 1000)));
    // Every instance id is one mask of its class, with its exact pixel count.
    const byClass = (name: string, list: [number, number][]) => list.filter(([v]) => CITYSCAPES[Math.floor(v / 1000)] === name).map(([, n]) => n).sort((a, b) => a - b);
    for (const k of withIds) {
      const name = CITYSCAPES[k] as string;
      const areas = got.filter((l) => l.className === name).map((l) => (l.geometry.kind === 'mask' ? rleArea(l.geometry.rle) : -1)).sort((a, b) => a - b);
      assert.deepEqual(areas, byClass(name, instances), name);
    }
    // Values below 1000 are regions; those of a class that has instances here are crowd regions.
    for (const [v, n] of [...ids].filter(([v]) => v > 0 && v < 1000)) {
      const l = labels.find((x) => x.className === CITYSCAPES[v] && (x.crowd === true) === withIds.has(v) && x.geometry.kind === 'mask' && rleArea(x.geometry.rle) === n);
      assert.ok(l, `value ${v} (${CITYSCAPES[v]}) as a ${withIds.has(v) ? 'crowd ' : ''}region`);
    }
  });

  it('reads Penn-Fudan instance masks: one object per pedestrian, matching the annotated boxes', async () => {
    const masks = await parseMasks(join(PENN, 'PedMasks'), { maskMode: 'instance', instanceClass: 'pedestrian' });
    const boxes = await parseVoc(join(PENN, 'Annotation'));
    assert.equal(masks.images.length, 119);
    assert.equal(masks.images.reduce((n, i) => n + i.labels.length, 0), 287);
    assert.deepEqual(masks.classes, ['pedestrian']);
    const byStem = new Map(masks.images.map((i) => [i.fileName, i]));
    let exact = 0;
    let total = 0;
    for (const img of boxes.images) {
      const m = byStem.get(labelStem(img.fileName));
      assert.ok(m, img.fileName);
      assert.equal(m.labels.length, img.labels.length, img.fileName);
      img.labels.forEach((l, k) => {
        const g = l.geometry;
        const mg = m.labels[k]?.geometry;
        assert.ok(g.kind === 'box' && mg?.kind === 'mask');
        if (g.kind !== 'box' || mg?.kind !== 'mask') return;
        const [x, y, w, h] = rleToBbox(mg.rle);
        total++;
        if (x === g.x && y === g.y && w === g.width && h === g.height) exact++;
        // The dataset's boxes were drawn around its masks: 3 of 287 are off
        // by 2-6 pixels (PennPed00027 #1 is 6 px wider), the rest are exact.
        const off = Math.max(Math.abs(x - g.x), Math.abs(y - g.y), Math.abs(x + w - g.x - g.width), Math.abs(y + h - g.y - g.height));
        assert.ok(off <= 6, `${img.fileName} #${k + 1}`);
      });
    }
    assert.equal(total, 287);
    assert.ok(exact >= 275, `${exact} of ${total} boxes equal their mask's box`);
  });

  it('reads DRIVE GIF vessel masks through sharp with a 0/255 class map', async () => {
    const file = readdirSync(DRIVE).sort()[0] as string;
    const f = await parseMasks(join(DRIVE, file), { classes: { 0: 'background', 255: 'vessel' } });
    const direct = await sharpCounts(join(DRIVE, file));
    assert.equal(f.images[0]?.fileName, file.replace('_manual1.gif', ''));
    assert.equal(labelStem('21_training.tif', IMAGE_SUFFIXES), f.images[0]?.fileName);
    assert.deepEqual(f.images[0]?.labels.map((l) => [l.className, l.geometry.kind === 'mask' ? rleArea(l.geometry.rle) : -1]), [['vessel', direct.get(255)]]);
    assert.deepEqual(parseClassMap(JSON.stringify({ background: 0, vessel: 255 }), 'c.json'), new Map([[0, 'background'], [255, 'vessel']]));
  });

  it('decodes palette, 16-bit, sub-byte grey, grey-as-RGB and interlaced PNGs to their stored values', async () => {
    const rand = rng(5);
    const w = 13;
    const h = 7;
    const vals = (max: number): number[] => Array.from({ length: w * h }, () => Math.floor(rand() * (max + 1)));
    for (const depth of [1, 2, 4, 8] as const) {
      const s = vals((1 << depth) - 1);
      assert.deepEqual([...decodeLabelPng(encodePng({ width: w, height: h, colorType: 0, depth, samples: s })).values], s, `grey ${depth}-bit`);
      const pal = Array.from({ length: 1 << depth }, (_, i) => [i, 255 - i, 7] as [number, number, number]);
      assert.deepEqual([...decodeLabelPng(encodePng({ width: w, height: h, colorType: 3, depth, samples: s, palette: pal })).values], s, `palette ${depth}-bit`);
    }
    // Two palette entries of one colour: sharp's RGB expansion cannot tell
    // indices 1 and 3 apart; the stored index can.
    const dup = decodeLabelPng(encodePng({ width: 4, height: 1, colorType: 3, depth: 8, samples: [0, 1, 2, 3], palette: [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 0, 0]] }));
    assert.deepEqual([...dup.values], [0, 1, 2, 3]);
    const s16 = vals(65535);
    const d16 = decodeLabelPng(encodePng({ width: w, height: h, colorType: 0, depth: 16, samples: s16 }));
    assert.ok(d16.values instanceof Uint16Array);
    assert.deepEqual([...d16.values], s16);
    const g = vals(20);
    const rgb = g.flatMap((v) => [v, v, v]);
    assert.deepEqual([...decodeLabelPng(encodePng({ width: w, height: h, colorType: 2, depth: 8, samples: rgb })).values], g);
    const ga = g.flatMap((v) => [v, 255]);
    assert.deepEqual([...decodeLabelPng(encodePng({ width: w, height: h, colorType: 4, depth: 8, samples: ga })).values], g);
    // Interlaced (Adam7), written by sharp/libpng.
    const big = Uint8Array.from({ length: 37 * 29 }, () => Math.floor(rand() * 12));
    const png = await sharp(big, { raw: { width: 37, height: 29, channels: 1 } }).png({ progressive: true }).toBuffer();
    assert.equal(png[28], 1, 'interlaced');
    assert.deepEqual(decodeLabelPng(png).values, big);
  });

  it('reads a palette-mask folder with classes.json, VOC-style 255 borders ignored, and refuses colour and broken files per file', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'SegmentationClass'));
    write(dir, 'classes.json', JSON.stringify(['background', 'aeroplane', 'bicycle']));
    const pal: [number, number, number][] = Array.from({ length: 256 }, (_, i) => [i === 1 ? 128 : 0, 0, i === 255 ? 192 : 0]);
    const s = [0, 1, 1, 255, 2, 2, 0, 0, 2, 7, 0, 0];
    write(dir, 'SegmentationClass/2007_000032.png', encodePng({ width: 4, height: 3, colorType: 3, depth: 8, samples: s, palette: pal }));
    write(dir, 'SegmentationClass/colour.png', encodePng({ width: 2, height: 1, colorType: 2, depth: 8, samples: [1, 2, 3, 4, 5, 6] }));
    const good = encodePng({ width: 2, height: 2, colorType: 0, depth: 8, samples: [0, 1, 1, 0] });
    const corrupt = Buffer.from(good);
    corrupt[42] = (corrupt[42] as number) ^ 0xff; // a byte of IDAT data
    write(dir, 'SegmentationClass/corrupt.png', corrupt);
    write(dir, 'SegmentationClass/truncated.png', good.subarray(0, good.length - 20));
    write(dir, 'SegmentationClass/photo.jpg', 'not read');
    write(dir, 'SegmentationClass/notes.txt', 'not read');
    const f = await parseMasks(join(dir, 'SegmentationClass'));
    assert.deepEqual(f.classes, ['aeroplane', 'bicycle']);
    assert.equal(f.images.length, 1);
    const img = f.images[0];
    assert.deepEqual(img?.labels.map((l) => l.className), ['aeroplane', 'bicycle']);
    const m = img?.labels[0]?.geometry;
    assert.ok(m?.kind === 'mask');
    if (m?.kind === 'mask') assert.deepEqual([...decodeRle(m.rle)], s.map((v) => (v === 1 ? 1 : 0)));
    const w = f.warnings.join('\n');
    assert.match(w, /2007_000032.png: value 7 \(1 pixels\) is not in the class map; skipped/);
    assert.match(w, /^colour.png is a colour image/m);
    assert.match(w, /corrupt.png is not a valid PNG: chunk IDAT is corrupt \(CRC mismatch\)/);
    assert.match(w, /^truncated.png is not a valid PNG: chunk IDAT runs past the end/m);
    assert.doesNotMatch(w, /photo.jpg|notes.txt/);
  });

  it('names classes by value without a class map, keeps a 0/255 mask as class "255", and strips mask suffixes', async (t) => {
    const dir = tempDir(t);
    write(dir, 'case1_mask.png', encodePng({ width: 2, height: 2, colorType: 0, depth: 8, samples: [0, 255, 255, 3] }));
    const f = await parseMasks(dir);
    assert.deepEqual(f.classes, ['3', '255']);
    assert.equal(f.images[0]?.fileName, 'case1');
    assert.match(f.warnings.join('\n'), /No class map found/);
    const g = await parseMasks(dir, { ignoreValues: [255] });
    assert.deepEqual(g.images[0]?.labels.map((l) => l.className), ['3']);
  });

  it('keeps masks of the same file name in different folders (IM0001 of every series); two masks of one image in one folder are one too many', async (t) => {
    const dir = tempDir(t);
    for (const d of ['P1/CT', 'P2/CT']) mkdirSync(join(dir, d), { recursive: true });
    write(dir, 'P1/CT/IM0001.png', encodePng({ width: 2, height: 1, colorType: 0, depth: 8, samples: [1, 0] }));
    write(dir, 'P2/CT/IM0001.png', encodePng({ width: 2, height: 1, colorType: 0, depth: 8, samples: [0, 1] }));
    write(dir, 'P2/CT/IM0001_mask.png', encodePng({ width: 2, height: 1, colorType: 0, depth: 8, samples: [1, 1] }));
    const f = await parseMasks(dir, { classes: ['background', 'lesion'] });
    assert.deepEqual(
      f.images.map((i) => [i.source, i.fileName, rleArea((i.labels[0]?.geometry as { rle: Parameters<typeof rleArea>[0] }).rle)]),
      [
        ['P1/CT/IM0001.png', 'IM0001', 1],
        ['P2/CT/IM0001.png', 'IM0001', 1],
      ],
    );
    assert.match(f.warnings.join('\n'), /P2\/CT\/IM0001_mask\.png: P2\/CT\/IM0001\.png is already the mask/);
  });

  it('reads an Adam7-interlaced 1-bit palette PNG written by libpng (fast-png 8.0.0 throws "Unsupported filter" on it, hence our decoder)', async () => {
    const w = 37;
    const h = 29;
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => ((Math.floor(i / 3) * 7) % 5 < 2 ? 255 : 0));
    const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ progressive: true, palette: true, colours: 2 }).toBuffer();
    assert.deepEqual([png[24], png[25], png[28]], [1, 3, 1], '1-bit, palette, interlaced');
    const values = decodeLabelPng(png).values;
    // The palette index of each pixel stands for exactly one colour: a bijection with sharp's RGB.
    const colourOf = new Map<number, number>();
    for (let i = 0; i < w * h; i++) {
      const c = rgb[i * 3] as number;
      const v = values[i] as number;
      if (!colourOf.has(v)) colourOf.set(v, c);
      assert.equal(colourOf.get(v), c, `pixel ${i}`);
    }
    assert.equal(colourOf.size, 2);
  });

  it('refuses hostile PNGs without allocating what they declare', () => {
    // IHDR claims 100000 x 100000: refused before any pixel buffer exists.
    const tiny = encodePng({ width: 1, height: 1, colorType: 0, depth: 8, samples: [0] });
    const huge = Buffer.from(tiny);
    huge.writeUInt32BE(100_000, 16);
    huge.writeUInt32BE(100_000, 20);
    // Fix the IHDR CRC so the size check, not the CRC check, is what refuses it.
    huge.writeUInt32BE(crc32(huge.subarray(12, 29)), 29);
    assert.throws(() => decodeLabelPng(huge), isCode('TOO_LARGE', /100000x100000/));
    // A zip bomb: a 10x10 header over image data that inflates to 20 MB.
    const bomb = encodePng({ width: 10, height: 10, colorType: 0, depth: 8, samples: [], idat: deflateSync(Buffer.alloc(20_000_000)) });
    assert.ok(bomb.length < 40_000);
    assert.throws(() => decodeLabelPng(bomb), isCode('BAD_INPUT', /cannot be decompressed/));
    assert.throws(() => decodeLabelPng(Buffer.from('not a png')), isCode('BAD_INPUT', /wrong signature/));
    assert.throws(() => decodeLabelPng(tiny.subarray(0, 30)), isCode('BAD_INPUT', /not a valid PNG/));
  });
});
