// Creates a STAND-IN Electron distribution folder, for packaging checks on
// machines where the real Electron binary cannot be downloaded.
//
//   node build/scripts/stand-in-electron.mjs [FOLDER]      (default: out/stand-in-electron)
//
// electron-builder (`-c.electronDist=FOLDER`, Linux x64, `--dir`) copies an
// unpacked Electron folder into the app folder, renames `electron` to the
// app's executable, writes resources/app.asar (+ app.asar.unpacked) and then
// runs the afterPack hook, which flips the fuses in the executable. This
// folder has what that needs and nothing it could mistake for a real app:
//
//   electron                 a /bin/sh script that refuses to run, followed by
//                            a copy of Electron's fuse wire (see below)
//   version                  the version of the installed `electron` package
//   LICENSE, LICENSES.chromium.html   placeholders (electron-builder moves
//                            LICENSE to LICENSE.electron.txt)
//   locales/en-US.pak        placeholder (electron-builder's language filter
//                            reads this folder)
//   resources/               empty: no default_app.asar
//
// The fuse wire, as @electron/fuses reads it (node_modules/@electron/fuses/
// dist/index.js, constants.js): the 32-byte sentinel
// 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX', then one byte for the wire version (1),
// one byte for the number of fuses, then one byte per fuse: '0' (0x30)
// disabled, '1' (0x31) enabled, 'r' (0x72) removed. The states written here are
// Electron's documented defaults (https://www.electronjs.org/docs/latest/tutorial/fuses),
// so the afterPack hook has to change them for the check to pass.
//
// Nothing here is Electron: the packaged output of a stand-in cannot run. It
// exists so that the packaging configuration, the asar contents and the fuse
// step can be tested without the network.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @electron/fuses' sentinel (constants.js SENTINEL). */
export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** The wire version byte @electron/fuses 1.x understands (FuseVersion.V1). */
export const FUSE_WIRE_VERSION = 1;

/**
 * Electron's default fuse states, in FuseV1Options order (0..7):
 * RunAsNode on, EnableCookieEncryption off, EnableNodeOptionsEnvironmentVariable on,
 * EnableNodeCliInspectArguments on, EnableEmbeddedAsarIntegrityValidation off,
 * OnlyLoadAppFromAsar off, LoadBrowserProcessSpecificV8Snapshot off,
 * GrantFileProtocolExtraPrivileges on.
 */
export const DEFAULT_FUSE_STATES = '10110001';

/** The bytes of a fuse wire: sentinel, version, length, states. */
export function fuseWire(states = DEFAULT_FUSE_STATES) {
  return Buffer.concat([
    Buffer.from(FUSE_SENTINEL, 'latin1'),
    Buffer.from([FUSE_WIRE_VERSION, states.length]),
    Buffer.from(states, 'latin1'),
  ]);
}

/** The version of the `electron` package installed beside this repository. */
export function installedElectronVersion() {
  const require = createRequire(join(root, 'package.json'));
  return JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
}

const LAUNCHER = `#!/bin/sh
# STAND-IN for the Electron binary, made by build/scripts/stand-in-electron.mjs
# for the packaging check. It is not Electron and cannot run Fovea.
echo "This is a stand-in for the Electron binary (packaging check only); it cannot run Fovea." >&2
exit 1
# Fuse wire (read and flipped by @electron/fuses):
# `;

/**
 * Writes the stand-in folder (replacing whatever was there) and returns its
 * absolute path.
 */
export function createStandInElectron(folder = join(root, 'out', 'stand-in-electron'), { version = installedElectronVersion() } = {}) {
  const dir = resolve(folder);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'resources'), { recursive: true });
  mkdirSync(join(dir, 'locales'), { recursive: true });

  const executable = join(dir, 'electron');
  writeFileSync(executable, Buffer.concat([Buffer.from(LAUNCHER, 'latin1'), fuseWire(), Buffer.from('\n', 'latin1')]));
  chmodSync(executable, 0o755);

  writeFileSync(join(dir, 'version'), `${version}\n`);
  writeFileSync(join(dir, 'LICENSE'), 'Placeholder for Electron\'s LICENSE (stand-in Electron folder; not for distribution).\n');
  writeFileSync(join(dir, 'LICENSES.chromium.html'), '<!-- Placeholder for Chromium\'s licenses (stand-in Electron folder). -->\n');
  writeFileSync(join(dir, 'locales', 'en-US.pak'), '');
  writeFileSync(join(dir, 'STAND-IN.txt'), `Stand-in Electron ${version} folder made by build/scripts/stand-in-electron.mjs. Not Electron.\n`);
  return dir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = createStandInElectron(process.argv[2]);
  console.log(`stand-in Electron folder: ${dir}`);
}
