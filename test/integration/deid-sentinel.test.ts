/**
 * De-identified export, end to end: files are imported into a real temporary library and exported
 * with `dicom-deid`.
 *
 * 1. Sentinel: unique strings are seeded into names, IDs, accession numbers, institution and
 *    physician names, addresses, dates, free text, private attributes, nested sequence items, the
 *    source file and folder names, and a photo's EXIF; a case-insensitive search of every exported
 *    byte and every exported path finds none of them, nor any original UID.
 * 2. Burned-in text: an ultrasound image is held back (and the decision audited, without PHI)
 *    until the user confirms.
 * 3. Real files from ../shared/testdata/dicom (explicit/implicit/big endian, deflated, JPEG,
 *    JPEG 2000, multi-frame, ultrasound): pydicom finds every pixel data value byte-identical, no
 *    original UID and no patient name or ID in the output; dcmtk's dcmdump reads every exported
 *    file and shows the de-identification attributes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { Core } from '../../electron/core/composition-root';
import { parseDicom } from '../../electron/core/dicom/parse-dicom';
import type { ExportFormatResult } from '../../electron/core/export/export-types';
import { exportLabels } from '../../electron/core/export/label-export';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';
import { dcmdump, el, makeDicom, pn, sq, US_IMAGE, type Dict } from '../unit/core/deid/deid-fixtures';

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** Through the real dispatcher (policy check, writer, manifest, audit), as `fovea export --format dicom-deid` runs it. */
async function exportDeid(core: Core, datasetId: number, outDir: string, options: Record<string, unknown>): Promise<ExportFormatResult> {
  const sources = { db: core.db, blobs: core.blobs, annotations: core.annotations, datasets: core.datasets, audit: core.audit };
  return exportLabels(sources, { datasetId, format: 'dicom-deid', outDir, options });
}

// Every sentinel shares the marker 'qzx' and a distinct suffix.
const S = {
  name: 'QZXFAMILY^QZXGIVEN',
  id: 'QZXPATIENTID77',
  otherId: 'QZXOTHERID',
  accession: 'QZXACCESSION',
  institution: 'QZXINSTITUTE Clinic',
  instAddress: 'QZXSTREET 12',
  department: 'QZXDEPARTMENT',
  referrer: 'QZXREFERRER^DOC',
  performer: 'QZXPERFORMER',
  reading: 'QZXREADER',
  operator: 'QZXOPERATOR',
  address: 'QZXHOMEADDRESS',
  phone: 'QZX5550100',
  birth: '19450317',
  studyDate: '20191107',
  studyDesc: 'QZXSTUDYDESCRIPTION',
  seriesDesc: 'QZXSERIESDESCRIPTION',
  comments: 'QZXIMAGECOMMENT',
  studyId: 'QZXSTUDYID',
  station: 'QZXSTATION',
  serial: 'QZXSERIAL',
  privCreator: 'QZXPRIVATECREATOR',
  privValue: 'QZXPRIVATEVALUE',
  nestedName: 'QZXNESTED^PERSON',
  nestedPrivate: 'QZXNESTEDPRIVATE',
  deepInstitution: 'QZXDEEPINSTITUTION',
  requested: 'QZXREQUESTEDPROC',
  exif: 'QZXEXIFCOPYRIGHT',
  folder: 'QZXFOLDER',
  file: 'QZXFILE',
};
const UID_ROOT = '1.2.826.0.1.3680043.9.7431';

