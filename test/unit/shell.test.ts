import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { and, command, display, inDir, killTagged, quote, raw, sh, wrapForBash } from '../../tasks/lib/commands/shell.ts';

const nasty = ["it's", 'a b', '$(rm -rf /)', '`id`', 'semi;colon', 'new\nline', '', '--', 'ünï', '"dq"', '\\back', '*', 'a\'b"c$d'];

describe('quote', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(quote('v1.2.3')).toBe('v1.2.3');
    expect(quote('/home/ec2-user/harena')).toBe('/home/ec2-user/harena');
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('a b')).toBe(`'a b'`);
    expect(quote('')).toBe(`''`);
    expect(quote('$(id)')).toBe(`'$(id)'`);
  });

  it('round-trips every value through a real bash exactly once', () => {
    for (const v of nasty) {
      const out = execFileSync('bash', ['-c', `printf %s ${quote(v)}`], { encoding: 'utf8' });
      expect(out).toBe(v);
    }
  });

  it('survives the transport wrapping too (what the SSH and local runners send)', () => {
    for (const v of nasty) {
      const wire = wrapForBash(command(sh`printf %s ${v}`));
      const out = execFileSync('bash', ['-c', wire], { encoding: 'utf8' });
      expect(out).toBe(v);
    }
  });
});

describe('sh', () => {
  it('quotes each value once, arrays as several words, fragments verbatim', () => {
    expect(sh`git -C ${'/srv/my app'} checkout ${'v1.0.0'}`.text).toBe(`git -C '/srv/my app' checkout v1.0.0`);
    expect(sh`systemctl restart -- ${['a', 'b c']}`.text).toBe(`systemctl restart -- a 'b c'`);
    expect(sh`x ${raw('| y')} ${3}`.text).toBe('x | y 3');
    expect(sh`echo ${sh`${"it's"}`}`.text).toBe(`echo 'it'\\''s'`);
  });

  it('never builds `cd dir ; cmd`', () => {
    expect(inDir('/srv/app', sh`git status`).text).toBe('cd /srv/app && git status');
    expect(and(sh`a`, sh`b`, sh`c`).text).toBe('a && b && c');
  });

  it('wraps for bash with pipefail, the script as one argument', () => {
    expect(wrapForBash(command(sh`pg_dump x | gzip`))).toBe(`bash -o pipefail -c 'pg_dump x | gzip'`);
    const r = execFileSync('bash', ['-c', `${wrapForBash(command(raw('false | true')))}; echo $?`], { encoding: 'utf8' });
    expect(r.trim()).toBe('1');
  });

  it('tags a command so its processes can be stopped by the tag', () => {
    expect(wrapForBash(command(raw('sleep 1')), 'cutover-00ff')).toBe(`bash -o pipefail -c 'sleep 1' cutover-00ff`);
    expect(killTagged('cutover-00ff').script).toBe(
      `g=$(for p in $(pgrep -f -- '[c]utover-00ff'); do ps -o pgid= -p "$p"; done | sort -u); [ -z "$g" ] && exit 0; for x in $g; do kill -TERM -- "-$x" 2>/dev/null; done; sleep 1; for x in $g; do kill -KILL -- "-$x" 2>/dev/null; done; exit 0`,
    );
    expect(() => killTagged("x'; rm -rf /")).toThrow('not a command tag');
  });

  it('masks secrets when a command is shown', () => {
    expect(display(command(sh`psql ${'postgres://u:hunter22@h/db'}`, { redact: ['hunter22'] }))).toBe(`psql postgres://u:***@h/db`);
  });
});
