import { describe, expect, it } from 'vitest';
import { invocationResult, isTerminal, tail, unfinishedResult, type Invocation, type MessageContext } from '../../tasks/lib/aws/ssm-status.ts';

const t = { hostName: 'web-1', instanceId: 'i-0123456789abcdef0' };
const CMD = '11111111-2222-3333-4444-555555555555';
const ctx: MessageContext = { what: 'restart of api', units: ['api'], timeoutSeconds: 60, executionTimeoutSeconds: 600 };
const timed = { ExecutionStartDateTime: '2026-03-01T10:00:00.000Z', ExecutionEndDateTime: '2026-03-01T10:00:01.250Z' };
const result = (inv: Invocation, c: MessageContext = ctx) => invocationResult(t, CMD, inv, c, 9999);
const REF = ` [SSM command ${CMD}]`;

describe('SSM invocation statuses', () => {
  it('knows which are terminal', () => {
    for (const [s, d] of [['Success', 'Success'], ['Failed', 'Failed'], ['Failed', 'Undeliverable'], ['TimedOut', 'Delivery Timed Out'], ['TimedOut', 'Execution Timed Out'], ['Cancelled', 'Canceled'], ['Cancelled', 'Terminated']])
      expect(isTerminal(s, d)).toBe(true);
    for (const [s, d] of [['Pending', 'Pending'], ['InProgress', 'In Progress'], ['Delayed', 'Delayed'], ['Cancelling', 'Cancelling']]) expect(isTerminal(s, d)).toBe(false);
  });

  it('Success: exit 0 and the time it ran on the host', () => {
    expect(result({ Status: 'Success', StatusDetails: 'Success', ResponseCode: 0, StandardOutputContent: 'active\n', StandardErrorContent: '', ...timed })).toEqual({
      hostName: 'web-1', instanceId: 'i-0123456789abcdef0', commandId: CMD, status: 'Success', statusDetails: 'Success', exitCode: 0,
      stdoutTail: 'active', stderrTail: '', durationMs: 1250, ok: true,
      message: `web-1 (i-0123456789abcdef0): Success: restart of api finished, exit 0, in 1.3 s${REF}`,
    });
  });

  it('Failed: exit code, the stderr tail, and that SSM cut the output and the rest is not kept', () => {
    const r = result({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 5, StandardOutputContent: 'x'.repeat(24_000), StandardErrorContent: 'line 1\nFailed to restart api.service: Unit api.service not found.\n', ...timed });
    expect(r).toMatchObject({ status: 'Failed', exitCode: 5, ok: false, durationMs: 1250, stderrTail: 'line 1\nFailed to restart api.service: Unit api.service not found.' });
    expect(r.message).toBe(
      `web-1 (i-0123456789abcdef0): Failed: the restart of api exited 5 after 1.3 s${REF}\n` +
        '    line 1\n    Failed to restart api.service: Unit api.service not found.\n' +
        '  The output was cut: SSM keeps only the first 24,000 characters of output (8,000 of errors), so its end is missing here. ' +
        'Output past that is not kept (set ssm.cloudWatchLogGroup to keep it in CloudWatch Logs).',
    );
  });

  it('Failed with CloudWatch output: where all of it is', () => {
    const r = result({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 3, StandardOutputContent: 'failed\n', StandardErrorContent: '' }, { ...ctx, cloudWatchLogGroup: '/cutover/prod' });
    expect(r.durationMs).toBe(9999); // no execution times: from SendCommand to the answer
    expect(r.message).toBe(
      `web-1 (i-0123456789abcdef0): Failed: the restart of api exited 3 after 10.0 s${REF}\n    failed\n` +
        '  SSM keeps only the first 24,000 characters of output (8,000 of errors). ' +
        `All of it is in CloudWatch Logs group /cutover/prod, streams ${CMD}/i-0123456789abcdef0/aws-runShellScript/stdout and /stderr.`,
    );
  });

  it('timeouts, undeliverable, terminated and cancelled each say what happened and what to check', () => {
    const msg = (Status: string, StatusDetails: string) => result({ Status: Status as Invocation['Status'], StatusDetails, ResponseCode: -1 }).message;
    expect(msg('TimedOut', 'Delivery Timed Out')).toBe(
      `web-1 (i-0123456789abcdef0): TimedOut (Delivery Timed Out): SSM did not deliver the restart of api within TimeoutSeconds=60: the SSM agent did not pick it up, so nothing ran. ` +
        `Is the agent running and online? aws ssm describe-instance-information --filters Key=InstanceIds,Values=i-0123456789abcdef0${REF}`,
    );
    expect(msg('TimedOut', 'Execution Timed Out')).toBe(
      `web-1 (i-0123456789abcdef0): TimedOut (Execution Timed Out): the restart of api ran longer than executionTimeout=600 s and was stopped; it may have been left half done. Check on the host: systemctl status api.${REF}`,
    );
    expect(msg('Failed', 'Undeliverable')).toBe(
      `web-1 (i-0123456789abcdef0): Failed (Undeliverable): SSM could not deliver the restart of api: the instance is not managed by SSM or its SSM agent is offline (or the instance is stopped or gone), so nothing ran. ` +
        `Check: aws ssm describe-instance-information --filters Key=InstanceIds,Values=i-0123456789abcdef0${REF}`,
    );
    expect(msg('Cancelled', 'Terminated')).toBe(`web-1 (i-0123456789abcdef0): Cancelled (Terminated): SSM stopped the restart of api before it ran here: the command's MaxErrors was exceeded on other instances.${REF}`);
    expect(msg('Cancelled', 'Canceled')).toBe(`web-1 (i-0123456789abcdef0): Cancelled (Canceled): the restart of api was cancelled (CancelCommand) before it finished; it may have partly run. Check on the host: systemctl status api.${REF}`);
    expect(result({ Status: 'TimedOut', StatusDetails: 'Delivery Timed Out', ResponseCode: -1 }).exitCode).toBeNull();
  });

  it('no terminal status: the last one seen and how to look it up', () => {
    expect(unfinishedResult(t, CMD, { status: 'InProgress', details: 'In Progress' }, 'no terminal status within the deadline of 10.0 s', 10_020)).toEqual({
      hostName: 'web-1', instanceId: 'i-0123456789abcdef0', commandId: CMD, status: 'InProgress', statusDetails: 'In Progress', exitCode: null, stdoutTail: '', stderrTail: '', durationMs: 10_020, ok: false,
      message: `web-1 (i-0123456789abcdef0): no result: no terminal status within the deadline of 10.0 s (last status InProgress (In Progress)). See: aws ssm get-command-invocation --command-id ${CMD} --instance-id i-0123456789abcdef0${REF}`,
    });
    expect(unfinishedResult(t, CMD, {}, 'x', 1).message).toContain('(SSM never showed the invocation)');
  });

  it('tails keep the last lines', () => {
    expect(tail(Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n'))).toBe(Array.from({ length: 10 }, (_, i) => `l${i + 20}`).join('\n'));
    expect(tail('a'.repeat(5000)).length).toBe(1500);
    expect(tail(undefined)).toBe('');
  });
});
