import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHostKey, fingerprint, hostEntryName, keysFor, knownHostsLine } from '../../tasks/lib/runners/known-hosts.ts';
import { verifyHostKey } from '../../tasks/lib/runners/host-key.ts';

/** A real ed25519 key made by ssh-keygen: its blob and the fingerprint ssh-keygen prints. */
function realKey(): { blob: Buffer; line: string; fp: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kh-'));
  const file = path.join(dir, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  const fp = execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line, fp };
}

describe('known_hosts', () => {
  const a = realKey();
  const b = realKey();
  const b64 = (k: Buffer) => k.toString('base64');

  it('fingerprints exactly as ssh-keygen -lf', () => {
    expect(fingerprint(a.blob)).toBe(a.fp);
  });

  it('names hosts as OpenSSH does', () => {
    expect(hostEntryName('203.0.113.5', 22)).toBe('203.0.113.5');
    expect(hostEntryName('127.0.0.5', 2222)).toBe('[127.0.0.5]:2222');
  });

  it('accepts the recorded key, refuses a different one as a mismatch, an absent host as unknown', () => {
    const file = `[127.0.0.5]:2222 ssh-ed25519 ${b64(a.blob)}\n203.0.113.5 ssh-ed25519 ${b64(b.blob)}\n`;
    expect(checkHostKey(file, '127.0.0.5', 2222, a.blob)).toEqual({ ok: true });
    expect(checkHostKey(file, '127.0.0.5', 2222, b.blob)).toEqual({ ok: false, reason: 'mismatch', known: [`ssh-ed25519 ${a.fp}`] });
    expect(checkHostKey(file, '127.0.0.5', 22, a.blob)).toEqual({ ok: false, reason: 'unknown', known: [] });
    expect(checkHostKey(file, '203.0.113.5', 22, b.blob)).toEqual({ ok: true });
  });

  it('reads hashed entries, patterns, negation, comments and @revoked', () => {
    const salt = randomBytes(20);
    const hmac = createHmac('sha1', salt).update('[10.9.8.7]:2200').digest('base64');
    const file = [
      '# comment',
      `|1|${salt.toString('base64')}|${hmac} ssh-ed25519 ${b64(a.blob)}`,
      `*.example.com,!bad.example.com ssh-ed25519 ${b64(b.blob)}`,
      `@revoked * ssh-ed25519 ${b64(b.blob)}`,
      `@cert-authority * ssh-ed25519 ${b64(a.blob)}`,
    ].join('\n');
    expect(keysFor(file, '10.9.8.7', 2200).map((k) => k.revoked)).toEqual([false, true]);
    expect(checkHostKey(file, '10.9.8.7', 2200, a.blob)).toEqual({ ok: true });
    expect(checkHostKey(file, 'web.example.com', 22, b.blob)).toEqual({ ok: false, reason: 'revoked', known: [] });
    expect(keysFor(file, 'bad.example.com', 22).filter((k) => !k.revoked)).toEqual([]);
  });

  it('writes a line OpenSSH reads back', () => {
    const line = knownHostsLine('127.0.0.9', 2022, a.blob);
    expect(line).toBe(`[127.0.0.9]:2022 ssh-ed25519 ${b64(a.blob)}\n`);
    expect(checkHostKey(line, '127.0.0.9', 2022, a.blob)).toEqual({ ok: true });
  });

  it('matches hashed entries as OpenSSH does: the host name lowercased before hashing', () => {
    const salt = randomBytes(20);
    // what `ssh-keygen -H` writes for `web-1.example.com` (ssh lowercases the name it was given first)
    const hmac = createHmac('sha1', salt).update('web-1.example.com').digest('base64');
    const file = `|1|${salt.toString('base64')}|${hmac} ssh-ed25519 ${b64(a.blob)}\n`;
    expect(checkHostKey(file, 'web-1.example.com', 22, a.blob)).toEqual({ ok: true });
    expect(checkHostKey(file, 'Web-1.Example.COM', 22, a.blob)).toEqual({ ok: true });
    expect(checkHostKey(`WEB-1.example.com ssh-ed25519 ${b64(a.blob)}\n`, 'web-1.EXAMPLE.com', 22, a.blob)).toEqual({ ok: true });
    expect(hostEntryName('Web-1.Example.com', 2222)).toBe('[web-1.example.com]:2222');
  });

  it('matches a hashed entry ssh-keygen -H made', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kh-'));
    const file = path.join(dir, 'known_hosts');
    writeFileSync(file, `[db-2.example.com]:2200 ${a.line.split(' ').slice(0, 2).join(' ')}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const hashed = readFileSync(file, 'utf8');
    expect(hashed.startsWith('|1|')).toBe(true);
    expect(checkHostKey(hashed, 'DB-2.example.com', 2200, a.blob)).toEqual({ ok: true });
    expect(checkHostKey(hashed, 'db-2.example.com', 22, a.blob).ok).toBe(false);
  });
});

describe('accept-new', () => {
  const a = realKey();
  const b = realKey();
  const b64 = (k: Buffer) => k.toString('base64');
  const policy = (knownHostsPath: string) => ({ knownHostsPath, hostKeys: 'accept-new' as const });

  it('appends on a line of its own to a file that does not end with a newline', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'kh-')), 'known_hosts');
    writeFileSync(file, `[127.0.0.5]:2222 ssh-ed25519 ${b64(a.blob)}`); // no final newline
    expect(verifyHostKey('web-2', '127.0.0.6', 2222, b.blob, policy(file))).toBeNull();
    const after = readFileSync(file, 'utf8');
    expect(after).toBe(`[127.0.0.5]:2222 ssh-ed25519 ${b64(a.blob)}\n[127.0.0.6]:2222 ssh-ed25519 ${b64(b.blob)}\n`);
    // both entries still read back: the old host is not "changed", the new one not "unknown"
    expect(verifyHostKey('web-1', '127.0.0.5', 2222, a.blob, { knownHostsPath: file, hostKeys: 'verify' })).toBeNull();
    expect(verifyHostKey('web-2', '127.0.0.6', 2222, b.blob, { knownHostsPath: file, hostKeys: 'verify' })).toBeNull();
    // ssh-keygen reads it the same way
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.5]:2222', '-f', file], { encoding: 'utf8' })).toContain(b64(a.blob));
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.6]:2222', '-f', file], { encoding: 'utf8' })).toContain(b64(b.blob));
  });

  it('records into an empty or missing file, and still refuses a changed key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kh-'));
    const file = path.join(dir, 'missing');
    expect(verifyHostKey('web-1', '127.0.0.5', 22, a.blob, policy(file))).toBeNull();
    expect(readFileSync(file, 'utf8')).toBe(`127.0.0.5 ssh-ed25519 ${b64(a.blob)}\n`);
    expect(verifyHostKey('web-1', '127.0.0.5', 22, b.blob, policy(file))?.message).toContain('HOST KEY MISMATCH for 127.0.0.5');
    expect(readFileSync(file, 'utf8')).toBe(`127.0.0.5 ssh-ed25519 ${b64(a.blob)}\n`);
  });
});
