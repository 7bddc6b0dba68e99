import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultLibraryDir, resolveLibraryDir } from '../../../../electron/core/app/library-location';

test('the default library is in the per-user application-data folder of each OS', () => {
  assert.equal(defaultLibraryDir('linux', {}, '/home/ana'), '/home/ana/.local/share/Fovea/library');
  assert.equal(defaultLibraryDir('linux', { XDG_DATA_HOME: '/data' }, '/home/ana'), '/data/Fovea/library');
  assert.equal(defaultLibraryDir('darwin', {}, '/Users/ana'), '/Users/ana/Library/Application Support/Fovea/library');
  assert.match(defaultLibraryDir('win32', { APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' }, 'C:\\Users\\ana'), /Fovea.library$/);
});

test('--library wins over FOVEA_LIBRARY, which wins over the default', () => {
  assert.equal(resolveLibraryDir('/a', { FOVEA_LIBRARY: '/b' }), '/a');
  assert.equal(resolveLibraryDir(undefined, { FOVEA_LIBRARY: '/b' }), '/b');
  assert.equal(resolveLibraryDir(undefined, {}), defaultLibraryDir());
});
