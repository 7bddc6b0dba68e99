/**
 * Detects a library location on a network file system, where SQLite's WAL
 * mode is unsafe (its shared-memory index does not work across hosts).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';

const NETWORK_FS_TYPES = new Set([
  'nfs', 'nfs4', 'cifs', 'smbfs', 'smb3', 'ncpfs', 'afs', 'fuse.sshfs', 'sshfs', '9p', 'davfs', 'fuse.davfs2',
  'glusterfs', 'fuse.glusterfs', 'ceph', 'fuse.ceph', 'lustre', 'gpfs', 'fuse.s3fs', 'fuse.rclone',
]);

/** The type of network file system `dir` lives on, or null if it is local (or unknown). */
export function detectNetworkFileSystem(dir: string, platform: NodeJS.Platform = process.platform): string | null {
  const abs = resolve(dir);
  if (platform === 'win32' || /^\\\\/.test(dir)) {
    // UNC paths (\\server\share) are network locations.
    return /^\\\\(?![?.]\\)/.test(dir) ? 'SMB share' : null;
  }
  if (platform !== 'linux') return null;
  let mounts: string;
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return null;
  }
  let target = abs;
  // The folder may not exist yet: walk up to the nearest existing ancestor.
  for (;;) {
    try {
      target = realpathSync(target);
      break;
    } catch {
      const parent = resolve(target, '..');
      if (parent === target) break;
      target = parent;
    }
  }
  let best: { mount: string; type: string } | null = null;
  for (const line of mounts.split('\n')) {
    const parts = line.split(' ');
    if (parts.length < 3) continue;
    const mount = (parts[1] ?? '').replace(/\\040/g, ' ');
    const type = parts[2] ?? '';
    const inside = target === mount || target.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (inside && (!best || mount.length > best.mount.length)) best = { mount, type };
  }
  return best && NETWORK_FS_TYPES.has(best.type) ? best.type : null;
}
