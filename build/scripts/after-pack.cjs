/**
 * electron-builder afterPack hook (build/electron-builder.config.cjs).
 *
 * Runs once per packaged platform/arch, after app.asar is written and before
 * anything is signed (electron-builder signs after afterPack; flipping fuses
 * after signing would break the signature):
 *
 * 1. Flips Electron's fuses in the packaged executable with @electron/fuses
 *    (FuseVersion.V1) to FOVEA_FUSES, then reads the wire back and fails the
 *    build if any fuse is not as configured.
 * 2. Removes resources/default_app.asar if the Electron folder had one.
 * 3. Says loudly when the build will not be signed (or not notarized).
 *
 * The fuses (https://www.electronjs.org/docs/latest/tutorial/fuses):
 * - RunAsNode off: ELECTRON_RUN_AS_NODE cannot turn Fovea into a Node
 *   interpreter running arbitrary scripts with the app's identity.
 * - EnableNodeOptionsEnvironmentVariable off: NODE_OPTIONS cannot inject code
 *   (--require) into the main process.
 * - EnableNodeCliInspectArguments off: --inspect/--inspect-brk cannot attach a
 *   debugger to the main process (that would read patient data in memory).
 *   Playwright's _electron launcher needs this fuse on; Fovea's tests do not
 *   use it (they drive the renderer in Chromium against the harness).
 * - EnableEmbeddedAsarIntegrityValidation on: Electron checks app.asar against
 *   the hash electron-builder embeds in the executable (Windows) or
 *   Info.plist (macOS); Electron has no such mechanism on Linux, where the
 *   fuse has no effect.
 * - OnlyLoadAppFromAsar on: Electron loads only app.asar, never a loose
 *   resources/app folder someone dropped next to it.
 * - EnableCookieEncryption on: cookies at rest are encrypted with the OS key
 *   store (Fovea sets none today; this keeps it so).
 * - GrantFileProtocolExtraPrivileges off: Fovea serves its UI from fovea://,
 *   never file://, so file: pages need no extra privileges.
 */
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: electron-builder loads its configuration and hooks with require() */

const { existsSync, rmSync } = require('node:fs');
const { join } = require('node:path');

/** The fuses Fovea ships with (names as in @electron/fuses FuseV1Options). */
const FOVEA_FUSES = Object.freeze({
  RunAsNode: false,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  EnableCookieEncryption: true,
  GrantFileProtocolExtraPrivileges: false,
});

/** Fuse states as bytes in the wire (@electron/fuses dist/constants.js FuseState; not exported by its index). */
const FUSE_STATE = Object.freeze({ DISABLE: 0x30, ENABLE: 0x31, REMOVED: 0x72 });

/** The packaged executable that carries the fuse wire (a .app bundle on macOS). */
function electronBinaryPath(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') return join(appOutDir, `${packager.appInfo.productFilename}.app`);
  if (electronPlatformName === 'win32') return join(appOutDir, `${packager.appInfo.productFilename}.exe`);
  return join(appOutDir, packager.executableName);
}

/** { [FuseV1Options index]: boolean } for @electron/fuses. */
function fuseConfig(fuses, FuseVersion, FuseV1Options, extra = {}) {
  const config = { version: FuseVersion.V1, ...extra };
  for (const [name, on] of Object.entries(fuses)) {
    const index = FuseV1Options[name];
    if (typeof index !== 'number') throw new Error(`after-pack: @electron/fuses does not know the fuse ${name}`);
    config[index] = on;
  }
  return config;
}

/**
 * Reads the fuse wire of `binary` and returns the fuses that differ from
 * `fuses` ([] when all match). States are bytes: '1' (49) on, '0' (48) off.
 */
