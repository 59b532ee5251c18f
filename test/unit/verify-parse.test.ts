import { describe, expect, it } from 'vitest';
import { hostReads, parseKeyValues } from '../../tasks/lib/commands/host-reads.ts';
import { ageText, durationText, kibText } from '../../tasks/lib/base/format.ts';
import { formatDependencies, parseDependencies, parseDf, parseSystemctlShow, parseSystemdTimestamp } from '../../tasks/lib/verify/parse.ts';

describe('parsers of what hosts answer', () => {
  it('systemctl show: one block per unit, in order, values may hold = or be empty', () => {
    const out = 'Id=a.service\nActiveState=active\nActiveEnterTimestamp=Tue 2026-01-06 10:00:00 UTC\n\nId=b.service\nActiveState=failed\nActiveEnterTimestamp=\nX=k=v\n';
    expect(parseSystemctlShow(out)).toEqual([
      { Id: 'a.service', ActiveState: 'active', ActiveEnterTimestamp: 'Tue 2026-01-06 10:00:00 UTC' },
      { Id: 'b.service', ActiveState: 'failed', ActiveEnterTimestamp: '', X: 'k=v' },
    ]);
    expect(parseSystemctlShow('')).toEqual([]);
  });

  it('systemd timestamps: UTC and GMT read, other zone names and empty are null', () => {
    expect(parseSystemdTimestamp('Tue 2026-01-06 10:00:00 UTC')).toBe(Date.UTC(2026, 0, 6, 10, 0, 0));
    expect(parseSystemdTimestamp('2026-01-06 10:00:00 GMT')).toBe(Date.UTC(2026, 0, 6, 10, 0, 0));
    expect(parseSystemdTimestamp('Tue 2026-01-06 10:00:00 CET')).toBeNull();
    expect(parseSystemdTimestamp('')).toBeNull();
    expect(parseSystemdTimestamp('n/a')).toBeNull();
  });

  it('df -P -k: free percent as df counts it (available over used + available)', () => {
    const out = 'Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 24470208  81920704      24% /srv/my app\n';
    const d = parseDf(out)!;
    expect(d).toEqual({ filesystem: '/dev/vda', mountedOn: '/srv/my app', totalKiB: 264212084, usedKiB: 24470208, availKiB: 81920704, freePercent: (81920704 / (24470208 + 81920704)) * 100 });
    expect(d.freePercent.toFixed(1)).toBe('77.0');
    expect(parseDf('Filesystem\n')).toBeNull();
    expect(parseDf('h\nx y z\n')).toBeNull();
  });

  it('readiness dependency maps: `dependencies` or `services`, values as text', () => {
    expect(parseDependencies('{"ready":true,"dependencies":{"database":"ok"}}')).toEqual({ database: 'ok' });
    expect(parseDependencies('{"ready":true,"services":{"llm":true,"voice":false,"db":{"status":"up"},"n":3}}')).toEqual({ llm: 'true', voice: 'false', db: 'up', n: '3' });
    expect(parseDependencies('{"ready":true}')).toBeNull();
    expect(parseDependencies('not json')).toBeNull();
    expect(parseDependencies('[1]')).toBeNull();
    expect(formatDependencies({ database: 'ok', redis: 'down' })).toBe('database=ok, redis=down');
    expect(formatDependencies({})).toBe('(empty)');
  });

  it('ages, configured durations and sizes as shown', () => {
    expect([0, 999, 59_000, 61_000, 3_600_000, 3_661_000, 90_061_000, 3 * 86_400_000 + 5000].map(ageText)).toEqual(['0s', '0s', '59s', '1m 1s', '1h', '1h 1m', '1d 1h', '3d']);
    expect([93_600_000, 1_800_000, 30_000, 1500, 0].map(durationText)).toEqual(['26h', '30m', '30s', '1500ms', '0ms']);
    expect([4, 1536, 81920704, 264212084].map(kibText)).toEqual(['4 KiB', '1.5 MiB', '78.1 GiB', '252 GiB']);
  });

  it('command builders: exact scripts, read-only', () => {
    expect(hostReads.serviceShow(['demo-chat', 'worker@1'])).toEqual({
      script: 'systemctl show -p Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp,NRestarts -- demo-chat worker@1',
      readOnly: true,
    });
    expect(hostReads.disk('/srv/my app')).toEqual({ script: "df -P -k -- '/srv/my app'", readOnly: true });
    expect(hostReads.deployed('/srv/app').script).toBe(
      ['d=/srv/app', 'c=$(git -C "$d" rev-parse --verify --end-of-options HEAD) || exit 1', 't=$(git -C "$d" describe --tags --exact-match --end-of-options HEAD 2>/dev/null)', `printf 'commit=%s\\ntag=%s\\n' "$c" "$t"`].join('\n'),
    );
    expect(hostReads.deployed('/srv/app', { dirty: true }).script.split('\n').at(-1)).toBe(`git -C "$d" status --porcelain --untracked-files=no | cut -c4- | sed 's/^/dirty=/'`);
    expect(hostReads.deployed('/srv/app/current', { currentLink: '/srv/app/current' }).script.split('\n').at(-1)).toBe(`printf 'release=%s\\n' "$(basename "$(readlink /srv/app/current)")"`);
    expect(parseKeyValues('commit=abc\ntag=\nrelease=r=1\n')).toEqual({ commit: 'abc', tag: '', release: 'r=1' });
  });
});
