import { describe, expect, it } from 'vitest';
import type { RunCtx } from '../../tasks/lib/deploy/context.ts';
import { failureText, summaryText } from '../../tasks/lib/deploy/summary.ts';
import type { RunResult } from '../../tasks/lib/kernel/procedure.ts';

function ctx(stages: RunCtx['hosts'][number]['stage'][]): RunCtx {
  return {
    env: { name: 'production', file: 'environments/production.ts', config: { app: { migrate: [] } }, secrets: {}, backupDir: '/b' },
    runId: 'r1',
    task: 'deploy',
    tag: 'v3.2.7',
    hosts: stages.map((stage, i) => ({ host: { name: `web-${i + 1}` }, from: { tag: 'v3.2.6', commit: 'abc' }, stage, checks: [] })),
    notes: [],
    ssmCommands: [],
    steps: [],
  } as unknown as RunCtx;
}

const result = (outcome: RunResult['outcome'], exitCode: RunResult['exitCode'], error?: string): RunResult => ({
  outcome, exitCode, ...(error ? { error } : {}), plan: [], cleanup: [], startedAt: new Date(0), finishedAt: new Date(0),
});

describe('the summary of a deploy', () => {
  it('an interruption that changed nothing says so, and advises no rollback', () => {
    const text = summaryText(ctx(['untouched', 'untouched']), result('interrupted', 130));
    expect(text.split('\n')[0]).toBe('deploy v3.2.7 to production: INTERRUPTED before anything live changed (exit 130), run r1');
    expect(text).not.toMatch(/rollback/);
  });

  it('an interruption after a host moved names the way back', () => {
    const text = summaryText(ctx(['code-changed', 'untouched']), result('interrupted', 130));
    expect(text).toMatch(/Next: check the hosts .*npx tsx tasks\/rollback\.ts --env production v3\.2\.6/);
  });

  it("a host's reason is said once; the failed step only when it adds something", () => {
    const c = ctx(['rolled-back']);
    c.hosts[0]!.problem = 'health: 503 after 15 s';
    c.hosts[0]!.failed = 'health: 503 after 15 s';
    const text = summaryText(c, result('rolled-back', 1, 'stopped: 1 host(s) failed in the first batch'));
    expect(text.match(/503 after 15 s/g)).toHaveLength(1);
    expect(text).toContain('  stopped: 1 host(s) failed in the first batch');
    expect(failureText(c, 'stopped: 1 host(s) failed in the first batch')).toBe('web-1: health: 503 after 15 s\nstopped: 1 host(s) failed in the first batch');
  });
});
