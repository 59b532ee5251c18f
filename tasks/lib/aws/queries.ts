/** The paginated read-only AWS calls preflight and discovery make (NextToken followed to the end). */
import type { DescribeInstancesCommandInput, EC2Client, Instance, InstanceStatus } from '@aws-sdk/client-ec2';
import type { InstanceInformation, SSMClient } from '@aws-sdk/client-ssm';
import { awsError } from './errors.ts';
import type { AwsSettings } from './settings.ts';
import { describeInstancesCommand, describeInstanceStatusCommand } from './ec2-modules.ts';

/** Ids per request: every one of these calls accepts 50. */
const CHUNK = 50;
const chunks = <T>(xs: readonly T[]): T[][] => Array.from({ length: Math.ceil(xs.length / CHUNK) }, (_, i) => xs.slice(i * CHUNK, (i + 1) * CHUNK));

async function pages<T>(fetch: (token: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetch(token);
    out.push(...page.items);
    token = page.next || undefined;
  } while (token);
  return out;
}

export async function describeInstances(ec2: EC2Client, s: AwsSettings, input: Omit<DescribeInstancesCommandInput, 'NextToken'>, signal?: AbortSignal): Promise<Instance[]> {
  const DescribeInstancesCommand = await describeInstancesCommand();
  return pages(async (token) => {
    const r = await ec2.send(new DescribeInstancesCommand({ ...input, NextToken: token }), { abortSignal: signal }).catch((e: unknown) => {
      throw awsError(e, 'EC2.DescribeInstances', s);
    });
    return { items: (r.Reservations ?? []).flatMap((res) => res.Instances ?? []), next: r.NextToken };
  });
}

/** Instances by id; ids that do not exist are simply absent (a filter, not InstanceIds, which fails the whole call). */
export async function instancesById(ec2: EC2Client, s: AwsSettings, ids: readonly string[], signal?: AbortSignal): Promise<Instance[]> {
  const parts = await Promise.all(chunks(ids).map((c) => describeInstances(ec2, s, { Filters: [{ Name: 'instance-id', Values: c }], MaxResults: 1000 }, signal)));
  return parts.flat();
}

/** Status checks of existing instances, stopped ones included (IncludeAllInstances). */
export async function instanceStatuses(ec2: EC2Client, s: AwsSettings, ids: readonly string[], signal?: AbortSignal): Promise<InstanceStatus[]> {
  const DescribeInstanceStatusCommand = await describeInstanceStatusCommand();
  const parts = await Promise.all(
    chunks(ids).map((c) =>
      pages(async (token) => {
        const r = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: c, IncludeAllInstances: true, NextToken: token }), { abortSignal: signal }).catch((e: unknown) => {
          throw awsError(e, 'EC2.DescribeInstanceStatus', s);
        });
        return { items: r.InstanceStatuses ?? [], next: r.NextToken };
      }),
    ),
  );
  return parts.flat();
}

/** SSM's view of the instances (PingStatus); instances SSM does not manage are absent. */
export async function instanceInformation(ssm: SSMClient, s: AwsSettings, ids: readonly string[], signal?: AbortSignal): Promise<InstanceInformation[]> {
  const { DescribeInstanceInformationCommand } = await import('@aws-sdk/client-ssm');
  const parts = await Promise.all(
    chunks(ids).map((c) =>
      pages(async (token) => {
        const input = { Filters: [{ Key: 'InstanceIds', Values: c }], MaxResults: 50, NextToken: token };
        const r = await ssm.send(new DescribeInstanceInformationCommand(input), { abortSignal: signal }).catch((e: unknown) => {
          throw awsError(e, 'SSM.DescribeInstanceInformation', s);
        });
        return { items: r.InstanceInformationList ?? [], next: r.NextToken };
      }),
    ),
  );
  return parts.flat();
}
