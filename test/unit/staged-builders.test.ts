import { describe, expect, it } from 'vitest';
import { appCommand } from '../../tasks/lib/commands/app.ts';
import { git } from '../../tasks/lib/commands/git.ts';
import { stagedScript } from '../../tasks/lib/commands/staged.ts';

describe('several steps on one host in one command (exact strings)', () => {
  it('each command as it runs alone, in a subshell, markers around it; a password to the migration alone, through a pipe', () => {
    const c = stagedScript([
      { name: 'checkout', commands: [git.checkoutTag('/srv/app', 'v3.2.7')] },
      { name: 'install', commands: [appCommand('/srv/app', 'pip install -r requirements.txt', { PIP_NO_INPUT: '1' })] },
      { name: 'migrate', commands: [appCommand('/srv/app', 'alembic upgrade head', { PGHOST: 'db' }, 's3cr3t'), appCommand('/srv/app', 'python manage.py check', {}, 's3cr3t')] },
    ]);
    expect(c.script).toBe(`printf '\\036run %s\\n' 0; printf '\\036run %s\\n' 0 >&2
(
git -C /srv/app -c advice.detachedHead=false checkout --quiet --detach 'refs/tags/v3.2.7^{commit}'
) </dev/null || exit $?
printf '\\036done %s\\n' checkout
printf '\\036run %s\\n' 1; printf '\\036run %s\\n' 1 >&2
(
cd /srv/app && export PIP_NO_INPUT=1 && pip install -r requirements.txt
) </dev/null || exit $?
printf '\\036done %s\\n' install
printf '\\036run %s\\n' 2; printf '\\036run %s\\n' 2 >&2
IFS= read -r in || in=
printf '%s\\n' "$in" | (
cd /srv/app && IFS= read -r PGPASSWORD && export PGPASSWORD && export PGHOST=db && alembic upgrade head
) || exit $?
unset in
printf '\\036run %s\\n' 3; printf '\\036run %s\\n' 3 >&2
IFS= read -r in || in=
printf '%s\\n' "$in" | (
cd /srv/app && IFS= read -r PGPASSWORD && export PGPASSWORD && python manage.py check
) || exit $?
unset in
printf '\\036done %s\\n' migrate`);
    expect(c.stdin).toBe('s3cr3t\ns3cr3t\n');
    expect(c.redact).toEqual(['s3cr3t', 's3cr3t']);
    expect(c.readOnly).toBeUndefined();
    expect(c.script).not.toContain('s3cr3t');
  });

  it('refuses a step name that is not a marker, and a stdin of several lines', () => {
    expect(() => stagedScript([{ name: 'a b', commands: [] }])).toThrow(/not a step name/);
    expect(() => stagedScript([{ name: 'x', commands: [{ script: 'cat', stdin: 'a\nb\n' }] }])).toThrow(/at most one line/);
  });
});
