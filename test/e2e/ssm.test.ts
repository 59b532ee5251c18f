/**
 * Restarts through SSM Run Command (the real SDK clients against the local SSM/EC2 server, which
 * runs each command on the sandbox host mapped to the instance id), EC2 preflight and discovery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { tagOn, UNIT } from '../support/deploy-fleet.ts';
import { startSsmFleet, type SsmFleet } from '../support/aws-fleet.ts';
import { instanceIdFor } from '../support/aws/model.ts';
import { pollDelays } from '../../tasks/lib/aws/backoff.ts';

let s: SsmFleet | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

const mainPid = async (fleet: SsmFleet, i = 0) =>
  (await fleet.f.runner(fleet.f.fleet.hosts[i]).exec(command(sh`systemctl show -p MainPID --value ${UNIT}`))).stdout.trim();

describe('deploy with SSM restarts', () => {
  it('restarts through one SendCommand, records the command id, stays within 8 SSM calls per host, exit 0', async () => {
    s = await startSsmFleet({ hosts: 2 });
    const before = [await mainPid(s, 0), await mainPid(s, 1)];
    const r = await s.f.task(['deploy', 'v1.1.0', '--json'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.ssmCommands).toHaveLength(2);
    const ids = new Set(r.json.ssmCommands.map((c: { commandId: string }) => c.commandId));
    expect(ids.size).toBe(1); // one command for the batch
    expect(r.json.ssmCommands.map((c: { host: string; instanceId: string; status: string }) => `${c.host} ${c.instanceId} ${c.status}`)).toEqual([
      'host1 i-00000000000000001 Success',
      'host2 i-00000000000000002 Success',
    ]);
    const cmd = s.aws.command([...ids][0] as string);
    expect(cmd).toBeTruthy();
    expect([await mainPid(s, 0), await mainPid(s, 1)].every((p, i) => p !== before[i] && Number(p) > 0)).toBe(true);
    expect(await tagOn(s.f)).toBe('v1.1.0');
    expect(r.stderr).toMatch(/SSM command [0-9a-f-]{36}: host1 \(i-00000000000000001\) Success/);
    // the calls other than polls: a fixed few per host; the polls: each host's, at most one per step of
    // the fleet's schedule (100 ms doubling to 500 ms) over the time from SendCommand to the last poll.
    // On an idle machine that is at most 8 SSM calls a host; a busy one makes the restart, and so the
    // polling, longer, never the polling denser.
    const ssm = s.aws.requests.filter((q) => q.call.startsWith('SSM.'));
    const polls = ssm.filter((q) => q.call === 'SSM.GetCommandInvocation');
    const window = polls.at(-1)!.atMs - ssm.find((q) => q.call === 'SSM.SendCommand')!.atMs;
    let due = 0;
    const pollsPerHost = pollDelays(100, 500, 1000).filter((d) => (due += d) <= window).length;
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.length).toBeLessThanOrEqual(2 * pollsPerHost);
    // DescribeInstanceInformation (preflight, pages of 2) and the one SendCommand
    expect(ssm.map((q) => q.call).filter((c) => c !== 'SSM.GetCommandInvocation')).toEqual(['SSM.DescribeInstanceInformation', 'SSM.SendCommand']);
    // on the host's history too, for on-call
    const last = JSON.parse((await s.f.runner().exec(command(sh`tail -n 1 /srv/cutover-sbx/.cutover/app/history.jsonl`))).stdout);
    expect(last.ssmCommands.map((c: { commandId: string }) => c.commandId)).toEqual([...ids, ...ids]);
  });

  it('--dry-run prints the SendCommand request it would make', async () => {
    s = await startSsmFleet({ hosts: 1 });
    const r = await s.f.task(['deploy', 'v1.1.0', '--dry-run'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[AWS SSM] SendCommand {"DocumentName":"AWS-RunShellScript","InstanceIds":["i-00000000000000001"]');
    expect(r.stdout).toContain('sudo -n systemctl restart -- demo-chat && systemctl is-active -- demo-chat');
    expect(s.aws.calls('SSM.SendCommand')).toBe(0);
  });

  it('rollback --dry-run restarts through SSM too, never over SSH', async () => {
    s = await startSsmFleet({ hosts: 1 });
    expect((await s.f.task(['deploy', 'v1.1.0'], { env: s.env })).code).toBe(0);
    const sends = s.aws.calls('SSM.SendCommand');
    const r = await s.f.task(['rollback', '--dry-run'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[AWS SSM] SendCommand {"DocumentName":"AWS-RunShellScript","InstanceIds":["i-00000000000000001"]');
    expect(r.stdout).not.toMatch(/\[host1\] .*systemctl restart/);
    expect(s.aws.calls('SSM.SendCommand')).toBe(sends);
    expect(await tagOn(s.f)).toBe('v1.1.0');
  });

  for (const [knob, expected] of [
    [{ timeout: 'execution' }, /Execution Timed Out|TimedOut/],
    [{ undeliverable: true }, /Undeliverable/],
    [{ cancelled: true }, /Cancelled/],
  ] as const) {
    it(`a restart ending ${JSON.stringify(knob)} rolls back like any failed restart: exit 1, the status explained`, async () => {
      s = await startSsmFleet({ hosts: 1 });
      s.aws.knobs = { ...knob };
      const fleet = s;
      const r = await s.f.task(['deploy', 'v1.1.0', '--json'], {
        env: s.env,
        onOutput: (_c, out) => {
          if (out.includes('Check out the previous revision')) fleet.aws.knobs = {}; // the rollback's restart goes through
        },
      });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.json.error).toMatch(expected);
      expect(r.json.error).toMatch(/\[SSM command [0-9a-f-]{36}\]/);
      expect(r.json.hosts[0].stage).toBe('rolled-back');
      expect(await tagOn(s.f)).toBe('v1.0.0');
    });
  }

  it('when the rollback restart fails too: exit 3 with the host state', async () => {
    s = await startSsmFleet({ hosts: 1 });
    s.aws.knobs = { timeout: 'execution' }; // the restart ran and failed, and so does the rollback's
    const r = await s.f.task(['deploy', 'v1.1.0', '--json'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json.hosts[0].stage).toBe('rollback-failed');
    expect(r.stderr).toContain('npx tsx tasks/rollback.ts --env sbx v1.0.0');
  });

  it('a restart SSM never delivered: the host still runs the previous release; its code is put back and verified without a restart (exit 1)', async () => {
    s = await startSsmFleet({ hosts: 1 });
    const before = await mainPid(s, 0);
    s.aws.knobs = { undeliverable: true }; // for the whole run: a restart in the rollback would fail too
    const r = await s.f.task(['deploy', 'v1.1.0', '--json'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.hosts[0].stage).toBe('rolled-back');
    expect(r.json.error).toMatch(/Undeliverable.*nothing ran/);
    expect(s.aws.calls('SSM.SendCommand')).toBe(1); // no restart in the rollback
    expect(await mainPid(s, 0)).toBe(before); // the service was never restarted
    expect(await tagOn(s.f)).toBe('v1.0.0');
  });

  for (const maxFailures of [1, 0]) {
    it(`3 hosts in batches of 2, host3's restart undeliverable, maxFailures ${maxFailures}: ${maxFailures ? 'exit 0 naming host3' : 'exit 1, every moved host back and verified'}`, async () => {
      s = await startSsmFleet({ hosts: 3, extra: `rollout: { batchSize: 2, maxFailures: ${maxFailures} },` });
      const pids = await Promise.all([0, 1, 2].map((i) => mainPid(s!, i)));
      s.aws.find(instanceIdFor(2)).knobs = { undeliverable: true };
      const r = await s.f.task(['deploy', 'v1.1.0', '--json'], { env: s.env });
      const stages = r.json.hosts.map((h: { name: string; stage: string }) => `${h.name}:${h.stage}`);
      if (maxFailures) {
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(stages).toEqual(['host1:verified', 'host2:verified', 'host3:rolled-back']);
        expect(r.json.failedHosts.map((h: { name: string }) => h.name)).toEqual(['host3']);
        expect(r.stdout + r.stderr).toMatch(/DEPLOYED to 2 of 3 hosts; host3 failed and was rolled back/);
      } else {
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(stages).toEqual(['host1:rolled-back', 'host2:rolled-back', 'host3:rolled-back']);
      }
      expect(r.stdout + r.stderr).not.toMatch(/state uncertain/);
      expect(await mainPid(s, 2)).toBe(pids[2]); // host3 was never restarted, not even by its rollback
      expect(await tagOn(s.f, s.f.fleet.hosts[2])).toBe('v1.0.0');
    });
  }

  it('InvocationDoesNotExist at first and throttled polls are retried, not failures', async () => {
    s = await startSsmFleet({ hosts: 1 });
    s.aws.knobs = { missingPolls: 2, pendingMs: 200 };
    s.aws.throttle('SSM.GetCommandInvocation', 2);
    const r = await s.f.task(['deploy', 'v1.1.0', '--json'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

describe('EC2 preflight and discovery', () => {
  it('a stopped instance fails preflight naming it and its state: exit 2, nothing changed', async () => {
    s = await startSsmFleet({ hosts: 2 });
    s.aws.find('i-00000000000000002').state = 'stopped';
    const r = await s.f.task(['deploy', 'v1.1.0'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/host2 \(i-00000000000000002\): instance is stopped/);
    expect(await tagOn(s.f)).toBe('v1.0.0');
  });

  it('an offline SSM agent fails preflight', async () => {
    s = await startSsmFleet({ hosts: 1 });
    s.aws.find('i-00000000000000001').ping = 'ConnectionLost';
    const r = await s.f.task(['deploy', 'v1.1.0'], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/host1 \(i-00000000000000001\).*ConnectionLost/);
  });

  it('no credentials: a clear preflight error naming what was tried (exit 2)', async () => {
    s = await startSsmFleet({ hosts: 1 });
    const r = await s.f.task(['deploy', 'v1.1.0'], { env: { ...s.env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/credentials/i);
    expect(r.stderr).toMatch(/AWS_ACCESS_KEY_ID/);
  });

  it('hosts discovered by tags (paginated) are deployed', async () => {
    s = await startSsmFleet({ hosts: 3, discovery: true, pageSize: 2 });
    const r = await s.f.task(['deploy', 'v1.1.0', '--json'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.hosts.map((h: { name: string; stage: string }) => `${h.name}:${h.stage}`)).toEqual(['host1:verified', 'host2:verified', 'host3:verified']);
    expect(s.aws.calls('EC2.DescribeInstances')).toBeGreaterThanOrEqual(2); // two pages
    expect(await Promise.all(s.f.fleet.hosts.map((h) => tagOn(s!.f, h)))).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0']);
  });
});

describe('doctor with EC2', () => {
  it('reports a stopped instance as a failing ec2 row (exit 2), then ok once it runs', async () => {
    s = await startSsmFleet({ hosts: 2 });
    s.aws.find('i-00000000000000002').state = 'stopped';
    const bad = await s.f.task(['doctor'], { env: s.env });
    expect(bad.code, bad.stdout + bad.stderr).toBe(2);
    expect(bad.stdout).toMatch(/host2\s+ec2\s+FAIL\s+host2 \(i-00000000000000002\): instance is stopped/);
    s.aws.find('i-00000000000000002').state = 'running';
    const good = await s.f.task(['doctor'], { env: s.env });
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toMatch(/\(this machine\)\s+ec2\s+ok\s+2 instance\(s\) running, checks ok, SSM agents online/);
  });
});
