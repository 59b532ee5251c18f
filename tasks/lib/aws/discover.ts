/** EC2 discovery: the running instances carrying the environment's tags become its hosts. */
import type { Instance } from '@aws-sdk/client-ec2';
import { Host, type Ec2Hosts } from '../config/schema.ts';
import { CutoverError } from '../base/errors.ts';
import { ec2Client } from './clients.ts';
import { describeInstances } from './queries.ts';
import type { AwsSettings } from './settings.ts';

export type DiscoverySpec = Ec2Hosts['ec2'];

const tagOf = (i: Instance, key: string) => i.Tags?.find((t) => t.Key === key)?.Value;

/** A host name from a Name tag: letters, digits, dot, dash, underscore; else the instance id. */
export function hostNameOf(i: Instance): string {
  const name = (tagOf(i, 'Name') ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 100);
  return name || i.InstanceId!;
}

/**
 * Hosts from instances, sorted by name: a Name shared by several instances gets `-<instance id>`
 * added on each. An instance without the address asked for is a problem, not skipped. Pure.
 */
export function hostsFromInstances(instances: readonly Instance[], spec: DiscoverySpec): { hosts: Host[]; problems: string[] } {
  const problems: string[] = [];
  const named = instances.map((i) => ({ i, name: hostNameOf(i) }));
  const count = new Map<string, number>();
  for (const n of named) count.set(n.name, (count.get(n.name) ?? 0) + 1);
  const hosts: Host[] = [];
  for (const { i, name } of named) {
    const address = spec.address === 'public' ? i.PublicIpAddress : i.PrivateIpAddress;
    if (!address) {
      problems.push(`${name} (${i.InstanceId}): has no ${spec.address} IP address (hosts.ec2.address is '${spec.address}')`);
      continue;
    }
    const unique = count.get(name)! > 1 && name !== i.InstanceId ? `${name}-${i.InstanceId}` : name;
    // the instance's tags, for --tag KEY=VALUE (AWS allows 128-character keys and 256-character values)
    const tags = Object.fromEntries((i.Tags ?? []).flatMap((t) => (t.Key ? [[t.Key, t.Value ?? '']] : [])));
    hosts.push(Host.parse({ name: unique, address, instanceId: i.InstanceId, tags, ...(spec.port ? { port: spec.port } : {}), ...(spec.user ? { user: spec.user } : {}) }));
  }
  hosts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { hosts, problems };
}

/** `Role=api, Env=production` */
export const tagsText = (tags: Record<string, string>) => Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(', ');

/**
 * The running instances with every tag of `spec.tags`, as hosts (instanceId set). Throws a
 * CutoverError (exit 2) when none match or one lacks its address, and on AWS errors.
 */
export async function discoverHosts(settings: AwsSettings, spec: DiscoverySpec, opts: { signal?: AbortSignal } = {}): Promise<Host[]> {
  const ec2 = await ec2Client(settings);
  try {
    const Filters = [...Object.entries(spec.tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })), { Name: 'instance-state-name', Values: ['running'] }];
    const instances = await describeInstances(ec2.client, settings, { Filters, MaxResults: 1000 }, opts.signal);
    const { hosts, problems } = hostsFromInstances(instances, spec);
    if (problems.length) throw new CutoverError(`EC2 discovery (${tagsText(spec.tags)} in ${settings.region}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    if (!hosts.length)
      throw new CutoverError(`EC2 discovery found no running instance with tags ${tagsText(spec.tags)} in ${settings.region}; check the tags in hosts.ec2.tags and the region`);
    return hosts;
  } finally {
    ec2.destroy();
  }
}
