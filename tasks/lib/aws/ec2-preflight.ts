/**
 * EC2 preflight for hosts with an instance id, read-only: the instance exists and runs
 * (DescribeInstances), its status checks pass (DescribeInstanceStatus), and its SSM agent is
 * Online (SSM DescribeInstanceInformation). Each problem names the host, the instance and its state.
 */
import type { Instance, InstanceStatus } from '@aws-sdk/client-ec2';
import type { InstanceInformation } from '@aws-sdk/client-ssm';
import { ec2Client, ssmClient } from './clients.ts';
import { instanceInformation, instancesById, instanceStatuses } from './queries.ts';
import type { SsmTarget } from './ssm-command.ts';
import type { AwsSettings } from './settings.ts';

export interface PreflightFacts {
  readonly instances: readonly Instance[];
  readonly statuses: readonly InstanceStatus[];
  /** null: SSM was not asked (no SSM restarts). */
  readonly ssm: readonly InstanceInformation[] | null;
}

const label = (t: SsmTarget) => `${t.hostName} (${t.instanceId})`;

/** The problems the facts show, in the order of the targets. Pure. */
export function preflightProblems(targets: readonly SsmTarget[], facts: PreflightFacts, region: string): string[] {
  const problems: string[] = [];
  for (const t of targets) {
    const inst = facts.instances.find((i) => i.InstanceId === t.instanceId);
    if (!inst) {
      problems.push(`${label(t)}: no such EC2 instance in ${region} (terminated and gone, or in another region or account?)`);
      continue;
    }
    const state = inst.State?.Name ?? 'unknown';
    if (state !== 'running') {
      const why = inst.StateReason?.Message ? ` (${inst.StateReason.Message})` : '';
      const todo =
        state === 'pending' ? 'it is still starting: wait and run again'
        : state === 'terminated' || state === 'shutting-down' ? 'take the host out of the environment'
        : `start it (aws ec2 start-instances --instance-ids ${t.instanceId}) or take the host out of the environment`;
      problems.push(`${label(t)}: instance is ${state}${why}; ${todo}`);
      continue; // its status checks and agent follow from that
    }
    const st = facts.statuses.find((s) => s.InstanceId === t.instanceId);
    const system = st?.SystemStatus?.Status ?? 'not reported';
    const instance = st?.InstanceStatus?.Status ?? 'not reported';
    if (system !== 'ok' || instance !== 'ok')
      problems.push(`${label(t)}: status checks not ok: system ${system}, instance ${instance} (aws ec2 describe-instance-status --instance-ids ${t.instanceId})`);
    if (facts.ssm) {
      const info = facts.ssm.find((i) => i.InstanceId === t.instanceId);
      if (!info)
        problems.push(`${label(t)}: not managed by SSM (no SSM agent registered for it): start the SSM agent and give the instance profile the AmazonSSMManagedInstanceCore policy`);
      else if (info.PingStatus !== 'Online') {
        const seen = info.LastPingDateTime ? `, last ping ${info.LastPingDateTime.toISOString()}` : '';
        problems.push(`${label(t)}: SSM agent is ${info.PingStatus ?? 'unknown'}${seen}: SSM cannot reach the instance; check the agent (systemctl status amazon-ssm-agent) and its network`);
      }
    }
  }
  return problems;
}

export interface Ec2PreflightOptions {
  /** Also check the SSM agent (hosts restarted through SSM); default true. */
  readonly ssm?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * The problems of the targets' instances (empty: all good). Throws a CutoverError (exit 2) when AWS
 * cannot be asked: no or expired credentials (AwsCredentialsError), denied, unreachable.
 */
export async function ec2Preflight(settings: AwsSettings, targets: readonly SsmTarget[], opts: Ec2PreflightOptions = {}): Promise<string[]> {
  if (!targets.length) return [];
  const ids = targets.map((t) => t.instanceId);
  const ec2 = await ec2Client(settings);
  const ssm = opts.ssm === false ? null : await ssmClient(settings);
  try {
    const ec2Side = (async () => {
      const instances = await instancesById(ec2.client, settings, ids, opts.signal);
      // DescribeInstanceStatus fails the whole call on an unknown id: ask only for the ones that exist
      const existing = instances.map((i) => i.InstanceId!).filter(Boolean);
      const statuses = existing.length ? await instanceStatuses(ec2.client, settings, existing, opts.signal) : [];
      return { instances, statuses };
    })();
    const [facts, info] = await Promise.all([ec2Side, ssm ? instanceInformation(ssm.client, settings, ids, opts.signal) : Promise.resolve(null)]);
    return preflightProblems(targets, { ...facts, ssm: info }, settings.region);
  } finally {
    ec2.destroy();
    ssm?.destroy();
  }
}
