import { describe, expect, it } from 'vitest';
import { preflightProblems } from '../../tasks/lib/aws/ec2-preflight.ts';

const ids = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004', 'i-00000000000000005', 'i-00000000000000006', 'i-00000000000000007'];
const targets = ids.map((instanceId, i) => ({ hostName: `h${i + 1}`, instanceId }));
const running = (id: string) => ({ InstanceId: id, State: { Name: 'running' as const, Code: 16 } });
const ok = (id: string) => ({ InstanceId: id, SystemStatus: { Status: 'ok' as const }, InstanceStatus: { Status: 'ok' as const } });
const online = (id: string) => ({ InstanceId: id, PingStatus: 'Online' as const });

describe('EC2 preflight problems', () => {
  it('none when every instance runs, passes its checks and its agent is online', () => {
    expect(preflightProblems(targets.slice(0, 2), { instances: ids.slice(0, 2).map(running), statuses: ids.slice(0, 2).map(ok), ssm: ids.slice(0, 2).map(online) }, 'eu-west-1')).toEqual([]);
  });

  it('name the host, the instance and its state, in the order of the hosts', () => {
    const [a, b, c, d, e, f] = ids as [string, string, string, string, string, string, string];
    const problems = preflightProblems(
      targets,
      {
        instances: [
          running(a),
          { InstanceId: b, State: { Name: 'stopped', Code: 80 }, StateReason: { Message: 'Client.UserInitiatedShutdown: User initiated shutdown' } },
          { InstanceId: c, State: { Name: 'pending', Code: 0 } },
          running(d), running(e), running(f),
        ],
        statuses: [ok(a), { InstanceId: d, SystemStatus: { Status: 'impaired' }, InstanceStatus: { Status: 'ok' } }, ok(e), ok(f)],
        ssm: [online(a), online(d), { InstanceId: e, PingStatus: 'ConnectionLost', LastPingDateTime: new Date('2026-03-01T09:00:00Z') }],
      },
      'eu-west-1',
    );
    expect(problems).toEqual([
      'h2 (i-00000000000000002): instance is stopped (Client.UserInitiatedShutdown: User initiated shutdown); start it (aws ec2 start-instances --instance-ids i-00000000000000002) or take the host out of the environment',
      'h3 (i-00000000000000003): instance is pending; it is still starting: wait and run again',
      'h4 (i-00000000000000004): status checks not ok: system impaired, instance ok (aws ec2 describe-instance-status --instance-ids i-00000000000000004)',
      'h5 (i-00000000000000005): SSM agent is ConnectionLost, last ping 2026-03-01T09:00:00.000Z: SSM cannot reach the instance; check the agent (systemctl status amazon-ssm-agent) and its network',
      'h6 (i-00000000000000006): not managed by SSM (no SSM agent registered for it): start the SSM agent and give the instance profile the AmazonSSMManagedInstanceCore policy',
      'h7 (i-00000000000000007): no such EC2 instance in eu-west-1 (terminated and gone, or in another region or account?)',
    ]);
  });

  it('leave the agent alone when SSM was not asked (no SSM restarts)', () => {
    const id = ids[0]!;
    expect(preflightProblems([targets[0]!], { instances: [running(id)], statuses: [ok(id)], ssm: null }, 'eu-west-1')).toEqual([]);
    expect(preflightProblems([targets[0]!], { instances: [running(id)], statuses: [], ssm: null }, 'eu-west-1')).toEqual([
      'h1 (i-00000000000000001): status checks not ok: system not reported, instance not reported (aws ec2 describe-instance-status --instance-ids i-00000000000000001)',
    ]);
  });
});
