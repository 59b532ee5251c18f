import { describe, expect, it } from 'vitest';
import { git } from '../../tasks/lib/commands/git.ts';
import { preflightScript } from '../../tasks/lib/commands/preflight.ts';
import { parseSections, sectioned } from '../../tasks/lib/commands/sections.ts';
import { raw } from '../../tasks/lib/commands/shell.ts';

describe('sections: several reads in one command', () => {
  it('builds each section in a subshell with stdin from /dev/null, between markers', () => {
    expect(sectioned([{ name: 'which', body: raw('command -v git') }, { name: 'unit:0', body: raw('exit 3') }]).text).toBe(
      `printf '\\036%s\\n' which\n(\ncommand -v git\n) </dev/null\nprintf '\\n\\036=%s %s\\n' which "$?"\n` +
        `printf '\\036%s\\n' unit:0\n(\nexit 3\n) </dev/null\nprintf '\\n\\036=%s %s\\n' unit:0 "$?"`,
    );
    expect(() => sectioned([{ name: 'a b', body: raw('true') }])).toThrow(/not a section name/);
  });

  it('parses what bash printed: output without the added newline, the exit code; a cut section is left out', () => {
    const text = '\x1ewhich\ngit\t/usr/bin/git\n\n\x1e=which 0\n\x1eunit:0\nNo files found\n\x1e=unit:0 1\n\x1eempty\n\n\x1e=empty 0\n\x1ecut\npartial\n';
    const s = parseSections(text);
    expect(s.get('which')).toEqual({ out: 'git\t/usr/bin/git', code: 0 });
    expect(s.get('unit:0')).toEqual({ out: 'No files found', code: 1 });
    expect(s.get('empty')).toEqual({ out: '', code: 0 });
    expect(s.has('cut')).toBe(false);
  });
});

