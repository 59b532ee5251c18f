/** The hosts of an environment as verify and status see them. */
import type { Host } from '../config/schema.ts';
import { resolveHosts } from '../aws/hosts.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { UsageError } from '../base/errors.ts';

/** The listed hosts, or the running instances EC2 discovery finds (`hosts: { ec2: { tags } }`). */
export function environmentHosts(env: LoadedEnvironment, opts: { signal?: AbortSignal } = {}): Promise<Host[]> {
  return resolveHosts(env, opts);
}

/** --host NAME (repeatable): every name must be a host of the environment. */
export function pickHosts(all: readonly Host[], names: readonly string[], file: string): string[] {
  const unknown = names.filter((n) => !all.some((h) => h.name === n));
  if (unknown.length) throw new UsageError(`--host ${unknown.join(', ')}: not a host of ${file}. Hosts: ${all.map((h) => h.name).join(', ')}.`);
  return [...names];
}
