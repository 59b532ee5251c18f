import { describe, expect, it } from 'vitest';
import type { RunCtx } from '../../tasks/lib/deploy/context.ts';
import { runEndEvent, runReportInput, runStartEvent, runVerdict } from '../../tasks/lib/deploy/report.ts';
import type { RunResult } from '../../tasks/lib/kernel/procedure.ts';

const probe = (name: string, ok: boolean, detail: string, value?: number, threshold?: number) => ({
  name, ok, detail, requested: { method: 'GET', url: 'http://x' }, got: null, waitedMs: 1, ...(value === undefined ? {} : { value, threshold }),
});

function ctx(): RunCtx {
  return {
    env: { name: 'production', file: 'environments/production.ts', config: {}, secrets: {}, backupDir: '/b' },
    runId: '20261121T211305Z-a1b2c3',
    task: 'deploy',
    tag: 'v3.2.7',
    who: 'ops@laptop',
    hosts: [
      { host: { name: 'web-1' }, from: { tag: 'v3.2.6.2', commit: 'abc' }, stage: 'rolled-back', checks: [probe('health', true, 'GET /health: 200 in 12 ms'), probe('chat', false, 'answered in 4500 ms, budget 4000 ms', 4500.4, 4000)], rollbackChecks: [probe('health', true, 'GET /health: 200')], problem: 'chat too slow' },
      { host: { name: 'web-2' }, from: { commit: '0123456789abcdef' }, stage: 'untouched', checks: [] },
    ],
    backup: { file: '/b/20261121T211305Z_v3.2.6.2_to_v3.2.7.dump', sha256: 'f'.repeat(64), size: 2048 },
    steps: [{ name: 'backup', durationMs: 900, ok: true }],
    notes: ['n1'],
    ssmCommands: [{ host: 'web-1', instanceId: 'i-0147cf4bfd894e87d', commandId: 'cmd-1', status: 'Success', durationMs: 2100 }],
  } as unknown as RunCtx;
}

const ROLLED: RunResult = { outcome: 'rolled-back', exitCode: 1, error: 'web-1: chat: too slow\nmore', plan: [], cleanup: [], startedAt: new Date('2026-11-21T21:13:05Z'), finishedAt: new Date('2026-11-21T21:14:05Z') };

describe('a run as a report and as notifications', () => {
  it('runReportInput', () => {
    const r = runReportInput(ctx(), ROLLED, 'deploy v3.2.7 to production: FAILED, rolled back\n  web-1: back on v3.2.6.2\n');
    expect(r).toEqual({
      kind: 'deploy',
      runId: '20261121T211305Z-a1b2c3',
      env: 'production',
      startedAt: '2026-11-21T21:13:05.000Z',
      finishedAt: '2026-11-21T21:14:05.000Z',
      verdict: 'rolled back',
      title: 'deploy of production to v3.2.7: rolled back',
      summary: ['deploy v3.2.7 to production: FAILED, rolled back', 'web-1: back on v3.2.6.2', 'run by ops@laptop'],
      steps: [{ name: 'backup', durationMs: 900, ok: true }],
      checks: [
        { host: 'web-1', check: 'health', value: 'ok', threshold: '-', verdict: 'ok', why: 'GET /health: 200 in 12 ms' },
        { host: 'web-1', check: 'chat', value: '4500 ms', threshold: '<= 4000 ms', verdict: 'fail', why: 'answered in 4500 ms, budget 4000 ms' },
        { host: 'web-1', check: 'after rollback: health', value: 'ok', threshold: '-', verdict: 'ok', why: 'GET /health: 200' },
      ],
      ssmCommands: [{ host: 'web-1', instanceId: 'i-0147cf4bfd894e87d', commandId: 'cmd-1', status: 'Success', durationMs: 2100 }],
      backup: { file: '/b/20261121T211305Z_v3.2.6.2_to_v3.2.7.dump', sizeBytes: 2048, sha256: 'f'.repeat(64) },
      hosts: [
        { name: 'web-1', from: 'v3.2.6.2', to: 'v3.2.7', state: 'rolled-back' },
        { name: 'web-2', from: '0123456789ab', to: 'v3.2.7', state: 'untouched' },
      ],
      extra: { exitCode: 1, outcome: 'rolled-back', tag: 'v3.2.7', error: 'web-1: chat: too slow\nmore', notes: ['n1'], cleanup: [] },
    });
  });

  it('verdicts, and the backup when skipped or absent', () => {
    expect([runVerdict('deploy', 'done'), runVerdict('rollback', 'done'), runVerdict('deploy', 'needs-attention'), runVerdict('deploy', 'rolled-back')]).toEqual(['deployed', 'rolled back', 'needs attention', 'rolled back']);
    const skipped = { ...ctx(), backup: undefined, backupSkipped: 'schema-only' } as RunCtx;
    expect(runReportInput(skipped, ROLLED, '').backup).toEqual({ skipped: 'schema-only' });
    expect(runReportInput({ ...ctx(), backup: undefined } as RunCtx, ROLLED, '').backup).toBeNull();
  });

  it('runStartEvent and runEndEvent', () => {
    expect(runStartEvent(ctx())).toEqual({
      kind: 'start',
      title: 'deploy of production to v3.2.7 started',
      text: '2 host(s): web-1, web-2; from v3.2.6.2, 0123456789ab',
      runId: '20261121T211305Z-a1b2c3',
      fields: { tag: 'v3.2.7', by: 'ops@laptop' },
    });
    expect(runEndEvent(ctx(), ROLLED)).toEqual({
      kind: 'rollback',
      title: 'deploy of production to v3.2.7: rolled back',
      text: 'failed step: web-1: chat: too slow\nweb-1: chat too slow',
      runId: '20261121T211305Z-a1b2c3',
      fields: { tag: 'v3.2.7', exit: 1, hosts: 'web-1 rolled-back, web-2 untouched', backup: '20261121T211305Z_v3.2.6.2_to_v3.2.7.dump' },
    });
    const end = (outcome: RunResult['outcome']) => runEndEvent(ctx(), { ...ROLLED, outcome })?.kind ?? null;
    expect(['done', 'needs-attention', 'interrupted', 'refused', 'dry-run'].map((o) => end(o as RunResult['outcome']))).toEqual(['success', 'attention', 'attention', null, null]);
  });
});