describe('the host preflight: one command (exact string)', () => {
  const spec = {
    commands: ['bash', 'git'],
    units: [
      { unit: 'conversation-service', sudo: true },
      { unit: 'search-service', sudo: false },
    ],
    statusCommands: ['pgrep -f worker'],
    deployed: { workTree: '/srv/app', dirty: true },
    remoteTag: { tag: 'v3.2.7', dir: '/srv/app' },
    plan: { workTree: '/srv/app', gitDir: '/srv/app', tag: 'v3.2.7', migrationsDir: 'migrations' },
    state: { dir: '/srv/.cutover/app', history: 'exists' as const },
    db: { target: { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena' }, password: 's3cr3t' },
  };

  it('every section, the database last with its password read from stdin just before (masked), the fetch making it a changing command', () => {
    const c = preflightScript({ ...spec, fetch: git.fetchTags('/srv/app') });
    expect(c.script).toBe(`printf '\\036%s\\n' which
(
for c in bash git; do printf '%s\\t%s\\n' "$c" "$(command -v -- "$c" || true)"; done
) </dev/null
printf '\\n\\036=%s %s\\n' which "$?"
printf '\\036%s\\n' unit:0
(
sudo -n systemctl cat -- conversation-service 2>&1 >/dev/null
) </dev/null
printf '\\n\\036=%s %s\\n' unit:0 "$?"
printf '\\036%s\\n' unit:1
(
systemctl cat -- search-service 2>&1 >/dev/null
) </dev/null
printf '\\n\\036=%s %s\\n' unit:1 "$?"
printf '\\036%s\\n' active
(
systemctl is-active -- conversation-service search-service
) </dev/null
printf '\\n\\036=%s %s\\n' active "$?"
printf '\\036%s\\n' status:0
(
{
pgrep -f worker
} 2>&1 | tr -d '\\036'
) </dev/null
printf '\\n\\036=%s %s\\n' status:0 "$?"
printf '\\036%s\\n' deployed
(
{
d=/srv/app
c=$(git -C "$d" rev-parse --verify --end-of-options HEAD) || exit 1
t=$(git -C "$d" describe --tags --exact-match --end-of-options HEAD 2>/dev/null)
printf 'commit=%s\\ntag=%s\\n' "$c" "$t"
git -C "$d" status --porcelain --untracked-files=no | cut -c4- | sed 's/^/dirty=/'
} 2>&1 | tr -d '\\036'
) </dev/null
printf '\\n\\036=%s %s\\n' deployed "$?"
printf '\\036%s\\n' remote-tag
(
git -C /srv/app ls-remote --exit-code --tags origin refs/tags/v3.2.7 2>&1 >/dev/null
) </dev/null
printf '\\n\\036=%s %s\\n' remote-tag "$?"
printf '\\036%s\\n' fetch
(
{
git -C /srv/app fetch --quiet --tags origin
} 2>&1
) </dev/null
printf '\\n\\036=%s %s\\n' fetch "$?"
printf '\\036%s\\n' log
(
r=refs/tags/v3.2.7
c=$(git -C /srv/app rev-parse --verify --end-of-options HEAD) || exit 1
n=$(git -C /srv/app rev-list --count --end-of-options "$c..$r" --) || exit 2
printf '%s\\n' "$n"
git -C /srv/app log --oneline --no-decorate -n 20 --end-of-options "$c..$r" -- | tr -d '\\036'
) </dev/null
printf '\\n\\036=%s %s\\n' log "$?"
printf '\\036%s\\n' changed
(
r=refs/tags/v3.2.7
c=$(git -C /srv/app rev-parse --verify --end-of-options HEAD) || exit 1
git -C /srv/app diff --name-only --diff-filter=AM --end-of-options "$c" "$r" -- migrations | tr -d '\\036'
) </dev/null
printf '\\n\\036=%s %s\\n' changed "$?"
printf '\\036%s\\n' lock
(
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r"; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo free; fi
) </dev/null
printf '\\n\\036=%s %s\\n' lock "$?"
printf '\\036%s\\n' history
(
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
test -s "$h"
) </dev/null
printf '\\n\\036=%s %s\\n' history "$?"
pw=
IFS= read -r pw || true
printf '\\036%s\\n' db
(
if [ -n "$pw" ]; then export PGPASSWORD="$pw"; fi
psql -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U harena -d harena -Atc 'select pg_database_size(current_database())' 2>&1
) </dev/null
printf '\\n\\036=%s %s\\n' db "$?"
unset pw`);
    expect(c.stdin).toBe('s3cr3t\n');
    expect(c.redact).toEqual(['s3cr3t']);
    expect(c.readOnly).toBeUndefined();
  });

  it('read-only without the fetch (what --dry-run runs for real); no password, nothing on stdin', () => {
    const c = preflightScript({ ...spec, db: { target: spec.db.target } });
    expect(c.readOnly).toBe(true);
    expect(c.stdin).toBeUndefined();
    expect(c.script).not.toContain('fetch');
  });

  it('releases: the remote asked by URL, the release folders listed, the whole history read', () => {
    const c = preflightScript({ remoteTag: { tag: 'v1.1.0', repo: 'git@github.com:acme/app.git' }, releasesDir: '/srv/app/releases', state: { dir: '/srv/s', history: 'read' } });
    expect(c.script).toBe(
      `printf '\\036%s\\n' remote-tag\n(\ngit ls-remote --exit-code --tags git@github.com:acme/app.git refs/tags/v1.1.0 2>&1 >/dev/null\n) </dev/null\nprintf '\\n\\036=%s %s\\n' remote-tag "$?"\n` +
        `printf '\\036%s\\n' releases\n(\nif [ -d /srv/app/releases ]; then ls -1 /srv/app/releases; fi\n) </dev/null\nprintf '\\n\\036=%s %s\\n' releases "$?"\n` +
        `printf '\\036%s\\n' lock\n(\nd=/srv/s; f="$d/lock.json"; h="$d/history.jsonl"\nif { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r"; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo free; fi\n) </dev/null\nprintf '\\n\\036=%s %s\\n' lock "$?"\n` +
        `printf '\\036%s\\n' history\n(\nd=/srv/s; f="$d/lock.json"; h="$d/history.jsonl"\nif [ -e "$h" ]; then tr -d '\\036' < "$h"; fi\n) </dev/null\nprintf '\\n\\036=%s %s\\n' history "$?"`,
    );
  });

  it("rollback: the repository's own tags listed instead of a fetch (read-only); the git host is not asked", () => {
    const c = preflightScript({ releasesDir: '/srv/app/releases', localTags: "/srv/app/it's repo" });
    expect(c.readOnly).toBe(true);
    expect(c.script).toBe(
      `printf '\\036%s\\n' releases\n(\nif [ -d /srv/app/releases ]; then ls -1 /srv/app/releases; fi\n) </dev/null\nprintf '\\n\\036=%s %s\\n' releases "$?"\n` +
        `printf '\\036%s\\n' tags\n(\nif [ -d '/srv/app/it'\\''s repo' ]; then git -C '/srv/app/it'\\''s repo' tag -l | tr -d '\\036'; fi\n) </dev/null\nprintf '\\n\\036=%s %s\\n' tags "$?"`,
    );
  });

  it('refuses a tag that could be read as an option before it reaches the script', () => {
    expect(() => preflightScript({ plan: { workTree: '/a', gitDir: '/a', tag: '--output=x' } })).toThrow(/starts with "-"/);
  });
});
