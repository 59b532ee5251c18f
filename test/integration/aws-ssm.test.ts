// SSM restarts with the real SDK client against the local AWS stand-in, which runs each command
// on the sandbox host mapped to the instance (real sshd, the systemctl stand-in, a real process).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollDelays } from '../../tasks/lib/aws/backoff.ts';
import { sendCommandRequest } from '../../tasks/lib/aws/ssm-command.ts';
import { AwsApiError } from '../../tasks/lib/aws/errors.ts';
import { ssmRestart, ssmRun, type SsmRestartOptions, type SsmUpdate } from '../../tasks/lib/aws/ssm-restart.ts';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { CutoverError, ExitCode } from '../../tasks/lib/base/errors.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { TEST_REGION, useTestAwsEnv } from '../support/aws/env.ts';
import { startAwsForFleet } from '../support/aws/fleet.ts';
import { watchConnections, type ConnectionLog } from '../support/aws/net-guard.ts';
import type { AwsServer } from '../support/aws/server.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';

const UNIT = 'svc';
let fleet: SshFleet;
let aws: AwsServer;
let restoreEnv: () => void;
let net: ConnectionLog;
const runners = new Map<string, SshRunner>();

function runner(h: SshHost): SshRunner {
  let r = runners.get(h.name);
  if (!r) {
    r = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 });
    runners.set(h.name, r);
  }
  return r;
}
const mainPid = async (h: SshHost) => (await runner(h).exec(command(sh`systemctl show -p MainPID --value -- ${UNIT}`))).stdout.trim();
const mainPids = () => Promise.all(fleet.hosts.map(mainPid));

function opts(over: Partial<SsmRestartOptions> = {}): SsmRestartOptions {
  return {
    settings: { region: TEST_REGION, endpoint: aws.endpoint },
    targets: fleet.hosts.map((h, i) => ({ hostName: h.name, instanceId: aws.instances[i]!.instanceId })),
    units: [UNIT], sudo: true, timeoutSeconds: 60, executionTimeoutSeconds: 30,
    pollMinMs: 100, pollMaxMs: 400, deadlineMs: 20_000,
    ...over,
  };
}
const summary = (r: { hosts: { hostName: string; status: string; statusDetails: string; exitCode: number | null; ok: boolean }[] }) =>
  r.hosts.map((h) => [h.hostName, h.status, h.statusDetails, h.exitCode, h.ok]);

beforeAll(async () => {
  restoreEnv = useTestAwsEnv();
  net = watchConnections();
  fleet = await startSshHosts(3, { dir: mkdtempSync(path.join(os.tmpdir(), 'cutover-aws-ssm-')), units: [{ name: UNIT, workingDirectory: '/tmp', execStart: 'sleep 1000' }] });
  await Promise.all(fleet.hosts.map((h) => runner(h).exec(command(sh`systemctl start ${UNIT}`))));
  aws = await startAwsForFleet(fleet);
});

afterEach(async () => {
  await aws.settled();
  aws.knobs = {};
  for (const i of aws.instances) i.knobs = {};
  aws.resetCalls();
});

afterAll(async () => {
  await aws?.close();
  await Promise.all([...runners.values()].map((r) => r.close()));
  await fleet?.stop();
  net?.stop();
  restoreEnv?.();
  // SDK traffic went to the stand-in on 127.0.0.1 only; SSH to the sandbox hosts on 127.x
  expect(net.notLoopback()).toEqual([]);
  expect(net.destinations).toContain(aws.endpoint.replace('http://', ''));
});

