/** The hosts of an environment as verify and status see them. */
import type { Host } from '../../../environments/schema.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { UsageError } from '../errors.ts';

/** The listed hosts. `hosts: { ec2: { tags } }` needs discovery, which verify and status do not do yet. */
export async function environmentHosts(env: LoadedEnvironment): Promise<Host[]> {
  const hosts = env.config.hosts;
  if (Array.isArray(hosts)) return hosts;
  // TODO(ec2): resolve with tasks/lib/aws/hosts.ts once it lands
  throw new UsageError(`${env.file}: hosts are discovered from EC2 tags, which verify and status cannot do yet; list the hosts instead`);
}

/** --host NAME (repeatable): every name must be a host of the environment. */
export function pickHosts(all: readonly Host[], names: readonly string[], file: string): string[] {
  const unknown = names.filter((n) => !all.some((h) => h.name === n));
  if (unknown.length) throw new UsageError(`--host ${unknown.join(', ')}: not a host of ${file}. Hosts: ${all.map((h) => h.name).join(', ')}.`);
  return [...names];
}
