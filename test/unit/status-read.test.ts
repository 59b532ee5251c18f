import { describe, expect, it } from 'vitest';
import type { Deployment } from '../../tasks/lib/state/queries.ts';
import { deploymentLine, type EnvStatus } from '../../tasks/lib/status/read.ts';
import { statusText } from '../../tasks/lib/status/render.ts';

const run = (o: Partial<Deployment>): Deployment => ({
  runId: 'r1', task: 'deploy', env: 'prod', who: 'bob@ops', from: 'v1', to: 'v2', startedAt: '2026-01-06T10:00:00.000Z', result: 'deployed', live: 'v2',
  finishedAt: '2026-01-06T10:00:03.500Z', steps: [], ...o,
});

describe('status', () => {
  it('a deployment line: duration from its records, the backup by file name or the skip reason', () => {
    expect(deploymentLine(run({ backupFile: '/b/prod/20260106T100000Z_v1_to_v2.dump' }))).toEqual({
      runId: 'r1', task: 'deploy', who: 'bob@ops', startedAt: '2026-01-06T10:00:00.000Z', finishedAt: '2026-01-06T10:00:03.500Z', durationMs: 3500,
      from: 'v1', to: 'v2', result: 'deployed', live: 'v2', backup: '20260106T100000Z_v1_to_v2.dump',
    });
    expect(deploymentLine(run({ skipBackupReason: 'schema-only', finishedAt: null, result: null })).backup).toBe('skipped: schema-only');
    expect(deploymentLine(run({ finishedAt: null, result: null })).durationMs).toBeNull();
  });

  it('the text: history, hosts (drift and an unreachable one), releases, deployments, backup', () => {
    const s: EnvStatus = {
      env: 'prod',
      file: 'environments/prod.ts',
      description: 'Production',
      history: { ok: true, where: 'web-1:/srv/.cutover/app/history.jsonl', current: 'v2', previous: 'v1', rollbackTarget: 'v1', skipped: 0 },
      hosts: [
        {
          name: 'web-1', address: '10.0.0.1', deployed: { ok: true, tag: 'v2', commit: 'c2', release: '20260106T100000Z_v2', dirty: [] },
          releases: ['20260105T100000Z_v1', '20260106T100000Z_v2'],
          services: [{ name: 'api', ok: true, state: 'active (running)' }], health: { status: 200, version: 'v2', latencyMs: 3 }, lock: null,
        },
        { name: 'web-2', address: '10.0.0.2', deployed: { ok: true, tag: 'v1', commit: 'c1', release: '20260105T100000Z_v1', dirty: [] }, releases: ['20260105T100000Z_v1'], services: [{ name: 'api', ok: false, state: 'failed' }], health: { status: null, latencyMs: 1, error: 'connection refused (ECONNREFUSED)' } },
        { name: 'web-3', address: '10.0.0.3', unreachable: 'web-3: cannot connect', services: [], health: { status: null, latencyMs: 2000, error: 'no answer within 2000 ms' } },
      ],
      deployments: [deploymentLine(run({ backupFile: '/b/x.dump' })), deploymentLine(run({ runId: 'r0', from: null, to: 'v1', live: 'v1', result: 'deployed', skipBackupReason: 'first' }))],
      totalDeployments: 7,
      backup: { file: 'x.dump', createdAt: '2026-01-06T10:00:00.000Z', ageMs: 7_500_000, verified: true, count: 4, dir: '/b/prod' },
    };
    expect(statusText(s)).toBe(
      [
        'prod (environments/prod.ts): Production',
        'history (web-1:/srv/.cutover/app/history.jsonl): live v2; rollback goes back to v1',
        '',
        'HOST   ADDRESS   DEPLOYED              SERVICES                            HEALTH                                        LOCK',
        'web-1  10.0.0.1  v2                    api: active (running)               200, version v2, 3.0 ms                       free',
        'web-2  10.0.0.2  v1 (history says v2)  api: failed                         no answer: connection refused (ECONNREFUSED)  -',
        'web-3  10.0.0.3  ?                     unreachable: web-3: cannot connect  no answer: no answer within 2000 ms           -',
        'hosts on different tags: v2 on web-1; v1 on web-2 (a deploy limited with --hosts/--tag, or one that stopped part-way): deploy the same tag to the others, or roll these back',
        'releases kept on web-1: 20260105T100000Z_v1, 20260106T100000Z_v2 (current)',
        'releases kept on web-2: 20260105T100000Z_v1 (current)',
        '',
        'last 2 of 7 deployment(s), newest first:',
        '  STARTED                   WHO      TASK    FROM -> TO  DURATION  RESULT    BACKUP',
        '  2026-01-06T10:00:00.000Z  bob@ops  deploy  v1 -> v2    3.5 s     deployed  x.dump',
        '  2026-01-06T10:00:00.000Z  bob@ops  deploy  ? -> v1     3.5 s     deployed  skipped: first',
        'newest backup: x.dump, 2h 5m old, verified (4 in /b/prod)',
      ].join('\n'),
    );
  });
});
