import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { detectNetworkFileSystem } from '../../../../electron/core/store/network-fs';

test('UNC paths are network locations; local folders are not', () => {
  assert.equal(detectNetworkFileSystem('\\\\server\\share\\fovea', 'win32'), 'SMB share');
  assert.equal(detectNetworkFileSystem('C:\\Users\\ana\\Fovea', 'win32'), null);
  assert.equal(detectNetworkFileSystem(tmpdir(), process.platform), null);
  assert.equal(detectNetworkFileSystem('/definitely/not/existing/yet/lib', process.platform), null);
});
