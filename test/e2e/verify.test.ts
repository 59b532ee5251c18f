/** verify as a process against a real sandbox host: passing, each check failing, --watch, hardening probes. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw, sh } from '../../tasks/lib/commands/shell.ts';
import { APP, startDeployFleet, STATE, UNIT, type DeployFleet, type TaskRun } from '../support/deploy-fleet.ts';
import { signalTask } from '../support/processes.ts';

type JsonCheck = { check: string; verdict: string; value: string; threshold: string; why: string };
type JsonHost = { name: string; reachable: boolean; checks: JsonCheck[] };

/** `host check` -> verdict, for every row of a --json result. */
function verdicts(r: TaskRun): Record<string, string> {
  return Object.fromEntries((r.json.hosts as JsonHost[]).flatMap((h) => h.checks.map((c) => [`${h.name} ${c.check}`, c.verdict])));
}
function row(r: TaskRun, host: string, check: string): JsonCheck {
  return (r.json.hosts as JsonHost[]).find((h) => h.name === host)!.checks.find((c) => c.check === check)!;
}

const ALL_OK = {
  'host1 service demo-chat': 'ok',
  'host1 version': 'ok',
  'host1 health': 'ok',
  'host1 readiness': 'ok',
  'host1 chat': 'ok',
  'host1 latency': 'ok',
  'host1 journal': 'ok',
  'host1 disk': 'ok',
  'host1 lock': 'ok',
  '(this machine) backup': 'ok',
};

