/**
 * The dicom-deid export handler's options and its item selection, on a real temporary library.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { exportDeidentified, parseDeidOptions } from '../../../../electron/core/deid/deid-export';
import { ExportWriter } from '../../../../electron/core/export/safe-output';
import { tempCore } from '../../../helpers/temp-library';
import { el, makeDicom, pn } from './deid-fixtures';

describe('dicom-deid options', () => {
  it('maps the documented option names and refuses wrong types', () => {
    const p = parseDeidOptions({ retainLongitudinalDates: 'modified', retainUids: true, cleanDescriptors: true, confirmBurnedIn: true, pseudonymPrefix: 'SUBJ-', typo: 1 });
    assert.equal(p.deid.retainLongitudinalDates, 'modified');
    assert.equal(p.deid.retainUids, true);
    assert.equal(p.deid.cleanDescriptors, true);
    assert.equal(p.deid.confirmBurnedIn, true);
    assert.equal(p.deid.retainDeviceIdentity, false);
    assert.equal(p.pseudonymPrefix, 'SUBJ-');
    assert.deepEqual(p.unknown, ['typo']);
    assert.equal(parseDeidOptions({ retainLongitudinalDates: true }).deid.retainLongitudinalDates, 'full');
    for (const bad of [{ retainUids: 'yes' }, { retainLongitudinalDates: 'some' }, { pseudonymPrefix: '../x' }, { confirmBurnedIn: 1 }]) {
      assert.throws(() => parseDeidOptions(bad), (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT', JSON.stringify(bad));
    }
  });

  it('exports only the chosen split, names files by the new pseudonym and UIDs, warns about unknown options', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const src = join(dir, 'src');
    mkdirSync(src);
    for (let i = 1; i <= 3; i++) {
      writeFileSync(
        join(src, `f${i}.dcm`),
        makeDicom({ '00100010': pn(`P${i}^X`), '00100020': el('LO', `ID${i}`), '00080018': el('UI', `1.2.3.4.${i}`), '0020000D': el('UI', `1.2.3.5.${i}`) }, { pixelSeed: i }),
      );
    }
    const ds = core.datasets.create('split', '');
    await core.importFiles({ datasetId: ds.id, paths: [src] });
    const ids = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number }[]).map((r) => r.id);
    const now = new Date().toISOString();
    for (const [i, id] of ids.entries()) {
      core.db.prepare("INSERT INTO splits (dataset_id, item_id, split, origin, assigned_at) VALUES (?, ?, ?, 'user', ?)").run(ds.id, id, i === 0 ? 'test' : 'train', now);
    }
    const out = join(dir, 'out');
    const writer = await ExportWriter.open(out);
    const sources = { db: core.db, blobs: core.blobs, annotations: core.annotations, datasets: core.datasets };
    const r = await exportDeidentified({ sources, datasetId: ds.id, split: 'train', writer, options: { pseudonymPrefix: 'SUBJ-', typo: true } });
    assert.equal(r.format, 'dicom-deid');
    assert.equal(r.items, 2);
    assert.match(r.warnings.join(' '), /Unknown de-identification options ignored: typo/u);
    assert.deepEqual(readdirSync(out).sort(), ['SUBJ-0001', 'SUBJ-0002']);
    assert.ok(writer.files.every((f) => /^SUBJ-000[12]\/[0-9a-f]{16}\/[0-9a-f]{16}\/2\.25\.\d+\.dcm$/u.test(f.path)));
  });
});
