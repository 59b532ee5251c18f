/**
 * known_hosts as OpenSSH reads it: plain or hashed (`|1|salt|hmac`) host patterns, `[host]:port`
 * for ports other than 22, `*`/`?` wildcards, `!negation`, and `@revoked` markers. node-ssh accepts
 * any host key unless told otherwise (FACTS.md), so this is what stands between us and a MITM.
 */
import { createHash, createHmac } from 'node:crypto';

export interface KnownKey {
  readonly type: string;
  readonly key: Buffer;
  readonly revoked: boolean;
}

/** `SHA256:...` exactly as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise, lowercased as ssh does
 * before matching or hashing (so a hashed entry matches `Web-1.Example.com` as `web-1.example.com`).
 */
export function hostEntryName(address: string, port: number): string {
  const host = address.toLowerCase();
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  const [, kind, salt, hmac] = pattern.split('|');
  if (kind !== '1' || !salt || !hmac) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hmac;
}

function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let matched = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

/** Keys recorded for `address:port`, in file order. */
export function keysFor(knownHosts: string, address: string, port: number): KnownKey[] {
  const name = hostEntryName(address, port);
  const out: KnownKey[] = [];
  for (const rawLine of knownHosts.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith('@')) marker = fields.shift();
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || marker === '@cert-authority') continue;
    if (hostsMatch(hosts, name)) out.push({ type, key: Buffer.from(b64, 'base64'), revoked: marker === '@revoked' });
  }
  return out;
}

export type Verdict = { ok: true } | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked'; known: string[] };

/** Compare the key a host presented with known_hosts. */
export function checkHostKey(knownHosts: string, address: string, port: number, presented: Buffer): Verdict {
  const keys = keysFor(knownHosts, address, port);
  if (keys.some((k) => k.revoked && k.key.equals(presented))) return { ok: false, reason: 'revoked', known: [] };
  const live = keys.filter((k) => !k.revoked);
  if (live.some((k) => k.key.equals(presented))) return { ok: true };
  return { ok: false, reason: live.length ? 'mismatch' : 'unknown', known: live.map((k) => `${k.type} ${fingerprint(k.key)}`) };
}

/** The line to append for accept-new: `[host]:port type base64`. */
export function knownHostsLine(address: string, port: number, presented: Buffer): string {
  const type = presented.subarray(4, 4 + presented.readUInt32BE(0)).toString('ascii');
  return `${hostEntryName(address, port)} ${type} ${presented.toString('base64')}\n`;
}