function sentinelAttrs(n: number, modality: string): Dict {
  return {
    '00080016': el('UI', modality === 'US' ? US_IMAGE : '1.2.840.10008.5.1.4.1.1.2'),
    '00080018': el('UI', `${UID_ROOT}.3.${n}`),
    '00080020': el('DA', S.studyDate),
    '00080050': el('SH', S.accession),
    '00080060': el('CS', modality),
    '00080080': el('LO', S.institution),
    '00080081': el('ST', S.instAddress),
    '00080090': pn(S.referrer),
    '00081010': el('SH', S.station),
    '00081030': el('LO', S.studyDesc),
    '0008103E': el('LO', S.seriesDesc),
    '00081040': el('LO', S.department),
    '00081050': pn(S.performer),
    '00081060': pn(S.reading),
    '00081070': pn(S.operator),
    '00081140': sq({
      '00081150': el('UI', '1.2.840.10008.5.1.4.1.1.2'),
      '00081155': el('UI', `${UID_ROOT}.3.${n === 1 ? 2 : 1}`),
      '00111010': el('LO', S.privCreator),
      '00111011': el('LO', S.nestedPrivate),
      '0040A170': sq({
        '00080100': el('SH', '121311'),
        '00080102': el('SH', 'DCM'),
        '00080104': el('LO', 'Localizer'),
        '0040A123': pn(S.nestedName),
        '00081140': sq({ '00081155': el('UI', `${UID_ROOT}.9.${n}`), '00080080': el('LO', S.deepInstitution) }),
      }),
    }),
    '00100010': pn(S.name),
    '00100020': el('LO', S.id),
    '00100030': el('DA', S.birth),
    '00101000': el('LO', S.otherId),
    '00101040': el('LO', S.address),
    '00102154': el('SH', S.phone),
    '00181000': el('LO', S.serial),
    '0020000D': el('UI', `${UID_ROOT}.1`),
    '0020000E': el('UI', `${UID_ROOT}.2.${modality}`),
    '00200010': el('SH', S.studyId),
    '00200052': el('UI', `${UID_ROOT}.4`),
    '00204000': el('LT', S.comments),
    '00400275': sq({ '00401001': el('SH', 'QZXREQ'), '00321060': el('LO', S.requested) }),
    '00111010': el('LO', S.privCreator),
    '00111011': el('LO', S.privValue),
    '00291010': { vr: 'OB', Value: [Buffer.from(`${S.privValue}-binary`).buffer.slice(0)] },
  };
}

const ORIGINAL_UIDS = [`${UID_ROOT}.3.1`, `${UID_ROOT}.3.2`, `${UID_ROOT}.3.3`, `${UID_ROOT}.1`, `${UID_ROOT}.2.CT`, `${UID_ROOT}.2.US`, `${UID_ROOT}.4`, `${UID_ROOT}.9.1`, UID_ROOT];

function findLeaks(outDir: string, needles: readonly string[]): string[] {
  const leaks: string[] = [];
  for (const file of walk(outDir)) {
    const rel = relative(outDir, file).toLowerCase();
    const text = readFileSync(file).toString('latin1').toLowerCase();
    for (const n of needles) {
      const needle = n.toLowerCase();
      if (rel.includes(needle)) leaks.push(`path ${rel} holds ${n}`);
      if (text.includes(needle)) leaks.push(`${rel} holds ${n}`);
    }
  }
  return leaks;
}