async function fuseMismatches(binary, fuses = FOVEA_FUSES) {
  const { getCurrentFuseWire, FuseV1Options } = require('@electron/fuses');
  const wire = await getCurrentFuseWire(binary);
  const wrong = [];
  for (const [name, on] of Object.entries(fuses)) {
    const actual = wire[FuseV1Options[name]];
    const expected = on ? FUSE_STATE.ENABLE : FUSE_STATE.DISABLE;
    if (actual !== expected) {
      const shown = actual === undefined ? 'absent' : actual === FUSE_STATE.ENABLE ? 'on' : actual === FUSE_STATE.DISABLE ? 'off' : actual === FUSE_STATE.REMOVED ? 'removed' : `state ${actual}`;
      wrong.push(`${name} is ${shown}, expected ${on ? 'on' : 'off'}`);
    }
  }
  return wrong;
}

/** Flips the fuses of the packaged app and verifies them; throws on any mismatch. */
async function flipAndVerifyFuses(context, fuses = FOVEA_FUSES) {
  const { flipFuses, FuseVersion, FuseV1Options } = require('@electron/fuses');
  const { Arch } = require('electron-builder');
  const binary = electronBinaryPath(context);
  if (!existsSync(binary)) throw new Error(`after-pack: the packaged executable is missing: ${binary}`);
  // On Apple silicon a binary must carry a signature; flipping fuses breaks
  // Electron's ad-hoc one, so it is redone (a real signature replaces it later).
  const isMac = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas';
  const resetAdHocDarwinSignature = isMac && (context.arch === Arch.arm64 || context.arch === Arch.universal);
  await flipFuses(binary, fuseConfig(fuses, FuseVersion, FuseV1Options, { resetAdHocDarwinSignature }));
  const wrong = await fuseMismatches(binary, fuses);
  if (wrong.length > 0) throw new Error(`after-pack: fuses not as configured in ${binary}: ${wrong.join('; ')}`);
  console.log(`  • fuses set and verified in ${binary}: ${Object.entries(fuses).map(([n, on]) => `${n}=${on ? 'on' : 'off'}`).join(', ')}`);
}

/**
 * What signing the environment provides, per platform. Only environment
 * variables are read; nothing is taken from the repository.
 *
 * Windows: CSC_LINK + CSC_KEY_PASSWORD (or WIN_CSC_LINK + WIN_CSC_KEY_PASSWORD),
 *   a .pfx/.p12 file path, https URL or base64; or Azure Trusted Signing:
 *   FOVEA_AZURE_ENDPOINT, FOVEA_AZURE_CERT_PROFILE, FOVEA_AZURE_SIGNING_ACCOUNT,
 *   FOVEA_AZURE_PUBLISHER_NAME, with AZURE_TENANT_ID, AZURE_CLIENT_ID and
 *   AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) for Entra ID.
 * macOS: a Developer ID Application identity from CSC_LINK + CSC_KEY_PASSWORD
 *   or CSC_NAME (in the build machine's keychain); notarization (notarytool)
 *   with APPLE_API_KEY + APPLE_API_KEY_ID + APPLE_API_ISSUER, or APPLE_ID +
 *   APPLE_APP_SPECIFIC_PASSWORD + APPLE_TEAM_ID, or APPLE_KEYCHAIN +
 *   APPLE_KEYCHAIN_PROFILE.
 * Linux: FOVEA_GPG_KEY (a key id in the build machine's gpg keyring) signs
 *   SHA256SUMS and the .rpm (dist.mjs).
 */
function signingStatus(env = process.env) {
  const has = (...names) => names.every((n) => typeof env[n] === 'string' && env[n].trim() !== '');
  const winCertificate = has('WIN_CSC_LINK') || has('CSC_LINK');
  const azure = has('FOVEA_AZURE_ENDPOINT', 'FOVEA_AZURE_CERT_PROFILE', 'FOVEA_AZURE_SIGNING_ACCOUNT', 'FOVEA_AZURE_PUBLISHER_NAME');
  const azureCredentials = has('AZURE_TENANT_ID', 'AZURE_CLIENT_ID') && (has('AZURE_CLIENT_SECRET') || has('AZURE_CLIENT_CERTIFICATE_PATH'));
  const macIdentity = has('CSC_LINK') || has('CSC_NAME');
  const notarize =
    has('APPLE_API_KEY', 'APPLE_API_KEY_ID', 'APPLE_API_ISSUER') ||
    has('APPLE_ID', 'APPLE_APP_SPECIFIC_PASSWORD', 'APPLE_TEAM_ID') ||
    has('APPLE_KEYCHAIN', 'APPLE_KEYCHAIN_PROFILE');
  return {
    win: { signed: winCertificate || azure, azure, azureCredentials, certificate: winCertificate },
    mac: { signed: macIdentity, identity: macIdentity, notarize: macIdentity && notarize },
    linux: { signed: has('FOVEA_GPG_KEY'), gpgKey: has('FOVEA_GPG_KEY') ? env.FOVEA_GPG_KEY : null },
  };
}

