/** The hosts of an environment as verify and status see them. */
import type { Host } from '../config/schema.ts';
import { resolveHosts } from '../aws/hosts.ts';
import type { LoadedEnvironment } from '../config/load.ts';

/** The listed hosts, or the running instances EC2 discovery finds (`hosts: { ec2: { tags } }`). */
export function environmentHosts(env: LoadedEnvironment, opts: { signal?: AbortSignal } = {}): Promise<Host[]> {
  return resolveHosts(env, opts);
}
