/** The hosts of an environment: its list, or the instances EC2 discovery finds. */
import type { Host } from '../config/schema.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { CutoverError } from '../base/errors.ts';
import { awsSettings } from './settings.ts';

/** The static list as is; with `hosts: { ec2 }`, the running instances with those tags (SDK loaded only then). */
export async function resolveHosts(env: LoadedEnvironment, opts: { signal?: AbortSignal } = {}): Promise<Host[]> {
  const hosts = env.config.hosts;
  if (Array.isArray(hosts)) return hosts;
  const { discoverHosts } = await import('./discover.ts');
  return discoverHosts(awsSettings(env), hosts.ec2, opts);
}

/** The static list, for code that cannot wait for discovery; throws when the hosts are discovered. */
export function hostList(env: LoadedEnvironment): Host[] {
  const hosts = env.config.hosts;
  if (Array.isArray(hosts)) return hosts;
  throw new CutoverError(`${env.file}: hosts are discovered from EC2 (hosts.ec2); this needs resolveHosts()`);
}
