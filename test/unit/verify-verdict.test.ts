import { describe, expect, it } from 'vitest';
import { changesBetween, describeChange } from '../../tasks/lib/verify/changes.ts';
import { renderHostTable } from '../../tasks/lib/verify/table.ts';
import type { CheckRow, HostVerdict } from '../../tasks/lib/verify/types.ts';
import { overallVerdict } from '../../tasks/lib/verify/verdict.ts';

const r = (host: string, check: string, verdict: CheckRow['verdict'], value = 'v', valueClass = value): CheckRow => ({
  host,
  kind: check === 'connect' ? 'connect' : 'health',
  check,
  verdict,
  value,
  threshold: 't',
  why: 'w',
  valueClass,
});
const host = (name: string, rows: CheckRow[], reachable = true): HostVerdict => ({ name, address: name === '(this machine)' ? '' : `10.0.0.${name.slice(-1)}`, reachable, rows });

describe('the overall verdict', () => {
  it('GO and exit 0 only when every check is ok', () => {
    const o = overallVerdict('prod', [host('h1', [r('h1', 'health', 'ok'), r('h1', 'chat', 'ok')]), host('(this machine)', [r('(this machine)', 'backup', 'ok')])]);
    expect(o).toMatchObject({ verdict: 'GO', exitCode: 0, failing: [], warnings: [], unreachable: [], checks: 3 });
    expect(o.headline).toBe('prod: GO: 1 host(s), all 3 checks ok (exit 0)');
  });

  it('a warning alone is NO-GO, exit 1 (degraded)', () => {
    const o = overallVerdict('prod', [host('h1', [r('h1', 'health', 'ok'), r('h1', 'lock', 'warn')])]);
    expect(o.verdict).toBe('NO-GO');
    expect(o.exitCode).toBe(1);
    expect(o.headline).toBe('prod: NO-GO: 1 warning: h1 lock (exit 1)');
  });

  it('failures and warnings are named, failures first, in row order', () => {
    const o = overallVerdict('prod', [host('h1', [r('h1', 'health', 'fail'), r('h1', 'version', 'warn')]), host('h2', [r('h2', 'chat', 'fail'), r('h2', 'disk', 'warn')])]);
    expect(o.headline).toBe('prod: NO-GO: 2 failing: h1 health, h2 chat; 2 warnings: h1 version, h2 disk (exit 1)');
    expect(o.failing.map((x) => x.check)).toEqual(['health', 'chat']);
  });

  it('an unreachable host: cannot verify, exit 2, whatever else failed; its connect row is not repeated', () => {
    const o = overallVerdict('prod', [host('h1', [r('h1', 'health', 'fail')]), host('h2', [r('h2', 'connect', 'fail'), r('h2', 'health', 'ok')], false)]);
    expect(o.exitCode).toBe(2);
    expect(o.unreachable).toEqual(['h2']);
    expect(o.headline).toBe('prod: NO-GO: cannot verify h2 (unreachable); 1 failing: h1 health (exit 2)');
  });
});

describe('the table of a host', () => {
  it('columns padded to the widest cell; a why of several lines continues under WHY', () => {
    const rows: CheckRow[] = [
      { ...r('h1', 'service demo-chat', 'ok', 'active'), threshold: 'active', why: 'ActiveState=active' },
      { ...r('h1', 'journal', 'fail', '2 of 30 entries'), threshold: 'none at err', why: '2 of 30 are err:\n  first\n  second' },
    ];
    expect(renderHostTable({ name: 'h1', address: '10.0.0.1' }, rows)).toBe(
      [
        'h1 (10.0.0.1)',
        '  CHECK              VERDICT  VALUE            THRESHOLD    WHY',
        '  service demo-chat  ok       active           active       ActiveState=active',
        '  journal            FAIL     2 of 30 entries  none at err  2 of 30 are err:',
        '                                                            first',
        '                                                            second',
      ].join('\n'),
    );
  });

  it('this machine has no address in its title; WARN is upper case', () => {
    expect(renderHostTable({ name: '(this machine)', address: '' }, [{ ...r('(this machine)', 'backup', 'warn', 'x'), threshold: 'y', why: 'z' }])).toBe(
      ['(this machine)', '  CHECK   VERDICT  VALUE  THRESHOLD  WHY', '  backup  WARN     x      y          z'].join('\n'),
    );
  });
});

describe('changes between watch rounds', () => {
  it('a verdict or a value class that moved, a row that appeared or went; wobbling numbers are not changes', () => {
    const prev = [r('h1', 'health', 'ok', '200 in 3 ms', '200'), r('h1', 'latency', 'ok', 'p95 3 ms', ''), r('h1', 'version', 'ok', 'v1', 'v1'), r('h1', 'connect', 'fail', 'unreachable')];
    const next = [r('h1', 'health', 'fail', 'no answer', 'no answer'), r('h1', 'latency', 'ok', 'p95 9 ms', ''), r('h1', 'version', 'ok', 'v2', 'v2'), r('h1', 'chat', 'ok', '200 in 5 ms', '200')];
    const c = changesBetween(prev, next);
    expect(c.map(describeChange)).toEqual([
      'h1 health: ok -> FAIL (200 in 3 ms -> no answer)',
      'h1 version: ok (v1 -> v2)',
      'h1 chat: new, ok (200 in 5 ms)',
      'h1 connect: no longer checked (was FAIL: unreachable)',
    ]);
    expect(changesBetween(next, next)).toEqual([]);
  });
});
