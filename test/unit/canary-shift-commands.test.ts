// The commands traffic shifting runs on the load balancer and the hosts: exact strings.
import { describe, expect, it } from 'vitest';
import { dumpCommandText, lbCommand, shiftCommands } from '../../tasks/lib/canary/shift/commands.ts';

const GUARD = (p: string, expect: string) => [
  `p=${p}; d=$(dirname -- "$p"); b=$(basename -- "$p")`,
  'if [ -L "$p" ]; then echo "$p is a symbolic link: give the real path" >&2; exit 22; fi',
  'if [ -e "$p" ]; then h=$(sha256sum < "$p") || exit 20; h=${h%% *}; else h=absent; fi',
  `if [ "$h" != ${expect} ]; then echo "$p changed since cutover read it: nothing was written; run again" >&2; exit 21; fi`,
];
const HASH = 'ab'.repeat(32);

describe('shift commands', () => {
  it('read: present with its sha256, or absent; a link or a folder refused; read-only', () => {
    const c = shiftCommands.read('/etc/nginx/cutover/app.conf');
    expect(c.script).toBe(
      [
        'p=/etc/nginx/cutover/app.conf',
        'if [ -L "$p" ]; then echo "$p is a symbolic link: give the real path" >&2; exit 2',
        `elif [ -f "$p" ]; then h=$(sha256sum < "$p") || exit 2; printf 'present %s\\n' "\${h%% *}"; cat -- "$p"`,
        'elif [ -e "$p" ]; then echo "$p is not a regular file" >&2; exit 2',
        'else echo absent; fi',
      ].join('\n'),
    );
    expect(c.readOnly).toBe(true);
  });

  it('check: the folder, the file, the tools, and the sign-off when there is one', () => {
    const lines = [
      "p='/srv/my app/flags.json'; d=$(dirname -- \"$p\")",
      '[ -d "$d" ] && echo dir=yes || echo dir=no',
      '[ -w "$d" ] && echo writable=yes || echo writable=no',
      'if [ -L "$p" ]; then echo file=symlink; elif [ -f "$p" ]; then echo file=yes; elif [ -e "$p" ]; then echo file=other; else echo file=no; fi',
      'for c in mktemp sha256sum timeout; do command -v "$c" >/dev/null || echo "missing=$c"; done',
    ];
    expect(shiftCommands.check('/srv/my app/flags.json').script).toBe(lines.join('\n'));
    expect(shiftCommands.check('/srv/my app/flags.json', "/srv/app/SIGNED OFF").script).toBe([...lines, "[ -e '/srv/app/SIGNED OFF' ] && echo signoff=yes || echo signoff=no"].join('\n'));
    expect(shiftCommands.signoff('/srv/app/SIGNED-OFF')).toEqual({ script: 'test -e /srv/app/SIGNED-OFF', readOnly: true });
  });

  it('the configured test and reload: one command, with a host-side time limit and sudo when asked', () => {
    expect(lbCommand('nginx -t', false).text).toBe('timeout -k 5 60 nginx -t');
    expect(lbCommand('/usr/sbin/nginx -s reload', true).text).toBe('timeout -k 5 60 sudo -n /usr/sbin/nginx -s reload');
    expect(dumpCommandText('nginx -t')).toBe('nginx -T');
    expect(dumpCommandText('/usr/sbin/nginx -t -q -p /x -c /x/nginx.conf')).toBe('/usr/sbin/nginx -T -q -p /x -c /x/nginx.conf');
    expect(dumpCommandText('/usr/local/bin/check-lb')).toBeNull();
  });

  it('lbApply: guard, keep the previous file, write (stdin) and rename, test, reload; put it back on failure', () => {
    const c = shiftCommands.lbApply({ path: '/etc/nginx/cutover/app.conf', expect: HASH, test: 'nginx -t', reload: 'nginx -s reload', sudo: true });
    expect(c.script).toBe(
      [
        "trap '' INT HUP PIPE",
        't0=$EPOCHREALTIME',
        ...GUARD('/etc/nginx/cutover/app.conf', HASH),
        'old=',
        'if [ "$h" != absent ]; then old=$(mktemp -- "$d/.$b.cutover-old.XXXXXX") && { ln -f -- "$p" "$old" 2>/dev/null || cp -p -- "$p" "$old"; } || { rm -f -- "$old"; exit 20; }; fi',
        'new=$(mktemp -- "$d/.$b.cutover-new.XXXXXX") || { rm -f -- "$old"; exit 20; }',
        '{ cat > "$new" && { chmod --reference="$p" -- "$new" 2>/dev/null || chmod 0644 -- "$new"; } && mv -f -- "$new" "$p"; } || { rm -f -- "$new" "$old"; exit 20; }',
        't1=$EPOCHREALTIME',
        'back() { if [ -n "$old" ]; then mv -f -- "$old" "$p"; else rm -f -- "$p"; fi; }',
        "if ! out=$(timeout -k 5 60 sudo -n nginx -t 2>&1); then printf '%s\\n' \"$out\" >&2; back || exit 13; exit 10; fi",
        't2=$EPOCHREALTIME',
        "if ! out=$(timeout -k 5 60 sudo -n nginx -s reload 2>&1); then printf '%s\\n' \"$out\" >&2; back || exit 13",
        '  if out=$(timeout -k 5 60 sudo -n nginx -s reload 2>&1); then exit 11; fi',
        "  printf 'reloading with the previous file: %s\\n' \"$out\" >&2; exit 12",
        'fi',
        't3=$EPOCHREALTIME',
        'rm -f -- "$old"',
        'echo "timing $t0 $t1 $t2 $t3"',
      ].join('\n'),
    );
    expect(c.stdin).toBeUndefined(); // the shifter adds the file's text as stdin, never on the command line
    expect(c.readOnly).toBeUndefined();
  });

  it('lbApply with remove: the file goes away (restoring "there was none")', () => {
    const script = shiftCommands.lbApply({ path: '/x/app.conf', expect: HASH, test: 'nginx -t', reload: 'nginx -s reload', sudo: false, remove: true }).script;
    expect(script.split('\n')[8]).toBe('rm -f -- "$p" || { rm -f -- "$old"; exit 20; }');
    expect(script).not.toContain('cat >');
  });

  it('writeFile: guard, temporary file with the old mode and owner, rename', () => {
    expect(shiftCommands.writeFile('/srv/app/flags.json', HASH).script).toBe(
      [
        "trap '' INT HUP PIPE",
        ...GUARD('/srv/app/flags.json', HASH),
        'new=$(mktemp -- "$d/.$b.cutover-new.XXXXXX") || exit 20',
        '{ cat > "$new" && { chmod --reference="$p" -- "$new" 2>/dev/null || chmod 0644 -- "$new"; } && { chown --reference="$p" -- "$new" 2>/dev/null || true; } && mv -f -- "$new" "$p"; } || { rm -f -- "$new"; exit 20; }',
      ].join('\n'),
    );
  });

  it('configured commands run as written (trusted text from the environment file)', () => {
    expect(shiftCommands.configured('systemctl reload api')).toEqual({ script: 'systemctl reload api', readOnly: false });
    expect(shiftCommands.configured('/opt/api/bin/status', true)).toEqual({ script: '/opt/api/bin/status', readOnly: true });
  });
});