/** The warnings for `platform` ('win32' | 'darwin' | 'mas' | 'linux'); [] when fully signed. */
function signingWarnings(platform, env = process.env) {
  const s = signingStatus(env);
  if (platform === 'win32') {
    if (!s.win.signed) return ['Windows: NOT CODE-SIGNED. Set CSC_LINK + CSC_KEY_PASSWORD, or the FOVEA_AZURE_* and AZURE_* variables for Azure Trusted Signing.'];
    if (s.win.azure && !s.win.azureCredentials) return ['Windows: Azure Trusted Signing is configured but AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET are not all set; signing will fail.'];
    return [];
  }
  if (platform === 'darwin' || platform === 'mas') {
    if (!s.mac.signed) return ['macOS: NOT SIGNED and NOT NOTARIZED. Set CSC_LINK + CSC_KEY_PASSWORD (Developer ID Application) or CSC_NAME, and APPLE_API_KEY/APPLE_API_KEY_ID/APPLE_API_ISSUER (or APPLE_ID/APPLE_APP_SPECIFIC_PASSWORD/APPLE_TEAM_ID).'];
    if (!s.mac.notarize) return ['macOS: signed but NOT NOTARIZED: Gatekeeper will refuse it on other Macs. Set APPLE_API_KEY/APPLE_API_KEY_ID/APPLE_API_ISSUER (or APPLE_ID/APPLE_APP_SPECIFIC_PASSWORD/APPLE_TEAM_ID).'];
    return [];
  }
  if (!s.linux.signed) return ['Linux: packages and SHA256SUMS are NOT GPG-SIGNED. Set FOVEA_GPG_KEY to a key id in the build machine\'s gpg keyring.'];
  return [];
}

/** A banner nobody scrolls past. */
function loudBanner(lines) {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '#'.repeat(width);
  return ['', bar, ...lines.map((l) => `# ${l.padEnd(width - 4)} #`), bar, ''].join('\n');
}

function printSigningWarnings(platform, env = process.env) {
  const warnings = signingWarnings(platform, env);
  if (warnings.length > 0) console.warn(loudBanner(['UNSIGNED BUILD', ...warnings, 'Do not distribute this build to hospital workstations.']));
  return warnings;
}

async function afterPack(context) {
  await flipAndVerifyFuses(context);
  const resources = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas'
    ? join(electronBinaryPath(context), 'Contents', 'Resources')
    : join(context.appOutDir, 'resources');
  rmSync(join(resources, 'default_app.asar'), { force: true });
  // dist.mjs prints the same banner once at the end; electron-builder run directly gets it here.
  if (process.env.FOVEA_DIST !== '1') printSigningWarnings(context.electronPlatformName);
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.afterPack = afterPack;
module.exports.FOVEA_FUSES = FOVEA_FUSES;
module.exports.FUSE_STATE = FUSE_STATE;
module.exports.electronBinaryPath = electronBinaryPath;
module.exports.fuseMismatches = fuseMismatches;
module.exports.flipAndVerifyFuses = flipAndVerifyFuses;
module.exports.signingStatus = signingStatus;
module.exports.signingWarnings = signingWarnings;
module.exports.loudBanner = loudBanner;
module.exports.printSigningWarnings = printSigningWarnings;
