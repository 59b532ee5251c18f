/**
 * The host key check of every SSH connection (targets and jump hosts alike): known_hosts as
 * OpenSSH reads it, `accept-new` recording an unknown host, anything else refused with the next
 * action. ssh2 accepts any host key unless told otherwise: this stands between us and a MITM.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { HostKeyError } from '../base/errors.ts';
import { checkHostKey, fingerprint, hostEntryName, knownHostsLine } from './known-hosts.ts';

export interface HostKeyPolicy {
  /** Checked, and where `accept-new` records an unknown host. */
  readonly knownHostsPath: string;
  /** Read too (UserKnownHostsFile may name several files); never written. */
  readonly moreKnownHosts?: readonly string[];
  readonly hostKeys: 'verify' | 'accept-new';
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // a missing file is "unknown host", reported by the caller
  }
}

/**
 * null when `key` is the one known for address:port (or was just recorded under accept-new); else
 * the error to throw. `who` names the connection in the message (`web-1`, `jump host bastion`).
 */
export function verifyHostKey(who: string, address: string, port: number, key: Buffer, p: HostKeyPolicy): HostKeyError | null {
  const files = [p.knownHostsPath, ...(p.moreKnownHosts ?? [])];
  // each file on its own lines: a file without a final newline must not glue its last entry to the next file's first
  const known = files.map(read).join('\n');
  const v = checkHostKey(known, address, port, key);
  if (v.ok) return null;
  const name = hostEntryName(address, port);
  const fp = fingerprint(key);
  if (v.reason === 'unknown' && p.hostKeys === 'accept-new') {
    const current = read(p.knownHostsPath);
    // appended to a file whose last line has no newline, the entry would be glued to it: both unreadable
    const sep = current.length > 0 && !current.endsWith('\n') ? '\n' : '';
    appendFileSync(p.knownHostsPath, sep + knownHostsLine(address, port, key), { mode: 0o600 });
    return null;
  }
  if (v.reason === 'unknown')
    return new HostKeyError(
      who,
      `host key of ${name} (${fp}) is not in ${files.join(', ')}. Check the fingerprint with the host's owner, then add it: ssh-keyscan -p ${port} ${address} >> ${p.knownHostsPath}`,
    );
  return new HostKeyError(
    who,
    `HOST KEY ${v.reason === 'revoked' ? 'REVOKED' : 'MISMATCH'} for ${name}: it presented ${fp}, ${files.join(', ')} has ${v.known.join(', ') || 'it marked @revoked'}. ` +
      `Someone may be intercepting the connection, or the host was rebuilt. Do not go on until you know which; then update the entry (ssh-keygen -R '${name}' -f ${p.knownHostsPath}).`,
  );
}
