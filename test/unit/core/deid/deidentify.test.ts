/**
 * PS3.15 Annex E actions on crafted data sets: one test per action type, nested sequences,
 * private and repeating groups, UID remapping across files, file meta, options and the
 * burned-in rules. Every output is also read back by dcmtk's dcmdump.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rowFor } from '../../../../electron/core/deid/deid-rules';
import {
  DEFAULT_DEID_OPTIONS,
  DeidSession,
  deidentifyDicom,
  FOVEA_IMPLEMENTATION_UID,
  shiftDateString,
  type DeidOptions,
} from '../../../../electron/core/deid/deidentify';
import { tempDir } from '../../../helpers/temp-library';
import {
  containsIgnoreCase,
  CT_IMAGE,
  dcmdump,
  el,
  items,
  makeDicom,
  pn,
  readDicom,
  SC_IMAGE,
  sq,
  str,
  UID_SYNTAX,
  US_IMAGE,
  type Dict,
} from './deid-fixtures';

const tmp = tempDir('fovea-deid-unit-');
after(() => tmp.cleanup());
let fileNo = 0;

function run(attrs: Dict, options: Partial<DeidOptions> = {}, session = new DeidSession()) {
  const outcome = deidentifyDicom(makeDicom(attrs), { ...DEFAULT_DEID_OPTIONS, ...options }, session);
  assert.equal(outcome.status, 'done');
  if (outcome.status !== 'done') throw new Error('held back');
  // dcmtk must read every file we write.
  const path = join(tmp.dir, `out-${++fileNo}.dcm`);
  writeFileSync(path, outcome.bytes);
  const dump = dcmdump(path);
  assert.match(dump, /\(0012,0062\) CS \[YES\]/u);
  return { ...outcome, ...readDicom(outcome.bytes), dump };
}

const PATIENT: Dict = {
  '00100010': pn('DOE^JOHN'),
  '00100020': el('LO', 'PID-12345'),
  '0020000D': el('UI', '1.2.826.0.1.3680043.2.1125.1.100'),
  '0020000E': el('UI', '1.2.826.0.1.3680043.2.1125.1.200'),
  '00080018': el('UI', '1.2.826.0.1.3680043.2.1125.1.300'),
};

describe('Table E.1-1 actions', () => {
  it('X removes, Z empties, D puts a dummy of the right VR, K keeps', () => {
    assert.equal(rowFor('00101040')?.basic, 'X');
    const r = run({
      ...PATIENT,
      '00101040': el('LO', '1 Main Street'), // Patient's Address: X
      '00081030': el('LO', 'Chest study'), // Study Description: X
      '00080050': el('SH', 'ACC123'), // Accession Number: Z
      '00080090': pn('WHO^REFERRER'), // Referring Physician: Z
      '00080080': el('LO', 'General Hospital'), // Institution Name: X/Z/D in a standard IOD -> D
      '00081070': pn('OPERATOR^ONE'), // Operators' Name: X/Z/D -> D
      '00080023': el('DA', '20200102'), // Content Date: Z/D -> D
      '00080033': el('TM', '101010'), // Content Time: Z/D -> D
      '00181030': el('LO', 'My protocol'), // Protocol Name: X/D -> D
      '00080070': el('LO', 'ACME'), // Manufacturer: not listed -> K
      '00180015': el('CS', 'CHEST'), // Body Part Examined: not listed -> K
    });
    assert.equal(r.dict['00101040'], undefined);
    assert.equal(r.dict['00081030'], undefined);
    assert.ok(r.dict['00080050'], 'Z keeps the attribute');
    assert.equal(str(r.dict['00080050']) ?? '', '');
    assert.equal(str(r.dict['00080090']) ?? '', '');
    assert.equal(str(r.dict['00080080']), 'ANONYMIZED');
    assert.equal(str(r.dict['00081070']), 'ANONYMIZED');
    assert.equal(str(r.dict['00080023']), '19000101');
    assert.equal(str(r.dict['00080033']), '000000');
    assert.equal(str(r.dict['00181030']), 'ANONYMIZED');
    assert.equal(str(r.dict['00080070']), 'ACME');
    assert.equal(str(r.dict['00180015']), 'CHEST');
    for (const s of ['1 Main Street', 'Chest study', 'ACC123', 'REFERRER', 'General Hospital', 'OPERATOR', 'My protocol', 'DOE', 'PID-12345', '20200102']) {
      assert.equal(containsIgnoreCase(r.bytes, s), false, s);
    }
  });

  it('U remaps UIDs to valid 2.25 UIDs; Patient Name and ID become the pseudonym', () => {
    const r = run(PATIENT);
    for (const tag of ['00080018', '0020000D', '0020000E']) {
      const u = str(r.dict[tag]) ?? '';
      assert.match(u, /^2\.25\.\d+$/u);
      assert.match(u, UID_SYNTAX);
      assert.ok(u.length <= 64);
      assert.notEqual(u, str(PATIENT[tag]));
    }
    assert.equal(str(r.dict['00100010']), 'ANON-0001');
    assert.equal(str(r.dict['00100020']), 'ANON-0001');
    assert.equal(r.pseudonym, 'ANON-0001');
  });

  it('C cleans descriptors (Clean Descriptors option): identifying values of the file are blanked out', () => {
    const r = run(
      {
        ...PATIENT,
        '00081030': el('LO', 'CT chest for John Doe, PID-12345'),
        '00184000': el('LT', 'Seen at General Hospital'),
        '00080080': el('LO', 'General Hospital'),
      },
      { cleanDescriptors: true },
    );
    assert.equal(str(r.dict['00081030']), 'CT chest for ,');
    assert.equal(str(r.dict['00184000']), 'Seen at');
    assert.deepEqual(
      items(r.dict['00120064']).map((i) => str(i['00080100'])),
      ['113100', '113105'],
    );
  });

  it('X/Z/U* keeps a reference sequence and remaps the UIDs inside it', () => {
    const session = new DeidSession();
    const a = run({ ...PATIENT, '00080018': el('UI', '1.2.3.100.1') }, {}, session);
    const b = run(
      {
        ...PATIENT,
        '00080018': el('UI', '1.2.3.100.2'),
        '00081140': sq({ '00081150': el('UI', CT_IMAGE), '00081155': el('UI', '1.2.3.100.1') }),
      },
      {},
      session,
    );
    const ref = items(b.dict['00081140'])[0];
    assert.equal(str(ref?.['00081150']), CT_IMAGE, 'SOP class UIDs are kept');
    assert.equal(str(ref?.['00081155']), str(a.dict['00080018']), 'the reference follows the remapped SOP Instance UID');
  });
});

describe('sequences, private and repeating groups', () => {
  it('applies the table at every nesting level (3 levels deep) and removes private attributes there', () => {
    assert.equal(rowFor('0040A170'), undefined, 'Purpose of Reference Code Sequence is not listed: kept and recursed');
    const r = run({
      ...PATIENT,
      '00081140': sq({
        '00081155': el('UI', '1.2.3.55.1'),
        '00091010': el('LO', 'PRIVATE-CREATOR'),
        '00091011': el('LO', 'NESTEDPRIVATESENTINEL'),
        '0040A170': sq({
          '00080100': el('SH', '121311'),
          '00080102': el('SH', 'DCM'),
          '00080104': el('LO', 'Localizer'),
          '0040A123': pn('LEVEL2^SENTINEL'), // Person Name: D
          '00081140': sq({
            '00081155': el('UI', '1.2.3.55.2'),
            '00100010': pn('LEVEL3^PATIENT'), // Patient's Name nested: Z
            '00080080': el('LO', 'LEVEL3 HOSPITAL'), // Institution Name nested: D
          }),
        }),
      }),
      '00091010': el('LO', 'TOPPRIVATE'),
      '00091001': el('LO', 'TOPPRIVATESENTINEL'),
      '00291010': { vr: 'OB', Value: [new Uint8Array([1, 2, 3, 4]).buffer] },
    });
    const l1 = items(r.dict['00081140'])[0] as Dict;
    assert.equal(l1['00091010'], undefined);
    assert.equal(l1['00091011'], undefined);
    const l2 = items(l1['0040A170'])[0] as Dict;
    assert.equal(str(l2['00080104']), 'Localizer');
    assert.equal(str(l2['0040A123']), 'ANONYMIZED');
    const l3 = items(l2['00081140'])[0] as Dict;
    assert.match(str(l3['00081155']) ?? '', /^2\.25\./u);
    assert.equal(str(l3['00100010']) ?? '', '');
    assert.equal(str(l3['00080080']), 'ANONYMIZED');
    assert.equal(Object.keys(r.dict).filter((t) => parseInt(t.slice(0, 4), 16) % 2 === 1).length, 0);
    for (const s of ['NESTEDPRIVATESENTINEL', 'TOPPRIVATE', 'LEVEL2', 'LEVEL3', '1.2.3.55.1', '1.2.3.55.2', 'PRIVATE-CREATOR']) {
      assert.equal(containsIgnoreCase(r.bytes, s), false, s);
    }
    assert.ok(r.report.privateRemoved >= 4);
  });

  it('D on a sequence leaves one empty item; Clean Structured Content keeps the content and cleans its text', () => {
    const content = {
      ...PATIENT,
      '0040A730': sq({ '0040A040': el('CS', 'TEXT'), '0040A160': el('UT', 'Findings for John Doe: no lesion') }), // Content Sequence: D
      '00080082': sq({ '00080100': el('SH', 'INST1'), '00080102': el('SH', 'L'), '00080104': el('LO', 'Inst') }), // X/Z/D -> D
    };
    const d = run(content);
    // dcmtk sees one item holding nothing in each (dcmjs reads an empty item back as no item).
    for (const tag of ['0040,a730', '0008,0082']) {
      assert.match(d.dump, new RegExp(`\\(${tag}\\) SQ \\(Sequence with (undefined length|explicit length) #=1\\)[^\\n]*\\n\\s*\\(fffe,e000\\) na \\(Item with (undefined|explicit) length #=0\\)`, 'u'), tag);
    }
    assert.equal(containsIgnoreCase(d.bytes, 'Findings'), false);
    const c = run(content, { cleanStructuredContent: true });
    const item = items(c.dict['0040A730'])[0] as Dict;
    assert.equal(str(item['0040A040']), 'TEXT');
    assert.equal(str(item['0040A160']), 'Findings for : no lesion');
  });

  it('removes overlays (60xx) and curves (50xx) entirely, whatever the option', () => {
    const overlay: Dict = {
      '60000010': el('US', 8),
      '60000011': el('US', 8),
      '60000022': el('LO', 'OVERLAY SENTINEL DESCRIPTION'),
      '60000040': el('CS', 'G'),
      '60000050': el('SS', 1, 1),
      '60000100': el('US', 1),
      '60003000': { vr: 'OW', Value: [new Uint8Array(8).fill(0xff).buffer] },
      '60024000': el('LT', 'OVERLAY COMMENT SENTINEL'),
      '50000005': el('US', 2),
      '50003000': { vr: 'OW', Value: [new Uint8Array(8).buffer] },
    };
    for (const cleanGraphics of [false, true]) {
      const r = run({ ...PATIENT, ...overlay }, { cleanGraphics });
      const groups = Object.keys(r.dict).map((t) => t.slice(0, 2));
      assert.ok(!groups.includes('60') && !groups.includes('50'), `cleanGraphics ${cleanGraphics}`);
      assert.equal(r.report.overlayCurveRemoved, Object.keys(overlay).length);
      assert.equal(containsIgnoreCase(r.bytes, 'SENTINEL'), false);
    }
  });
});

describe('UIDs across files and the file meta', () => {
  it('identical UIDs in gives identical UIDs out within an export, different across exports', () => {
    const s1 = new DeidSession();
    const shared = { ...PATIENT, '00200052': el('UI', '1.2.3.77.9') };
    const a = run({ ...shared, '00080018': el('UI', '1.2.3.77.1') }, {}, s1);
    const b = run({ ...shared, '00080018': el('UI', '1.2.3.77.2') }, {}, s1);
    const c = run({ ...shared, '00080018': el('UI', '1.2.3.77.1') }, {}, new DeidSession());
    assert.equal(str(a.dict['0020000D']), str(b.dict['0020000D']));
    assert.equal(str(a.dict['0020000E']), str(b.dict['0020000E']));
    assert.equal(str(a.dict['00200052']), str(b.dict['00200052']), 'Frame of Reference UID follows');
    assert.notEqual(str(a.dict['00080018']), str(b.dict['00080018']), 'distinct in, distinct out');
    assert.notEqual(str(a.dict['0020000D']), str(c.dict['0020000D']), 'a new secret per export');
    assert.equal(a.pseudonym, b.pseudonym, 'one pseudonym per patient');
  });

  it('(0002,0003) equals the new (0008,0018); implementation identifiers are ours', () => {
    const r = run(PATIENT);
    assert.equal(str(r.meta['00020003']), str(r.dict['00080018']));
    assert.equal(str(r.meta['00020003']), r.sopInstanceUid);
    assert.equal(str(r.meta['00020012']), FOVEA_IMPLEMENTATION_UID);
    assert.equal(str(r.meta['00020013']), 'FOVEA_DEID_1');
    assert.equal(str(r.meta['00020002']), CT_IMAGE);
    assert.equal(containsIgnoreCase(r.bytes, '1.2.3.999.1'), false, 'the source implementation UID is gone');
    assert.equal(containsIgnoreCase(r.bytes, 'TEST_WRITER'), false);
  });

  it('a UI attribute the table does not list is remapped unless it is a registered DICOM UID', () => {
    assert.equal(rowFor('00189087'), undefined);
    const r = run({
      ...PATIENT,
      '0040A124': el('UI', '1.2.3.88.1'), // UID (listed, U)
      '00209161': el('UI', '1.2.3.88.2'), // Concatenation UID (listed, U)
      '00081150': el('UI', CT_IMAGE),
      '00620021': el('UI', '1.2.3.88.3'), // Tracking UID (listed, U)
      '00460048': el('UI', '1.2.3.88.4'), // not listed, not registered: remapped (fail safe)
    });
    for (const u of ['1.2.3.88.1', '1.2.3.88.2', '1.2.3.88.3', '1.2.3.88.4']) assert.equal(containsIgnoreCase(r.bytes, u), false, u);
    assert.equal(str(r.dict['00081150']), CT_IMAGE);
  });
});

describe('de-identification method attributes and options', () => {
  it('adds (0012,0062) YES, (0012,0063) and (0012,0064) 113100 with only the options applied', () => {
    const plain = run(PATIENT);
    assert.equal(str(plain.dict['00120062']), 'YES');
    assert.match(str(plain.dict['00120063']) ?? '', /PS3\.15.*Basic Profile/u);
    const codes = items(plain.dict['00120064']);
    assert.deepEqual(codes.map((i) => [str(i['00080100']), str(i['00080102'])]), [['113100', 'DCM']]);
    assert.equal(str(plain.dict['00280303']), 'REMOVED');

    const all = run(PATIENT, {
      retainLongitudinalDates: 'full',
      retainPatientCharacteristics: true,
      retainDeviceIdentity: true,
      retainInstitutionIdentity: true,
      retainUids: true,
      cleanDescriptors: true,
      cleanStructuredContent: true,
      cleanGraphics: true,
    });
    assert.deepEqual(
      items(all.dict['00120064']).map((i) => str(i['00080100'])),
      ['113100', '113103', '113104', '113105', '113106', '113108', '113109', '113110', '113112'],
    );
    assert.equal(str(all.dict['00280303']), 'UNMODIFIED');
    assert.ok((all.dict['00120063']?.Value ?? []).every((v) => String(v).length <= 64));
  });

  it('Retain UIDs keeps every UID and says so', () => {
    const r = run(PATIENT, { retainUids: true });
    assert.equal(str(r.dict['00080018']), str(PATIENT['00080018']));
    assert.equal(str(r.meta['00020003']), str(PATIENT['00080018']));
    assert.equal(str(r.dict['0020000D']), str(PATIENT['0020000D']));
  });

  it('dates: removed by default, kept with full dates, shifted consistently per patient with modified dates', () => {
    const dated = { ...PATIENT, '00080020': el('DA', '20210315'), '00080030': el('TM', '093000'), '0008002A': el('DT', '20210315093000.000000') };
    const none = run(dated);
    assert.equal(str(none.dict['00080020']) ?? '', '');
    assert.equal(str(none.dict['0008002A']), '19000101000000');

    const full = run(dated, { retainLongitudinalDates: 'full' });
    assert.equal(str(full.dict['00080020']), '20210315');
    assert.equal(str(full.dict['0008002A']), '20210315093000.000000');

    const session = new DeidSession();
    const m1 = run(dated, { retainLongitudinalDates: 'modified' }, session);
    const m2 = run({ ...dated, '00080018': el('UI', '1.2.3.4.99'), '00080020': el('DA', '20210320') }, { retainLongitudinalDates: 'modified' }, session);
    const shift = session.dateShiftDays(m1.pseudonym);
    assert.ok(shift <= -30 && shift >= -3650);
    assert.equal(str(m1.dict['00080020']), shiftDateString('20210315', 'DA', shift));
    assert.notEqual(str(m1.dict['00080020']), '20210315');
    const days = (a: string, b: string): number =>
      (Date.UTC(+b.slice(0, 4), +b.slice(4, 6) - 1, +b.slice(6, 8)) - Date.UTC(+a.slice(0, 4), +a.slice(4, 6) - 1, +a.slice(6, 8))) / 86_400_000;
    assert.equal(days(str(m1.dict['00080020']) ?? '', str(m2.dict['00080020']) ?? ''), 5, 'intervals between dates survive');
    assert.equal(str(m1.dict['0008002A'])?.slice(8), '093000.000000', 'time of day kept');
    assert.equal(str(m1.dict['00280303']), 'MODIFIED');
    assert.deepEqual(items(m1.dict['00120064']).map((i) => str(i['00080100'])), ['113100', '113107']);
  });

  it('device, institution and patient characteristics are removed unless their option is chosen', () => {
    const attrs = {
      ...PATIENT,
      '00081010': el('SH', 'STATION7'),
      '00181000': el('LO', 'SERIAL-998'),
      '00080080': el('LO', 'Saint Example'),
      '00080081': el('ST', '2 Side Road'),
      '00100040': el('CS', 'F'),
      '00101010': el('AS', '042Y'),
    };
    const none = run(attrs);
    assert.equal(str(none.dict['00081010']), 'ANONYMIZED');
    assert.equal(str(none.dict['00181000']), 'ANONYMIZED');
    assert.equal(str(none.dict['00080080']), 'ANONYMIZED');
    assert.equal(none.dict['00080081'], undefined);
    assert.equal(str(none.dict['00100040']) ?? '', '');
    assert.equal(none.dict['00101010'], undefined);

    const dev = run(attrs, { retainDeviceIdentity: true });
    assert.equal(str(dev.dict['00081010']), 'STATION7');
    assert.equal(str(dev.dict['00181000']), 'SERIAL-998');
    assert.equal(str(dev.dict['00080080']), 'ANONYMIZED');

    const inst = run(attrs, { retainInstitutionIdentity: true });
    assert.equal(str(inst.dict['00080080']), 'Saint Example');
    assert.equal(str(inst.dict['00080081']), '2 Side Road');

    const chars = run(attrs, { retainPatientCharacteristics: true });
    assert.equal(str(chars.dict['00100040']), 'F');
    assert.equal(str(chars.dict['00101010']), '042Y');
  });

  it('Retain Safe Private is not supported: private attributes still go, with a warning', () => {
    const r = run({ ...PATIENT, '00091010': el('LO', 'SAFE?') }, { retainSafePrivate: true });
    assert.equal(r.dict['00091010'], undefined);
    assert.match(r.report.warnings.join(' '), /Retain Safe Private is not supported/u);
  });
});

describe('burned-in text', () => {
  const cases: { name: string; attrs: Dict; held: boolean }[] = [
    { name: 'BurnedInAnnotation YES on CT', attrs: { '00080060': el('CS', 'CT'), '00280301': el('CS', 'YES') }, held: true },
    { name: 'BurnedInAnnotation NO on US', attrs: { '00080060': el('CS', 'US'), '00080016': el('UI', US_IMAGE), '00280301': el('CS', 'NO') }, held: false },
    ...['US', 'SC', 'XA', 'ES', 'OT'].map((m) => ({ name: `absent on ${m}`, attrs: { '00080060': el('CS', m) }, held: true })),
    { name: 'absent on CT', attrs: { '00080060': el('CS', 'CT') }, held: false },
    { name: 'absent on MR', attrs: { '00080060': el('CS', 'MR') }, held: false },
    { name: 'absent on a Secondary Capture of modality CT', attrs: { '00080060': el('CS', 'CT'), '00080016': el('UI', SC_IMAGE) }, held: true },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.held ? 'held back unless confirmed' : 'exported'}`, () => {
      const bytes = makeDicom({ ...PATIENT, ...c.attrs });
      const session = new DeidSession();
      const outcome = deidentifyDicom(bytes, DEFAULT_DEID_OPTIONS, session);
      assert.equal(outcome.status, c.held ? 'held-back' : 'done');
      assert.equal(outcome.burnedIn.suspect, c.held);
      if (c.held) {
        assert.equal(session.patients, 0, 'a held-back file uses no pseudonym');
        const confirmed = deidentifyDicom(bytes, { ...DEFAULT_DEID_OPTIONS, confirmBurnedIn: true }, session);
        assert.equal(confirmed.status, 'done');
      }
    });
  }
});

describe('pseudonyms and pixel data', () => {
  it('one pseudonym per patient, numbered in order', () => {
    const s = new DeidSession();
    const a = run({ ...PATIENT }, {}, s);
    const b = run({ ...PATIENT, '00100010': pn('ROE^JANE'), '00100020': el('LO', 'PID-2'), '00080018': el('UI', '1.2.3.9') }, {}, s);
    const c = run({ ...PATIENT, '00080018': el('UI', '1.2.3.10') }, {}, s);
    assert.deepEqual([a.pseudonym, b.pseudonym, c.pseudonym], ['ANON-0001', 'ANON-0002', 'ANON-0001']);
  });

  it('pixel data bytes are copied unchanged', () => {
    const src = makeDicom(PATIENT, { pixelSeed: 3 });
    const out = run(PATIENT);
    const a = readDicom(src).dict['7FE00010']?.Value?.[0] as ArrayBuffer;
    const b = out.dict['7FE00010']?.Value?.[0] as ArrayBuffer;
    assert.ok(a && b);
    const expected = readDicom(makeDicom(PATIENT)).dict['7FE00010']?.Value?.[0] as ArrayBuffer;
    assert.deepEqual(new Uint8Array(b), new Uint8Array(expected));
    assert.notDeepEqual(new Uint8Array(a), new Uint8Array(b), 'the check can fail');
  });
});
