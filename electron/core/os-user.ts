/**
 * The one answer to "who is using Fovea": the audit log's actor, the
 * annotator under IT's annotatorFromOsUser, the CLI's default label author.
 *
 * From the OS account database (os.userInfo), never from USER/USERNAME: a
 * user can set those to anything, and the audit log and a locked annotator
 * name must not be spoofable that way. When the account database has no
 * entry for this process (a container running under an unnamed uid),
 * userInfo throws; the fallback is the numeric uid ("uid 1000"), which is
 * still the account's, or "unknown user" where the OS has no uids (Windows
 * always has a user name).
 */
import { userInfo } from 'node:os';

export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'unknown user';
  }
}
