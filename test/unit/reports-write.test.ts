import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { elapsedText, sizeWithBytes } from '../../tasks/lib/base/format.ts';
import { renderMarkdown } from '../../tasks/lib/reports/markdown.ts';
import { reportBaseName, reportRecord, writeReport, type ReportInput } from '../../tasks/lib/reports/write.ts';

const SECRET = 'pg-Pa55w0rd-prod';

function fakeEnv(): LoadedEnvironment {
  const backupDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-reports-')), 'backups', 'production');
  return { name: 'production', file: 'environments/production.ts', config: {} as LoadedEnvironment['config'], secrets: { CUTOVER_PRODUCTION_DB_PASSWORD: SECRET }, backupDir };
}

const DEPLOY: ReportInput = {
  kind: 'deploy',
  runId: '20261121T211305Z-a1b2c3',
  startedAt: '2026-11-21T21:13:05.123Z',
  finishedAt: '2026-11-21T21:15:10.623Z',
  verdict: 'rolled back',
  title: 'deploy of production to v3.2.7: rolled back',
  summary: ['v3.2.7 failed verification on web-2; both hosts are back on v3.2.6.2, verified', `run by ops@example.com (password ${SECRET} never shown)`],
  steps: [
    { name: 'preflight', durationMs: 850, ok: true },
    { name: 'backup', durationMs: 12_345, ok: true },
    { name: 'verify', durationMs: 61_000, ok: false },
  ],
  checks: [
    { host: 'web-1', check: 'health', value: '200 in 12 ms', threshold: '200', verdict: 'ok', why: 'version v3.2.7' },
    { host: 'web-2', check: 'chat', value: '4.5 s', threshold: '<= 4 s', verdict: 'fail', why: 'answer echoed +33 6 12 34 56 78 | slow' },
    { host: 'web-2', check: 'journal', value: '1 warning', threshold: 'no err', verdict: 'warn', why: 'line one\nline two' },
  ],
  latency: [
    { host: 'web-1', p50: 12, p95: 30.4, p99: 45, samples: 20 },
    { host: 'web-2', p50: null, p95: null, p99: null, samples: 0 },
  ],
  ssmCommands: [{ host: 'web-1', commandId: '0b5a2c3d-1111-2222-3333-444455556666', instanceId: 'i-0147cf4bfd894e87d', status: 'Success', durationMs: 2300 }],
  backup: { file: 'backups/production/20261121T211305Z_v3.2.6.2_to_v3.2.7.dump', sizeBytes: 1_234_567, sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
  hosts: [
    { name: 'web-1', from: 'v3.2.6.2', to: 'v3.2.7', state: 'rolled-back' },
    { name: 'web-2', from: 'v3.2.6.2', to: 'v3.2.7', state: 'rolled-back' },
  ],
  extra: { exitCode: 1, databaseUrl: `postgres://app:${SECRET}@10.0.1.5:5432/harena`, origin: 'https://deploy:tok3n-xyz@git.example.com/org/app.git' },
};

const EXPECTED_MD = `# deploy of production to v3.2.7: rolled back

- Kind: deploy
- Environment: production
- Run: 20261121T211305Z-a1b2c3
- Started: 2026-11-21T21:13:05.123Z
- Finished: 2026-11-21T21:15:10.623Z (2m 6s)
- Verdict: **rolled back**

## Summary

- v3.2.7 failed verification on web-2; both hosts are back on v3.2.6.2, verified
- run by [EMAIL] (password *** never shown)

## Hosts

| Host | From | To | State |
| --- | --- | --- | --- |
| web-1 | v3.2.6.2 | v3.2.7 | rolled-back |
| web-2 | v3.2.6.2 | v3.2.7 | rolled-back |

## Steps

| Step | Duration | Result |
| --- | ---: | --- |
| preflight | 850 ms | ok |
| backup | 12.3 s | ok |
| verify | 1m 1s | FAILED |

## Checks

| Host | Check | Value | Threshold | Verdict | Why |
| --- | --- | --- | --- | --- | --- |
| web-1 | health | 200 in 12 ms | 200 | ✅ ok | version v3.2.7 |
| web-2 | chat | 4.5 s | <= 4 s | ❌ fail | answer echoed [PHONE] \\| slow |
| web-2 | journal | 1 warning | no err | ⚠️ warn | line one<br>line two |

## Latency

| Host | Samples | P50 | P95 | P99 |
| --- | ---: | ---: | ---: | ---: |
| web-1 | 20 | 12 ms | 30 ms | 45 ms |
| web-2 | 0 | - | - | - |

## SSM commands

| Host | Command id | Instance | Status | Duration |
| --- | --- | --- | --- | ---: |
| web-1 | 0b5a2c3d-1111-2222-3333-444455556666 | i-0147cf4bfd894e87d | Success | 2.3 s |

## Backup

- File: \`backups/production/20261121T211305Z_v3.2.6.2_to_v3.2.7.dump\`
- Size: 1.23 MB (1234567 bytes)
- sha256: \`9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\`

## Details

\`\`\`json
{
  "exitCode": 1,
  "databaseUrl": "postgres://app:***@10.0.1.5:5432/harena",
  "origin": "https://deploy:[REDACTED]@git.example.com/org/app.git"
}
\`\`\`

## Verdict

**rolled back**
`;

describe('writeReport', () => {
  it('writes <UTC>_<kind>_<runId>.json and .md, 0600 in a 0700 folder, redacted, the Markdown exactly as the template', async () => {
    const env = fakeEnv();
    const paths = await writeReport(env, DEPLOY);
    const dir = path.join(env.backupDir, 'reports');
    expect(paths).toEqual({ jsonPath: path.join(dir, '20261121T211305Z_deploy_20261121T211305Z-a1b2c3.json'), mdPath: path.join(dir, '20261121T211305Z_deploy_20261121T211305Z-a1b2c3.md') });
    expect(readdirSync(dir).sort()).toEqual(['20261121T211305Z_deploy_20261121T211305Z-a1b2c3.json', '20261121T211305Z_deploy_20261121T211305Z-a1b2c3.md']);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(paths.jsonPath).mode & 0o777).toBe(0o600);
    expect(statSync(paths.mdPath).mode & 0o777).toBe(0o600);

    const md = readFileSync(paths.mdPath, 'utf8');
    expect(md).toBe(EXPECTED_MD);
    const json = JSON.parse(readFileSync(paths.jsonPath, 'utf8'));
    expect(json).toEqual({
      reportVersion: 1,
      ...DEPLOY,
      env: 'production',
      durationMs: 125_500,
      summary: ['v3.2.7 failed verification on web-2; both hosts are back on v3.2.6.2, verified', 'run by [EMAIL] (password *** never shown)'],
      checks: [DEPLOY.checks![0], { ...DEPLOY.checks![1], why: 'answer echoed [PHONE] | slow' }, DEPLOY.checks![2]],
      extra: { exitCode: 1, databaseUrl: 'postgres://app:***@10.0.1.5:5432/harena', origin: 'https://deploy:[REDACTED]@git.example.com/org/app.git' },
    });
    for (const text of [md, readFileSync(paths.jsonPath, 'utf8')]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('ops@example.com');
      expect(text).not.toContain('tok3n-xyz');
    }
  });

  it('a verify report: GO/NO-GO, no steps, hosts, SSM or backup sections when there are none', () => {
    const record = reportRecord(fakeEnv(), {
      kind: 'verify',
      runId: 'r1',
      env: 'staging',
      startedAt: '2026-01-02T03:04:05.000Z',
      finishedAt: '2026-01-02T03:04:05.250Z',
      verdict: 'GO',
      title: 'verify of staging: GO',
      summary: [],
      checks: [{ host: 'h', check: 'disk', value: '42% free', threshold: '>= 10% free', verdict: 'ok', why: '/srv' }],
    });
    expect(renderMarkdown(record)).toBe(`# verify of staging: GO

- Kind: verify
- Environment: staging
- Run: r1
- Started: 2026-01-02T03:04:05.000Z
- Finished: 2026-01-02T03:04:05.250Z (250 ms)
- Verdict: **GO**

## Summary

- (none)

## Checks

| Host | Check | Value | Threshold | Verdict | Why |
| --- | --- | --- | --- | --- | --- |
| h | disk | 42% free | >= 10% free | ✅ ok | /srv |

## Verdict

**GO**
`);
  });

  it('a skipped backup, no backup, and a fence longer than any backticks in the details', () => {
    const base = { kind: 'restore' as const, runId: 'r', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T01:02:03.000Z', verdict: 'restored', title: 't', summary: ['s'] };
    const skipped = renderMarkdown(reportRecord(fakeEnv(), { ...base, backup: { skipped: 'schema-only change' } }));
    expect(skipped).toContain('(1h 2m)\n');
    expect(skipped).toContain('## Backup\n\n- skipped: schema-only change\n');
    expect(renderMarkdown(reportRecord(fakeEnv(), { ...base, backup: null }))).toContain('## Backup\n\n- none (this run takes no backup)\n');
    expect(renderMarkdown(reportRecord(fakeEnv(), { ...base, extra: { note: 'a ``` b' } }))).toContain('## Details\n\n````json\n{\n  "note": "a ``` b"\n}\n````\n');
  });

  it('file names: UTC second of the start, run ids made safe; a bad start time is refused', () => {
    expect(reportBaseName({ kind: 'rollback', runId: 'a/b c', startedAt: '2026-03-04T05:06:07.999+01:00' })).toBe('20260304T040607Z_rollback_a-b-c');
    expect(() => reportBaseName({ kind: 'verify', runId: 'x', startedAt: 'yesterday' })).toThrow('report startedAt is not a time: "yesterday"');
  });

  it('elapsedText and sizeWithBytes', () => {
    expect([elapsedText(0), elapsedText(999.4), elapsedText(1000), elapsedText(59_949), elapsedText(60_000), elapsedText(3_599_000), elapsedText(3_600_000)]).toEqual([
      '0 ms', '999 ms', '1.0 s', '59.9 s', '1m 0s', '59m 59s', '1h 0m',
    ]);
    expect([sizeWithBytes(0), sizeWithBytes(999_999), sizeWithBytes(1_000_000)]).toEqual(['0.0 kB (0 bytes)', '1000.0 kB (999999 bytes)', '1.00 MB (1000000 bytes)']);
  });
});
