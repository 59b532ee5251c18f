import { describe, expect, it } from 'vitest';
import { git } from '../../tasks/lib/commands/git.ts';
import { parseWhich, whichCommands } from '../../tasks/lib/commands/host.ts';
import { pg } from '../../tasks/lib/commands/pg.ts';
import { systemd } from '../../tasks/lib/commands/systemd.ts';

describe('command builders (exact strings)', () => {
  it('git', () => {
    expect(git.isWorkTree('/home/ec2-user/harena').script).toBe('git -C /home/ec2-user/harena rev-parse --is-inside-work-tree');
    expect(git.currentTag('/srv/a b').script).toBe(`git -C '/srv/a b' describe --tags --exact-match --end-of-options HEAD`);
    expect(git.headCommit('/srv/app').script).toBe('git -C /srv/app rev-parse --verify --end-of-options HEAD');
    expect(git.remoteHasTag('/srv/app', 'v3.2.7').script).toBe('git -C /srv/app ls-remote --exit-code --tags origin refs/tags/v3.2.7');
    expect(git.currentTag('/x').readOnly).toBe(true);
  });

  it('systemd, with and without sudo', () => {
    expect(systemd.unitExists('conversation-service', true).script).toBe('sudo -n systemctl cat -- conversation-service >/dev/null');
    expect(systemd.unitExists('demo-chat', false).script).toBe('systemctl cat -- demo-chat >/dev/null');
    expect(systemd.isActive(['a', 'b']).script).toBe('systemctl is-active -- a b');
    expect(systemd.restart(['conversation-service', 'search-service'], true).script).toBe(
      'sudo -n systemctl restart -- conversation-service search-service',
    );
    expect(systemd.restart(['x'], true).readOnly).toBeUndefined();
  });

  it('which', () => {
    expect(whichCommands(['git', 'pg_dump']).script).toBe(
      `for c in git pg_dump; do printf '%s\\t%s\\n' "$c" "$(command -v -- "$c" || true)"; done`,
    );
    expect([...parseWhich('git\t/usr/bin/git\npg_dump\t\n')]).toEqual([
      ['git', '/usr/bin/git'],
      ['pg_dump', null],
    ]);
  });

  it('pg: the password goes on stdin and is masked, never in the script', () => {
    const db = { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena' };
    const c = pg.serverVersion(db, 's3cr3t pass');
    expect(c.script).toBe(`IFS= read -r PGPASSWORD && export PGPASSWORD && psql -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U harena -d harena -Atc 'show server_version'`);
    expect(c.stdin).toBe('s3cr3t pass\n');
    expect(c.redact).toEqual(['s3cr3t pass']);
    expect(pg.serverVersion(db).script).toBe(`psql -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U harena -d harena -Atc 'show server_version'`);
    expect(pg.serverVersion(db).stdin).toBeUndefined();
  });
});

import { appCommand, pgEnv } from '../../tasks/lib/commands/app.ts';
import { git as g2 } from '../../tasks/lib/commands/git.ts';
import { releaseDirName, releasePaths, releases, releasesToPrune, tagOfRelease } from '../../tasks/lib/commands/releases.ts';

const C1 = '0123456789abcdef0123456789abcdef01234567';

describe('release builders (exact strings)', () => {
  it('in-place git', () => {
    expect(g2.fetchTags('/home/ec2-user/harena').script).toBe('git -C /home/ec2-user/harena fetch --quiet --tags origin');
    expect(g2.checkout('/srv/app', 'v3.2.7').script).toBe(
      `git -C /srv/app -c advice.detachedHead=false checkout --quiet --detach 'refs/tags/v3.2.7^{commit}'`,
    );
    expect(g2.checkoutTag('/srv/app', 'v3.2.7').script).toBe(g2.checkout('/srv/app', 'v3.2.7').script);
    expect(g2.checkout('/srv/app', C1, false).script).toBe(`git -C /srv/app -c advice.detachedHead=false checkout --quiet --detach ${C1}`);
    expect(g2.checkoutCommit('/srv/app', C1).script).toBe(g2.checkout('/srv/app', C1, false).script);
    expect(g2.log('/srv/app', C1, 'v3.2.7').script).toBe(`git -C /srv/app log --oneline --no-decorate --end-of-options ${C1}..refs/tags/v3.2.7 --`);
    expect(g2.dirtyFiles('/srv/app').script).toBe('git -C /srv/app status --porcelain --untracked-files=no');
    expect(g2.changedFiles('/srv/app', C1, 'v2', 'migrations').script).toBe(
      `git -C /srv/app diff --name-only --diff-filter=AM --end-of-options ${C1} refs/tags/v2 -- migrations`,
    );
  });

  it('git: a revision read from a host is a full commit id; a tag never reads as an option', () => {
    for (const from of ['v3.2.6', '0123abcd', `${C1}\n`, '--output=x', C1.toUpperCase()]) expect(() => g2.checkoutCommit('/srv/app', from), from).toThrow('not a full commit id');
    // the deployed revision: a commit id only, never a name read from the host (not even a valid-looking tag)
    for (const from of ['--output=x', '-v', `${C1}\n`, 'a b', 'v1..2', 'v3.2.6']) {
      expect(() => g2.log('/srv/app', from, 'v2'), from).toThrow('not a full commit id (40 hexadecimal digits)');
      expect(() => g2.changedFiles('/srv/app', from, 'v2', 'm'), from).toThrow('not a full commit id (40 hexadecimal digits)');
    }
    for (const tag of ['--output=x', '-v', 'a b', 'v1..2']) {
      expect(() => g2.checkoutTag('/srv/app', tag), tag).toThrow(`tag ${JSON.stringify(tag)}`);
      expect(() => g2.log('/srv/app', C1, tag), tag).toThrow(`tag ${JSON.stringify(tag)}`);
      expect(() => g2.remoteHasTag('/srv/app', tag), tag).toThrow(`tag ${JSON.stringify(tag)}`);
    }
  });

  it('releases strategy', () => {
    const p = releasePaths('/srv/app');
    expect(releases.switchTo(p, '20261121T211500Z_v1.1.0').script).toBe(
      'ln -sfn releases/20261121T211500Z_v1.1.0 /srv/app/current.new && mv -T /srv/app/current.new /srv/app/current',
    );
    expect(releases.add(p, 'D', 'v1.1.0').script).toBe(`git -C /srv/app/repo worktree add --quiet --detach /srv/app/releases/D 'refs/tags/v1.1.0^{commit}'`);
    expect(releases.prepareRepo(p, 'git@example.com:a/b.git').script).toBe(
      `mkdir -p /srv/app/releases && { [ -d /srv/app/repo ] || git clone --quiet --bare git@example.com:a/b.git /srv/app/repo; } && git -C /srv/app/repo fetch --quiet --tags git@example.com:a/b.git '+refs/tags/*:refs/tags/*'`,
    );
    expect(releases.remove(p, ['a', 'b']).script).toBe(
      'git -C /srv/app/repo worktree remove --force /srv/app/releases/a && git -C /srv/app/repo worktree remove --force /srv/app/releases/b && git -C /srv/app/repo worktree prune',
    );
    expect(releaseDirName('v1.1.0', new Date('2026-11-21T21:15:00.123Z'))).toBe('20261121T211500Z_v1.1.0');
    expect(tagOfRelease('20261121T211500Z_v1.1.0')).toBe('v1.1.0');
    expect(releasesToPrune(['3_c', '1_a', '2_b', '4_d'], '4_d', 2)).toEqual(['1_a', '2_b']);
    expect(releasesToPrune(['1_a', '2_b', '3_c'], '1_a', 2)).toEqual(['2_b']);
    expect(releasesToPrune(['1_a'], '1_a', 2)).toEqual([]);
  });

  it('app commands: cd && (password on stdin) && exports && the command, verbatim', () => {
    const db = { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena' };
    const c = appCommand('/srv/my app', 'source env/bin/activate && alembic upgrade head', { ...pgEnv(db), NOTE: "it's" }, 'pw');
    expect(c.script).toBe(
      `cd '/srv/my app' && IFS= read -r PGPASSWORD && export PGPASSWORD && export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=harena PGDATABASE=harena NOTE='it'\\''s' && source env/bin/activate && alembic upgrade head`,
    );
    expect(c.stdin).toBe('pw\n');
    expect(appCommand('/srv/app', 'bash install.sh').script).toBe('cd /srv/app && bash install.sh');
  });
});