describe('restart through SSM', () => {
  it('one SendCommand restarts the unit on every host (a new MainPID), with few API calls', async () => {
    const before = await mainPids();
    expect(before.every((p) => /^[1-9]\d*$/.test(p))).toBe(true);
    aws.knobs = { inProgressMs: 1000 }; // a restart that takes about 1 s, as in the benchmark
    const updates: SsmUpdate[] = [];
    const o = opts({ pollMinMs: 250, pollMaxMs: 2000, onUpdate: (u) => updates.push(u) });
    const r = await ssmRestart(o);
    expect(summary(r)).toEqual(fleet.hosts.map((h) => [h.name, 'Success', 'Success', 0, true]));
    expect(r.ok).toBe(true);
    expect(r.hosts.map((h) => h.stdoutTail)).toEqual(['active', 'active', 'active']);
    // the host's own execution time (about the 1 s InProgress; a timer can fire a millisecond early: not a timing test)
    expect(r.hosts.every((h) => h.commandId === r.commandId && h.durationMs >= 900 && h.message.includes(`[SSM command ${r.commandId}]`))).toBe(true);
    const after = await mainPids();
    after.forEach((p, i) => {
      expect(p).toMatch(/^[1-9]\d*$/);
      expect(p).not.toBe(before[i]);
    });
    // exactly the request sendCommandRequest builds (what --dry-run prints), as the SDK put it on the wire
    expect(r.request).toEqual(sendCommandRequest(o));
    const sent = aws.requests.filter((q) => q.call === 'SSM.SendCommand');
    expect(sent.map((q) => q.input)).toEqual([r.request]);
    expect(sent[0]!.region).toBe(TEST_REGION);
    // polls at 0.25, 0.75, 1.75, 3.75 s ... after SendCommand, each host's until the first one after the run's end
    // (3 for the 1 s InProgress on an idle machine; more when a busy machine makes the restart slower)
    let due = 0;
    const pollsPerHost = 1 + pollDelays(250, 2000, 100).filter((d) => (due += d) < r.durationMs).length;
    expect(aws.calls('SSM.')).toBe(r.apiCalls);
    expect(aws.calls('SSM.GetCommandInvocation')).toBeLessThanOrEqual(pollsPerHost * 3);
    expect(r.apiCalls).toBe(1 + aws.calls('SSM.GetCommandInvocation')); // and the one SendCommand
    for (const h of fleet.hosts) expect(updates.filter((u) => u.hostName === h.name).at(-1)).toMatchObject({ status: 'Success', commandId: r.commandId });
  });

  it('Failed: the exit code and the stderr tail', async () => {
    const r = await ssmRestart(opts({ units: ['nope'], targets: opts().targets.slice(0, 1) }));
    expect(summary(r)).toEqual([['host1', 'Failed', 'Failed', 5, false]]);
    expect(r.hosts[0]!.stderrTail).toBe('Failed to restart nope.service: Unit nope.service not found.');
    expect(r.hosts[0]!.message).toMatch(/^host1 \(i-0+1\): Failed: the restart of nope exited 5 after \d+\.\d s \[SSM command [0-9a-f-]{36}\]\n    Failed to restart nope\.service: Unit nope\.service not found\.\n  SSM keeps only the first 24,000 characters/);
  });

  it('delivery and execution timeouts and an undeliverable instance, each with its message; nothing ran where it was not delivered', async () => {
    const [a, b, c] = aws.instances as [typeof aws.instances[0], typeof aws.instances[0], typeof aws.instances[0]];
    a.knobs = { timeout: 'delivery', pendingMs: 200 };
    b.knobs = { timeout: 'execution', inProgressMs: 200 };
    c.knobs = { undeliverable: true };
    const before = await mainPids();
    const r = await ssmRestart(opts({ maxErrors: 3 }));
    expect(summary(r)).toEqual([
      ['host1', 'TimedOut', 'Delivery Timed Out', null, false],
      ['host2', 'TimedOut', 'Execution Timed Out', null, false],
      ['host3', 'Failed', 'Undeliverable', null, false],
    ]);
    expect(r.hosts[0]!.message).toContain('SSM did not deliver the restart of svc within TimeoutSeconds=60');
    expect(r.hosts[1]!.message).toContain('ran longer than executionTimeout=30 s and was stopped');
    expect(r.hosts[2]!.message).toContain('the instance is not managed by SSM or its SSM agent is offline');
    expect(await mainPids()).toEqual(before);
  });

  it('past MaxErrors SSM stops: the hosts not reached are Terminated; CancelCommand gives Cancelled', async () => {
    aws.instances[0]!.knobs = { timeout: 'execution' };
    const r = await ssmRestart(opts({ maxConcurrency: 1, maxErrors: 0 }));
    expect(r.request).toMatchObject({ MaxConcurrency: '1', MaxErrors: '0' });
    expect(summary(r)).toEqual([
      ['host1', 'TimedOut', 'Execution Timed Out', null, false],
      ['host2', 'Cancelled', 'Terminated', null, false],
      ['host3', 'Cancelled', 'Terminated', null, false],
    ]);
    expect(r.hosts[1]!.message).toContain("the command's MaxErrors was exceeded on other instances");
    aws.knobs = { cancelled: true };
    const c = await ssmRestart(opts({ targets: opts().targets.slice(0, 1) }));
    expect(summary(c)).toEqual([['host1', 'Cancelled', 'Canceled', null, false]]);
  });

  it('InvocationDoesNotExist right after SendCommand is retried, then Pending -> InProgress -> Success', async () => {
    // polls at 0.1, 0.3 (missing), 0.7 (Pending), then every 0.4 s; each phase lasts 3 s so that a busy machine's late polls still see it
    aws.knobs = { missingPolls: 2, pendingMs: 3000, inProgressMs: 3000 };
    const updates: SsmUpdate[] = [];
    const r = await ssmRestart(opts({ onUpdate: (u) => updates.push(u) }));
    expect(summary(r)).toEqual(fleet.hosts.map((h) => [h.name, 'Success', 'Success', 0, true]));
    for (const h of fleet.hosts) expect(updates.filter((u) => u.hostName === h.name).map((u) => u.status)).toEqual(['Pending', 'InProgress', 'Success']);
    expect(aws.command(r.commandId).invocations.get(aws.instances[0]!.instanceId)!.polls).toBeGreaterThanOrEqual(4);
  });

  it('throttling of SendCommand and of the polls is retried with backoff', async () => {
    aws.throttle('SSM.SendCommand', 1);
    aws.throttle('SSM.GetCommandInvocation', 4);
    const r = await ssmRestart(opts());
    expect(summary(r)).toEqual(fleet.hosts.map((h) => [h.name, 'Success', 'Success', 0, true]));
    expect(aws.calls('SSM.SendCommand')).toBe(2);
    expect(aws.command(r.commandId)).toBeDefined();
    expect([...aws.command(r.commandId).invocations.values()].every((i) => i.status === 'Success')).toBe(true);
    expect(r.apiCalls).toBe(aws.calls('SSM.'));
  });

  it('an instance SSM does not manage: SendCommand is refused and says which', async () => {
    aws.instances[2]!.managed = false;
    try {
      const err = await ssmRestart(opts()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsApiError);
      expect((err as Error).message).toBe(
        `SSM.SendCommand (eu-west-1 at ${aws.endpoint}) failed: InvalidInstanceId: Instances [[${aws.instances[2]!.instanceId}]] not in a valid state for account 000000000000`,
      );
    } finally {
      aws.instances[2]!.managed = true;
    }
  });
});

