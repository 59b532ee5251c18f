/**
 * Several local hosts on one machine: a LocalRunner with `mount` runs each command in its own mount
 * namespace with the host's folder at the shared path (real unshare and mount; CI runs as root).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, sh } from '../../tasks/lib/commands/shell.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { mountNamespaceArgv } from '../../tasks/lib/runners/mount-namespace.ts';

const exec = promisify(execFile);
let dir = '';
let shared = '';
const mountOf = (name: string) => ({ source: path.join(dir, name, 'srv'), target: shared });
const target = (name: string) => ({ name, address: '127.0.0.1', port: 22, user: 'root' });

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-mount-'));
  shared = path.join(dir, 'srv');
  mkdirSync(shared);
  for (const h of ['a', 'b']) {
    mkdirSync(path.join(dir, h, 'srv'), { recursive: true });
    writeFileSync(path.join(dir, h, 'srv', 'who'), `host ${h}\n`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LocalRunner with a mount', () => {
  it('each host sees its own folder at the shared path; without a mount it is the empty folder of this machine', async () => {
    const a = new LocalRunner(target('a'), [], mountOf('a'));
    const b = new LocalRunner(target('b'), [], mountOf('b'));
    const cmd = { script: sh`cat ${path.join(shared, 'who')}`.text };
    const [ra, rb] = await Promise.all([a.exec(cmd), b.exec(cmd)]);
    expect([ra.code, ra.stdout]).toEqual([0, 'host a\n']);
    expect([rb.code, rb.stdout]).toEqual([0, 'host b\n']);
    const plain = await new LocalRunner(target('plain')).exec(cmd);
    expect(plain.code).not.toBe(0);
    expect(existsSync(path.join(shared, 'who'))).toBe(false); // nothing leaked onto this machine's view
  });

  it('what a command starts in the background keeps the host\'s view after the command returned', async () => {
    const a = new LocalRunner(target('a'), [], mountOf('a'));
    const out = path.join(dir, 'seen-by-daemon');
    const r = await a.exec({ script: sh`setsid -f /bin/sh -c ${raw(`'sleep 0.2; cat "$0" > "$1.tmp" && mv "$1.tmp" "$1"'`)} ${path.join(shared, 'who')} ${out} </dev/null >/dev/null 2>&1`.text });
    expect(r.code).toBe(0);
    for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((res) => setTimeout(res, 50));
    expect(readFileSync(out, 'utf8')).toBe('host a\n');
  });

  it('writes through the shared path land in the host\'s own folder; stdin, exit codes and stderr pass through', async () => {
    const b = new LocalRunner(target('b'), [], mountOf('b'));
    const r = await b.exec({ script: sh`cat > ${path.join(shared, 'note')} && echo done && echo oops >&2 && exit 7`.text, stdin: 'from stdin' });
    expect([r.code, r.stdout, r.stderr]).toEqual([7, 'done\n', 'oops\n']);
    expect(readFileSync(path.join(dir, 'b', 'srv', 'note'), 'utf8')).toBe('from stdin');
  });

  for (const kind of ['root', 'user'] as const) {
    it(`the ${kind} form of the namespace runs for real`, async () => {
      const [bin, ...args] = mountNamespaceArgv(mountOf('a'), kind);
      const r = await exec(bin!, [...args, 'cat', path.join(shared, 'who')]);
      expect(r.stdout).toBe('host a\n');
    });
  }

  it('a mount that cannot be made exits 125, naming why', async () => {
    const bad = new LocalRunner(target('x'), [], { source: path.join(dir, 'missing'), target: shared });
    const r = await bad.exec({ script: 'echo never' });
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('missing');
  });
});