describe('verify', () => {
  let f: DeployFleet;
  let envFile: string;
  let original: string;
  const onHost = async (script: string) => {
    const r = await f.runner().exec(command(raw(script)));
    expect(r.code, `${script}: ${r.stderr}`).toBe(0);
  };
  /** Move the working copy to a tag by hand; restart only when asked (a wrong version is a checkout without one). */
  const checkout = (tag: string, restart: boolean) =>
    onHost(sh`git -C ${APP} -c advice.detachedHead=false checkout --quiet --detach ${tag}`.text + (restart ? sh` && systemctl restart ${UNIT}`.text : ''));
  const withEnv = async <T>(edit: (text: string) => string, body: () => Promise<T>): Promise<T> => {
    writeFileSync(envFile, edit(original));
    try {
      return await body();
    } finally {
      writeFileSync(envFile, original);
    }
  };

  beforeAll(async () => {
    f = await startDeployFleet();
    envFile = path.join(f.envDir, 'sbx.ts');
    original = readFileSync(envFile, 'utf8');
    const d = await f.task(['deploy', 'v1.1.0']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('healthy: a table per host, every check ok, GO, exit 0, and a report', async () => {
    const r = await f.task(['verify']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const h = f.fleet.hosts[0]!;
    const lines = r.stdout.split('\n');
    const at = lines.indexOf(`host1 (${h.address})`);
    expect(lines[at + 1]).toMatch(/^ {2}CHECK +VERDICT +VALUE +THRESHOLD +WHY$/);
    const table = lines.slice(at + 2, at + 11).join('\n');
    expect(table).toMatch(/^ {2}service demo-chat +ok +active \(running\) since \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+s ago +active +systemctl show demo-chat: ActiveState=active, SubState=running$/m);
    expect(table).toMatch(/^ {2}version +ok +deployed v1\.1\.0, running v1\.1\.0 +running = deployed tag +health reports v1\.1\.0 in 'version'$/m);
    expect(table).toMatch(/^ {2}health +ok +200 in [\d.]+ ms +200 +GET http:\/\/[\d.]+:\d+\/api\/v1\/health: 200, version v1\.1\.0; body: \{"status":"healthy"/m);
    expect(table).toMatch(/^ {2}readiness +ok +200; database=ok +200 +GET .*\/api\/v1\/ready: 200 in [\d.]+ ms; dependencies: database=ok$/m);
    expect(table).toMatch(/^ {2}chat +ok +200 in [\d.]+ m?s +200, contains "response_text", <= 2\.5 s +POST /m);
    expect(table).toMatch(/^ {2}latency +ok +p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms +\(no budget: set verify\.latency\) +20 GET .*\/api\/v1\/health one after another: 20 answered/m);
    expect(table).toMatch(/^ {2}journal +ok +0 of \d+ entries +none at err or worse, none matching \/Traceback\/ +since the last deploy \(v1\.0\.0 -> v1\.1\.0, run \S+\): /m);
    expect(table).toMatch(/^ {2}disk +ok +[\d.]+% free \(.+ of .+\) +>= 10% free +\/srv\/cutover-sbx\/app is on /m);
    expect(table).toMatch(/^ {2}lock +ok +free +free +no deploy holds \/srv\/cutover-sbx\/\.cutover\/app\/lock\.json$/m);
    expect(r.stdout).toMatch(/^ {2}backup +ok +\d+s old, verified +newest <= 26h old, verified +newest of 1 in /m);
    expect(r.stdout, r.stderr).toContain('\nsbx: GO: 1 host(s), all 10 checks ok (exit 0)\n');
    // the run's record: JSON and Markdown under backups/<env>/reports/
    const md = /\nreport: (\S+\.md)\n/.exec(r.stdout)![1]!;
    expect(path.basename(md)).toMatch(/^\d{8}T\d{6}Z_verify_\d{8}T\d{6}Z-[0-9a-f]{6}\.md$/);
    expect(readdirSync(path.join(f.backupDir, 'reports'))).toContain(path.basename(md));
    const record = JSON.parse(readFileSync(path.join(f.backupDir, 'reports', path.basename(md).replace(/\.md$/, '.json')), 'utf8'));
    expect(record).toMatchObject({ kind: 'verify', env: 'sbx', verdict: 'GO', title: 'verify of sbx: GO' });
    expect(record.summary[0]).toBe('sbx: GO: 1 host(s), all 10 checks ok (exit 0)');
    expect(record.checks.map((c: { host: string; check: string; verdict: string }) => `${c.host} ${c.check} ${c.verdict}`)).toEqual(Object.entries(ALL_OK).map(([k, v]) => `${k} ${v}`));
    expect(record.latency).toEqual([expect.objectContaining({ host: 'host1', samples: 20 })]);
    expect(readFileSync(path.join(f.backupDir, 'reports', path.basename(md)), 'utf8')).toContain('**GO**');
  });

  it('--json: the same checks as data, latency percentiles, --since sets the journal window', async () => {
    const r = await f.task(['verify', '--json', '--since', '30m']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('{\n')).toBe(true); // progress went to stderr
    expect(r.stderr).toContain('host1: 9 ok');
    expect(verdicts(r)).toEqual(ALL_OK);
    expect(r.json).toMatchObject({ environment: 'sbx', verdict: 'GO', exitCode: 0, failing: [], warnings: [] });
    expect(r.json.latency).toHaveLength(1);
    expect(r.json.latency[0]).toMatchObject({ host: 'host1', samples: 20 });
    const { p50, p95, p99 } = r.json.latency[0];
    expect(p50).toBeLessThanOrEqual(p95);
    expect(p95).toBeLessThanOrEqual(p99);
    expect(row(r, 'host1', 'journal').why).toMatch(/^last 30m \(--since\): /);
    expect(Object.keys(r.json.timingsMs.host1).sort()).toEqual(['chat', 'disk', 'health', 'journal', 'latency', 'lock', 'readiness', 'service', 'version']);
  });

  it('a wrong version: the working copy moved without a restart fails `version` only', async () => {
    await checkout('v1.0.0', false);
    try {
      const r = await f.task(['verify', '--json']);
      expect(r.code).toBe(1);
      expect(r.json.failing).toEqual(['host1 version']);
      expect(r.json.warnings).toEqual([]);
      expect(row(r, 'host1', 'version')).toMatchObject({
        value: 'deployed v1.0.0, running v1.1.0',
        why: "the working copy is on v1.0.0 but the service reports v1.1.0 in 'version': checked out without a restart, or the restart did not take",
      });
      expect(r.json.headline).toBe('sbx: NO-GO: 1 failing: host1 version (exit 1)');
    } finally {
      await checkout('v1.1.0', false);
    }
  });

  it('a stale backup: the newest one older than backups.maxAge (26h) fails', async () => {
    const manifest = path.join(f.backupDir, readdirSync(f.backupDir).find((n) => n.endsWith('.json'))!);
    const text = readFileSync(manifest, 'utf8');
    const m = JSON.parse(text);
    writeFileSync(manifest, JSON.stringify({ ...m, createdAt: new Date(Date.now() - 3 * 86_400_000).toISOString() }));
    try {
      const r = await f.task(['verify', '--json']);
      expect(r.code).toBe(1);
      expect(r.json.failing).toEqual(['(this machine) backup']);
      expect(row(r, '(this machine)', 'backup')).toMatchObject({ value: '3d old, verified', threshold: 'newest <= 26h old, verified' });
      expect(row(r, '(this machine)', 'backup').why).toMatch(/: older than 26h$/);
    } finally {
      writeFileSync(manifest, text);
    }
  });

  it('a held deploy lock is a warning naming its holder (exit 1)', async () => {
    const record = { runId: 'r-by-hand', env: 'sbx', tag: 'v9.9.9', task: 'deploy', owner: 'alice@laptop', pid: 4242, startedAt: new Date().toISOString(), ttlSec: 7200 };
    await onHost(sh`printf '%s' ${JSON.stringify(record)} > ${`${STATE}/lock.json`}`.text);
    try {
      const r = await f.task(['verify', '--json', '--check', 'lock,health']);
      expect(r.code).toBe(1);
      expect(verdicts(r)).toEqual({ 'host1 health': 'ok', 'host1 lock': 'warn' });
      expect(row(r, 'host1', 'lock').value).toMatch(/^held by alice@laptop \(run r-by-hand: deploy v9\.9\.9\) for \d+s$/);
      expect(r.json.headline).toBe('sbx: NO-GO: 1 warning: host1 lock (exit 1)');
    } finally {
      await onHost(sh`rm -f ${`${STATE}/lock.json`}`.text);
    }
  });

  it('hardening probes against the demo app: 413 for an oversized message, 429 past the rate limit, readiness naming its dependencies; budgets that fail', async () => {
    const extra = (deps: string, requests: number, user: string) =>
      `journal: { priority: 'err', failPatterns: ['Traceback'] },\n    latency: { samples: 10, p95: '0ms' },\n    disk: { minFreePercent: 100 },\n` +
      `    hardening: { oversizedBody: true, rateLimit: { requests: ${requests}, userId: '${user}' }, readinessDependencies: ${deps} },`;
    const edit = (deps: string, requests: number, user: string) => (t: string) => t.replace("journal: { priority: 'err', failPatterns: ['Traceback'] },", extra(deps, requests, user));
    const r = await withEnv(edit("['database']", 30, 'verify-probe'), () => f.task(['verify', '--json']));
    expect(r.code, r.stderr).toBe(1);
    expect(verdicts(r)).toEqual({ ...ALL_OK, 'host1 latency': 'fail', 'host1 disk': 'fail', 'host1 oversized body': 'ok', 'host1 rate limit': 'ok', 'host1 readiness dependencies': 'ok' });
    expect(row(r, 'host1', 'oversized body')).toMatchObject({ value: '413 for 256 KiB', threshold: '413' });
    expect(row(r, 'host1', 'rate limit').value).toMatch(/^[1-9]\d* of 30 answered 429$/); // 20 tokens, refilled at 20/s while the burst lasts
    expect(row(r, 'host1', 'rate limit').why).toMatch(/^30 POST .*\/api\/v1\/conversation\/chat at once as user_id "verify-probe": \d+x 200, \d+x 429$/);
    expect(row(r, 'host1', 'readiness dependencies')).toMatchObject({ value: 'database=ok', threshold: 'names database' });
    expect(row(r, 'host1', 'latency')).toMatchObject({ threshold: 'p95 <= 0.0 ms' });
    expect(row(r, 'host1', 'latency').why).toMatch(/^10 GET .* one after another: 10 answered .*; over budget: p95 [\d.]+ ms > 0\.0 ms$/);
    expect(row(r, 'host1', 'disk').threshold).toBe('>= 100% free');

    // and when the service does not defend itself (a burst under its limit) or a dependency is not named: FAIL
    const bad = await withEnv(edit("['database', 'redis']", 5, 'verify-probe-2'), () => f.task(['verify', '--json', '--check', 'rate-limit,readiness-deps']));
    expect(bad.code).toBe(1);
    expect(verdicts(bad)).toEqual({ 'host1 rate limit': 'fail', 'host1 readiness dependencies': 'fail' });
    expect(row(bad, 'host1', 'rate limit').value).toBe('0 of 5 answered 429');
    expect(row(bad, 'host1', 'readiness dependencies').why).toBe('readiness does not name redis (it names: database=ok)');
  });

  it('an unreachable host: cannot verify, exit 2; --host verifies only the others', async () => {
    const dead = (t: string) => t.replace(/hosts: \[(.*)\],/, "hosts: [$1, { name: 'dead-1', address: '127.0.0.1', port: 1, user: 'root' }],");
    await withEnv(dead, async () => {
      const r = await f.task(['verify', '--json', '--check', 'service,health']);
      expect(r.code).toBe(2);
      expect(verdicts(r)).toEqual({ 'host1 service demo-chat': 'ok', 'host1 health': 'ok', 'dead-1 connect': 'fail', 'dead-1 health': 'fail' });
      expect(row(r, 'dead-1', 'connect').why).toMatch(/^dead-1: cannot connect to root@\[127\.0\.0\.1\]:1: .*ECONNREFUSED/);
      expect(r.json.headline).toBe('sbx: NO-GO: cannot verify dead-1 (unreachable); 1 failing: dead-1 health (exit 2)');
      const only = await f.task(['verify', '--json', '--check', 'service,health', '--host', 'host1']);
      expect(only.code).toBe(0);
      expect(verdicts(only)).toEqual({ 'host1 service demo-chat': 'ok', 'host1 health': 'ok' });
      const pattern = await f.task(['verify', '--json', '--check', 'service,health', '--hosts', 'host*']);
      expect(verdicts(pattern)).toEqual(verdicts(only));
    });
  });

  it('bad flags: exit 2 before verifying anything', async () => {
    const unknown = await f.task(['verify', '--check', 'helth']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'cutover: --check helth: unknown check. Checks: service, version, health, readiness, chat, latency, journal, disk, backup, lock, oversized-body, rate-limit, readiness-deps.\n',
    );
    const optIn = await f.task(['verify', '--check', 'rate-limit']);
    expect(optIn.stderr).toBe('cutover: --check rate-limit is opt-in: set verify.hardening.rateLimit: { requests, userId } in environments/sbx.ts\n');
    const rounds = await f.task(['verify', '--rounds', '2']);
    expect(rounds.stderr).toBe('cutover: --rounds needs --watch (it bounds the number of rounds)\n');
    const host = await f.task(['verify', '--host', 'nope']);
    expect(host.stderr).toBe('cutover: --hosts nope: no such host in environments/sbx.ts. Hosts: host1.\n');
    const tag = await f.task(['verify', '--tag', 'Role=api']);
    expect(tag.code).toBe(2);
    expect(tag.stderr).toBe('cutover: --tag Role=api matches no host of environments/sbx.ts. Hosts: host1.\n');
  });

  it('Ctrl-C ends a watch with the exit code of its last complete round', async () => {
    let sent = false;
    const r = await f.task(['verify', '--watch', '1s', '--check', 'health'], {
      onOutput: (child, out) => {
        if (!sent && out.includes('round 2 at ')) sent = signalTask(child.pid!, 'SIGINT');
      },
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\nround 2 at \d\d:\d\d:\d\dZ: no change: sbx: GO: 1 host\(s\), all 1 checks ok \(exit 0\)\n/);
    expect(r.stdout).toContain('stopped by Ctrl-C: exit 0, the verdict of the last complete round (GO)\n');
    expect(r.stderr).toContain('SIGINT: stopping');
  });

  it('--watch over two rounds prints what changed (a service stopped between them), exit of the last round', async () => {
    let stopped: Promise<void> | null = null;
    // 15 s between rounds: the stop (an SSH connection, then the stand-in's SIGTERM) must be over before round 2 on a busy machine
    const r = await f.task(['verify', '--watch', '15s', '--rounds', '2'], {
      onOutput: (_child, out) => {
        // once round 1 has said all is well (not at the start: on a busy machine the stop would beat round 1's checks)
        if (!stopped && out.includes('all 10 checks ok (exit 0)')) stopped = onHost(sh`systemctl stop ${UNIT}`.text);
      },
    });
    await stopped;
    try {
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout, r.stderr).toContain('\nsbx: GO: 1 host(s), all 10 checks ok (exit 0)\n');
      const round2 = r.stdout.slice(r.stdout.indexOf('round 2 at ')).split('\n');
      expect(round2[0], r.stdout).toMatch(/^round 2 at \d\d:\d\d:\d\dZ: 6 change\(s\):$/);
      expect(round2[1], r.stdout).toMatch(/^ {2}host1 service demo-chat: ok -> FAIL \(active \(running\) since .* -> inactive \(dead\)\)$/);
      expect(round2[2], r.stdout).toBe('  host1 version: ok -> WARN (deployed v1.1.0, running v1.1.0 -> deployed v1.1.0, running unknown)');
      expect(round2[3], r.stdout).toMatch(/^ {2}host1 health: ok -> FAIL \(200 in [\d.]+ ms -> no answer\)$/);
      expect(round2[4], r.stdout).toBe('  host1 readiness: ok -> FAIL (200; database=ok -> no answer)');
      expect(round2[5], r.stdout).toMatch(/^ {2}host1 chat: ok -> FAIL \(200 in [\d.]+ ms -> no answer\)$/);
      expect(round2[6], r.stdout).toMatch(/^ {2}host1 latency: ok -> FAIL \(p50 .* -> no answer\)$/);
      expect(round2[7], r.stdout).toBe(
        'sbx: NO-GO: 5 failing: host1 service demo-chat, host1 health, host1 readiness, host1 chat, host1 latency; 1 warning: host1 version (exit 1)',
      );
    } finally {
      await onHost(sh`systemctl start ${UNIT}`.text);
    }
  });

  it('chat slower than its budget (v1.5.0, slow chat) fails `chat` only', async () => {
    await checkout('v1.5.0', true);
    const r = await f.task(['verify', '--json']);
    expect(r.code).toBe(1);
    expect(r.json.failing).toEqual(['host1 chat']);
    expect(row(r, 'host1', 'chat').why).toMatch(/: it took \d\.\d s, over the budget of 2\.5 s\. Body: \{"success":true/);
  });

  it('journal errors (v1.3.1) fail `journal`, naming the entries', async () => {
    await checkout('v1.3.1', true);
    const r = await f.task(['verify', '--json']);
    expect(r.code).toBe(1);
    expect(r.json.failing).toEqual(['host1 journal']);
    const j = row(r, 'host1', 'journal');
    expect(j.value).toMatch(/^[1-9]\d* of \d+ entries$/);
    expect(j.why).toContain('err: ERROR conversation_service: startup: relation "user_profiles" does not exist');
  });

  it('health answering 503 (v1.2.0 started by hand) fails health, and latency sampled on it', async () => {
    await checkout('v1.2.0', true);
    const r = await f.task(['verify', '--json']);
    expect(r.code).toBe(1);
    // the journal already holds v1.3.1's errors (same window), and the 503s are logged at err
    expect(r.json.failing).toEqual(['host1 health', 'host1 latency', 'host1 journal']);
    expect(row(r, 'host1', 'health').value).toMatch(/^503 in [\d.]+ ms$/);
    expect(row(r, 'host1', 'health').why).toMatch(/: status 503, expected 200; body: \{"status":"unhealthy","version":"v1\.2\.0"/);
    expect(row(r, 'host1', 'version').value).toBe('deployed v1.2.0, running v1.2.0');
    expect(row(r, 'host1', 'latency').why).toMatch(/: 20 answered .*; 20 failed \(last: status 503\)$/);
  });
});