describe('de-identified DICOM export', () => {
  it('sentinel: no seeded string, source name or original UID survives anywhere; burned-in text is held back until confirmed', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const src = join(dir, `src ${S.folder}-${S.name.replace('^', '_')}`);
    mkdirSync(join(src, `${S.folder}-sub ${S.id}`), { recursive: true });
    writeFileSync(join(src, `${S.file}-ct1 ${S.id}.dcm`), makeDicom(sentinelAttrs(1, 'CT'), { pixelSeed: 1 }));
    writeFileSync(join(src, `${S.folder}-sub ${S.id}`, `${S.file}-ct2.dcm`), makeDicom(sentinelAttrs(2, 'CT'), { pixelSeed: 2 }));
    writeFileSync(join(src, `${S.file}-us ${S.accession}.dcm`), makeDicom(sentinelAttrs(3, 'US'), { pixelSeed: 3 }));
    const photo = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .jpeg()
      .withExif({ IFD0: { Copyright: S.exif, ImageDescription: S.name, Artist: S.operator } })
      .toBuffer();
    assert.ok(photo.toString('latin1').includes(S.exif), 'the photo carries EXIF before import');
    writeFileSync(join(src, `${S.file}-road ${S.id}.jpg`), photo);

    // The dataset itself is named after the patient, as people do: the name must not travel either.
    const ds = core.datasets.create(`${S.name} study`, '');
    const imported = await core.importFiles({ datasetId: ds.id, paths: [src] });
    assert.equal(imported.counts.imported, 4, JSON.stringify(imported.notImported));
    const usItem = core.db.prepare("SELECT id FROM items WHERE dataset_id = ? AND modality = 'US'").get(ds.id) as { id: number };

    // Without confirmation the ultrasound image is held back, and that is audited.
    const held = await exportDeid(core, ds.id, join(dir, 'out-held'), {});
    assert.deepEqual(held.heldBack.map((h) => h.itemId), [usItem.id]);
    assert.match(held.heldBack[0]?.reason ?? '', /burned-in.*modality is US/iu);
    assert.equal(held.items, 3);
    // Confirmed: everything goes out.
    const outDir = join(dir, 'out');
    const all = await exportDeid(core, ds.id, outDir, { confirmBurnedIn: true });
    assert.equal(all.heldBack.length, 0);
    assert.equal(all.items, 4);

    const audit = core.db.prepare("SELECT outcome, details FROM audit_log WHERE action = 'export.deid.burned-in' ORDER BY id").all() as { outcome: string; details: string }[];
    assert.deepEqual(
      audit.map((a) => [a.outcome, JSON.parse(a.details).decision, JSON.parse(a.details).itemIds]),
      [
        ['refused', 'held-back', [usItem.id]],
        ['ok', 'confirmed', [usItem.id]],
      ],
    );
    const allAudit = (core.db.prepare('SELECT details FROM audit_log').all() as { details: string | null }[]).map((r) => r.details ?? '').join('\n').toLowerCase();
    for (const n of [S.name, S.id, S.accession, S.institution]) assert.ok(!allAudit.includes(n.toLowerCase()), `audit holds ${n}`);

    // Nothing seeded survives: not in any byte of any exported file (manifest included), not in any path.
    const sentinels = [...Object.values(S), ...S.name.split('^'), ...S.nestedName.split('^'), ...S.referrer.split('^'), 'qzx'];
    for (const d of [outDir, join(dir, 'out-held')]) assert.deepEqual(findLeaks(d, [...sentinels, ...ORIGINAL_UIDS]), []);

    // The search can fail: an export that keeps institution identity is caught.
    const keptDir = join(dir, 'out-kept');
    await exportDeid(core, ds.id, keptDir, { confirmBurnedIn: true, retainInstitutionIdentity: true });
    assert.ok(findLeaks(keptDir, [S.institution]).length >= 3);

    const files = walk(outDir).map((f) => relative(outDir, f).split('\\').join('/'));
    const dicoms = files.filter((f) => f.endsWith('.dcm'));
    assert.equal(dicoms.length, 3);
    for (const f of dicoms) assert.match(f, /^ANON-0001\/[0-9a-f]{16}\/[0-9a-f]{16}\/2\.25\.\d+\.dcm$/u);
    const images = files.filter((f) => f.endsWith('.png'));
    assert.equal(images.length, 1);
    assert.match(images[0] ?? '', /^images\/item-\d+\.png$/u);
    const png = readFileSync(join(outDir, images[0] ?? ''));
    const text = png.toString('latin1');
    for (const marker of ['Exif', 'eXIf', 'http://ns.adobe.com/xap', 'iCCP', 'tEXt', 'iTXt', 'zTXt']) assert.ok(!text.includes(marker), marker);
    const meta = await sharp(png).metadata();
    assert.equal(meta.exif, undefined);
    assert.equal(meta.xmp, undefined);
    assert.equal(meta.icc, undefined);

    // References inside the export follow the remapped UIDs: CT1 points to CT2 and back.
    const sops = new Map<string, string>();
    const refs: string[] = [];
    for (const f of dicoms) {
      const p = parseDicom(readFileSync(join(outDir, f)));
      sops.set(p.str('x00080018') ?? '', f);
      assert.equal(p.str('x00020003'), p.str('x00080018'));
      const ref = p.items('x00081140')[0]?.str('x00081155');
      if (ref && p.str('x00080060') === 'CT') refs.push(ref);
      const dump = dcmdump(join(outDir, f));
      assert.match(dump, /\(0012,0062\) CS \[YES\]/u);
      assert.match(dump, /\(0012,0063\) LO \[DICOM PS3\.15/u);
      assert.match(dump, /\(0008,0100\) SH \[113100\]/u);
    }
    assert.equal(refs.length, 2);
    for (const r of refs) assert.ok(sops.has(r), 'ReferencedSOPInstanceUID names an exported instance');
  });

  it('real files: pixel data byte-identical, no original UID, name or ID left; dcmdump reads every file', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const real = [
      'pydicom/CT_small.dcm', // explicit VR LE, private groups, nested Other Patient IDs
      'pydicom/JPEG2000.dcm', // JPEG 2000, NM
      'pydicom-data/emri_small.dcm', // multi-frame MR (10 frames)
      'dicomParser/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm', // JPEG, 2 frames in 11 fragments, no offset table
      'pydicom/examples_ybr_color.dcm', // US, JPEG baseline, 30 frames (burned-in rule)
      'pydicom/image_dfl.dcm', // deflated, OT
      'pydicom/MR_small_bigendian.dcm', // explicit VR big endian
      'pydicom/rtdose.dcm', // implicit VR LE, 15 frames
    ].map((f) => join(SHARED_TESTDATA, 'dicom', f));
    const ds = core.datasets.create('real', '');
    const imported = await core.importFiles({ datasetId: ds.id, paths: real });
    assert.equal(imported.counts.imported, real.length, JSON.stringify(imported.notImported));
    const outDir = join(dir, 'out');
    const result = await exportDeid(core, ds.id, outDir, { confirmBurnedIn: true });
    assert.equal(result.items, real.length);
    const outs = walk(outDir).filter((f) => f.endsWith('.dcm'));
    assert.equal(outs.length, real.length);

    for (const f of outs) {
      const dump = dcmdump(f);
      assert.match(dump, /\(0012,0062\) CS \[YES\]/u, f);
      assert.match(dump, /\(0012,0063\) LO \[DICOM PS3\.15/u, f);
      assert.match(dump, /\(0012,0064\) SQ/u, f);
      assert.match(dump, /\(0008,0100\) SH \[113100\]/u, f);
      // Names and IDs: not in the attributes (pixel bytes excluded: short IDs like "204" occur there by chance).
      const bytes = readFileSync(f);
      const p = parseDicom(bytes);
      const px = p.element('x7fe00010');
      const header = bytes.subarray(0, px ? px.dataOffset : bytes.length).toString('latin1').toLowerCase();
      assert.match(p.str('x00100010') ?? '', /^ANON-\d{4}$/u);
      assert.equal(p.str('x00100020'), p.str('x00100010'));
      for (const s of real) {
        const orig = parseDicom(readFileSync(s));
        for (const v of [orig.str('x00100010'), orig.str('x00100020'), ...orig.items('x00101002').map((i) => i.str('x00100020'))]) {
          // Short all-digit IDs ("0010") occur inside new UIDs by chance; they are checked through (0010,0020) above.
          if (v && v.replace(/\^/gu, '').length >= 4 && /[a-z]/iu.test(v)) assert.ok(!header.includes(v.toLowerCase()), `${relative(outDir, f)} holds ${v}`);
        }
      }
    }

    // pydicom, an independent reader: every source's pixel data is in the export byte for byte,
    // and no original UID (other than registered DICOM UIDs) appears in any exported byte.
    const script = `
import sys, json, hashlib, pydicom
req = json.loads(sys.stdin.read())
def uids(ds, acc):
    for e in ds.iterall():
        if e.VR == 'UI' and e.value:
            for v in (e.value if isinstance(e.value, pydicom.multival.MultiValue) else [e.value]):
                if v and not str(v).startswith('1.2.840.10008.'): acc.add(str(v))
    return acc
out_hashes = set()
blob = b''
for o in req['outs']:
    d = pydicom.dcmread(o)
    out_hashes.add(hashlib.sha256(d.PixelData).hexdigest())
    blob += open(o, 'rb').read()
res = []
for s in req['srcs']:
    d = pydicom.dcmread(s, force=True)
    u = uids(d, set())
    if 'MediaStorageSOPInstanceUID' in d.file_meta: u.add(str(d.file_meta.MediaStorageSOPInstanceUID))
    res.append({'src': s, 'pixel': hashlib.sha256(d.PixelData).hexdigest() in out_hashes, 'uids': len(u), 'leaked': [x for x in u if x.encode() in blob]})
print(json.dumps(res))
`;
    const checked = JSON.parse(execFileSync('/usr/bin/python3', ['-W', 'ignore', '-c', script], { input: JSON.stringify({ srcs: real, outs }), encoding: 'utf8' })) as {
      src: string;
      pixel: boolean;
      uids: number;
      leaked: string[];
    }[];
    assert.equal(checked.length, real.length);
    for (const c of checked) {
      assert.ok(c.pixel, `pixel data of ${c.src} changed`);
      assert.ok(c.uids >= 3, `${c.src}: the check saw its UIDs`);
      assert.deepEqual(c.leaked, [], c.src);
    }
  });
});
