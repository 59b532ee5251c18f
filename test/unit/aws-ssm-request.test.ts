import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { restartScript, runShellScriptRequest, sendCommandRequest } from '../../tasks/lib/aws/ssm-command.ts';

const targets = [
  { hostName: 'web-1', instanceId: 'i-0123456789abcdef0' },
  { hostName: 'web-2', instanceId: 'i-0123456789abcdef1' },
];
const base = { targets, timeoutSeconds: 60, executionTimeoutSeconds: 600 };

describe('the SendCommand request', () => {
  it('restarts and checks the units with sudo, SSM defaults spelled out', () => {
    expect(sendCommandRequest({ ...base, units: ['demo-chat'], sudo: true })).toEqual({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
      Comment: 'cutover: restart demo-chat',
      Parameters: { commands: ['sudo -n systemctl restart -- demo-chat && systemctl is-active -- demo-chat'], executionTimeout: ['600'] },
      TimeoutSeconds: 60,
      MaxConcurrency: '50',
      MaxErrors: '0',
    });
  });

  it('carries the fleet policy, CloudWatch output and a comment cut at 100 characters', () => {
    const r = sendCommandRequest({ ...base, units: ['api', 'worker@1'], sudo: false, maxConcurrency: '25%', maxErrors: 1, cloudWatchLogGroup: '/cutover/prod', comment: `run ${'x'.repeat(120)}` });
    expect(r).toEqual({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
      Comment: `run ${'x'.repeat(96)}`,
      Parameters: { commands: ['systemctl restart -- api worker@1 && systemctl is-active -- api worker@1'], executionTimeout: ['600'] },
      TimeoutSeconds: 60,
      MaxConcurrency: '25%',
      MaxErrors: '1',
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/cutover/prod' },
    });
  });

  it('runs any script as given', () => {
    expect(runShellScriptRequest({ ...base, targets: [targets[0]!], commands: ['uptime', 'df -h'] }).Parameters).toEqual({ commands: ['uptime', 'df -h'], executionTimeout: ['600'] });
  });

  it('quotes unit names so none can inject a command: bash reads them back byte for byte', () => {
    const units = ["a'b", 'x; touch /tmp/pwned', '$(id)'];
    const script = restartScript(units, true);
    expect(script).toBe(`sudo -n systemctl restart -- 'a'\\''b' 'x; touch /tmp/pwned' '$(id)' && systemctl is-active -- 'a'\\''b' 'x; touch /tmp/pwned' '$(id)'`);
    // stand-ins print each argument in brackets
    const out = execFileSync('bash', ['-c', `sudo() { shift; "$@"; }; systemctl() { printf '[%s]' "$@"; echo; }; ${script}`], { encoding: 'utf8' });
    expect(out).toBe("[restart][--][a'b][x; touch /tmp/pwned][$(id)]\n[is-active][--][a'b][x; touch /tmp/pwned][$(id)]\n");
  });
});
