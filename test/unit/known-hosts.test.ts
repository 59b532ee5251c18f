import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHostKey, fingerprint, hostEntryName, keysFor, knownHostsLine } from '../../tasks/lib/runners/known-hosts.ts';

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
});
