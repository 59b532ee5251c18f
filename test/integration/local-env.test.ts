// Local commands get PATH (with the host's prefix), who and where they are, their language and
// time zone: never the rest of this process's environment (`.env` secrets, cloud credentials).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { LocalRunner, localEnv, thisMachine } from '../../tasks/lib/runners/local.ts';

const SECRET = 'CUTOVER_TEST_DB_PASSWORD';

afterEach(() => {
  delete process.env[SECRET];
  delete process.env.AWS_SECRET_ACCESS_KEY;
});

describe('the environment of a local command', () => {
  it('a secret set in this process (as .env sets it) does not reach the command', async () => {
    process.env[SECRET] = 'hunter2-from-dotenv';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const r = new LocalRunner({ name: 'h', address: '127.0.0.1', port: 22, user: 'u' }, ['/opt/host/bin']);
    const out = await r.exec(command(raw('env')));
    expect(out.code).toBe(0);
    expect(out.stdout).not.toContain('hunter2-from-dotenv');
    expect(out.stdout).not.toContain(SECRET);
    expect(out.stdout).not.toContain('AWS_SECRET_ACCESS_KEY');
    const vars = Object.fromEntries(out.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(vars.PATH!.startsWith('/opt/host/bin:')).toBe(true);
    expect(vars.HOME).toBe(process.env.HOME);
    // what bash itself adds (PWD, SHLVL, _) aside, only the variables passed on purpose
    const ours = Object.keys(vars).filter((k) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(k));
    for (const k of ours) expect(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'TMPDIR', 'NO_COLOR'].includes(k) || k.startsWith('LC_'), k).toBe(true);
    // the same for commands on this machine (pg_restore checks, local dumps)
    expect((await thisMachine().exec(command(raw(`echo "[\${${SECRET}:-}]"`)))).stdout).toBe('[]\n');
  });

  it('a command sets what it needs in its own script', async () => {
    process.env[SECRET] = 'x';
    const r = new LocalRunner({ name: 'h', address: '127.0.0.1', port: 22, user: 'u' });
    expect((await r.exec(command(raw('export PGHOST=db && echo "$PGHOST"')))).stdout).toBe('db\n');
  });

  it('a command given no input finds its stdin closed, as over SSH (a `read` answers at once, never waits)', async () => {
    const r = new LocalRunner({ name: 'h', address: '127.0.0.1', port: 22, user: 'u' });
    const res = await r.exec(command(raw('IFS= read -r x; echo "read=$? [$x]"')), { timeoutMs: 10_000 });
    expect(res).toMatchObject({ code: 0, stdout: 'read=1 []\n' });
    expect((await r.exec(command(raw('IFS= read -r x; echo "[$x]"'), { stdin: 'pw\n' }))).stdout).toBe('[pw]\n');
  });

  it('a command that exits without reading its input is no error for this process (the broken pipe is ignored, its exit code told)', async () => {
    const r = new LocalRunner({ name: 'h', address: '127.0.0.1', port: 22, user: 'u' });
    // 4 MiB is more than a pipe holds: the write meets a closed pipe (EPIPE), which was uncaught
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => r.exec(command(raw(`exit ${i % 2}`), { stdin: 'x'.repeat(4 << 20) }))));
    expect(results.map((x) => x.code)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect((await Promise.all(Array.from({ length: 8 }, () => r.exec(command(raw('true')))))).every((x) => x.code === 0)).toBe(true);
  });

  it('an abort that comes while the runner is still getting ready: the command never starts', async () => {
    const r = new LocalRunner({ name: 'h', address: '127.0.0.1', port: 22, user: 'u' });
    const marker = join(mkdtempSync(join(tmpdir(), 'cutover-abort-')), 'ran');
    const ac = new AbortController();
    const run = r.exec(command(raw(`touch ${marker}`)), { signal: ac.signal });
    ac.abort(); // exec is past its first check and waiting for zx: this abort was lost, and the command ran
    expect(await run).toMatchObject({ code: null, error: 'aborted before it started' });
    await new Promise((done) => setTimeout(done, 300));
    expect(existsSync(marker)).toBe(false);
  });

  it('localEnv: the list, LC_* included, PATH prefixed (pure)', () => {
    expect(localEnv({ PATH: '/usr/bin', HOME: '/root', LC_ALL: 'C.UTF-8', TZ: 'UTC', TOKEN: 't', GITHUB_TOKEN: 'g' }, ['/a', '/b'])).toEqual({
      PATH: '/a:/b:/usr/bin', HOME: '/root', LC_ALL: 'C.UTF-8', TZ: 'UTC',
    });
    expect(localEnv({}, []).PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });
});