describe('deadline, interruption, output', () => {
  it('at the deadline: no result, the last status, and the invocation is cancelled', async () => {
    aws.knobs = { pendingMs: 5000 };
    const r = await ssmRestart(opts({ targets: opts().targets.slice(0, 1), deadlineMs: 700 }));
    expect(summary(r)).toEqual([['host1', 'Pending', 'Pending', null, false]]);
    expect(r.hosts[0]!.message).toContain('no result: no terminal status within the deadline of 0.7 s; CancelCommand was sent (last status Pending)');
    expect(aws.calls('SSM.CancelCommand')).toBe(1);
    expect(aws.command(r.commandId).invocations.get(aws.instances[0]!.instanceId)!.status).toBe('Cancelled');
  });

  it('an abort stops polling, cancels the command and is an interruption (130)', async () => {
    aws.knobs = { pendingMs: 30_000 };
    const ac = new AbortController();
    let abortedAt = 0;
    // at the first status (Pending): the command was sent (a timer could fire before SendCommand on a busy machine)
    const onUpdate = () => ((abortedAt = performance.now()), ac.abort());
    const err = await ssmRestart(opts({ signal: ac.signal, onUpdate })).catch((e: unknown) => e);
    expect(abortedAt).toBeGreaterThan(0);
    expect(performance.now() - abortedAt).toBeLessThan(15_000); // at the abort, not when the 30 s pending command would end (room for a busy machine)
    expect(err).toBeInstanceOf(CutoverError);
    expect((err as CutoverError).exitCode).toBe(ExitCode.interrupted);
    expect((err as Error).message).toMatch(/^interrupted while SSM command [0-9a-f-]{36} ran \(restart of svc\); CancelCommand was sent/);
    expect(aws.calls('SSM.CancelCommand')).toBe(1);
  });

  it('output past 24,000 characters is cut by SSM, and the message says where the rest is', async () => {
    const r = await ssmRun({ ...opts({ targets: opts().targets.slice(0, 1), cloudWatchLogGroup: '/cutover/sbx' }), what: 'noisy script', commands: ["head -c 30000 /dev/zero | tr '\\0' x", 'echo boom >&2', 'exit 2'] });
    expect(summary(r)).toEqual([['host1', 'Failed', 'Failed', 2, false]]);
    const inv = aws.command(r.commandId).invocations.get(aws.instances[0]!.instanceId)!;
    expect(inv.stdout).toBe('x'.repeat(24_000));
    expect(r.hosts[0]!.stderrTail).toBe('boom');
    expect(r.hosts[0]!.message.split('\n').slice(1)).toEqual([
      '    boom',
      '  The output was cut: SSM keeps only the first 24,000 characters of output (8,000 of errors), so its end is missing here. ' +
        `All of it is in CloudWatch Logs group /cutover/sbx, streams ${r.commandId}/${aws.instances[0]!.instanceId}/aws-runShellScript/stdout and /stderr.`,
    ]);
    expect(r.request.CloudWatchOutputConfig).toEqual({ CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/cutover/sbx' });
  });

  it('executionTimeout is enforced on the host', async () => {
    const t = performance.now();
    const r = await ssmRun({ ...opts({ targets: opts().targets.slice(0, 1), executionTimeoutSeconds: 1 }), what: 'slow script', commands: ['sleep 20'] });
    expect(summary(r)).toEqual([['host1', 'TimedOut', 'Execution Timed Out', null, false]]);
    expect(performance.now() - t).toBeLessThan(12_000); // the 1 s timeout, not the 20 s sleep (room for a busy machine)
  });
});
