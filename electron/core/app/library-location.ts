/**
 * Where the library lives: --library DIR, else FOVEA_LIBRARY, else the OS's
 * per-user application-data folder. The Electron shell and the CLI use this
 * same function so that both open the same library by default.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function defaultLibraryDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  if (platform === 'win32') return join(env['APPDATA'] ?? join(home, 'AppData', 'Roaming'), 'Fovea', 'library');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Fovea', 'library');
  return join(env['XDG_DATA_HOME'] || join(home, '.local', 'share'), 'Fovea', 'library');
}

export function resolveLibraryDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env['FOVEA_LIBRARY']) return resolve(env['FOVEA_LIBRARY']);
  return defaultLibraryDir();
}
