import os from 'node:os';
import path from 'node:path';
import type { Host } from '../config/schema.ts';
import { secret, type LoadedEnvironment } from '../config/load.ts';
import { LocalRunner } from './local.ts';
import { SshRunner } from './ssh.ts';
import type { HostTarget, Runner } from './types.ts';

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

export function targetOf(env: LoadedEnvironment, host: Host): HostTarget {
  return { name: host.name, address: host.address, port: host.port, user: host.user ?? env.config.ssh?.user ?? os.userInfo().username };
}

/** The runner for a host, by its transport. SSH connects lazily, on the first command. */
export function runnerFor(env: LoadedEnvironment, host: Host): Runner {
  const target = targetOf(env, host);
  if (host.transport === 'local') return new LocalRunner(target, host.pathPrefix);
  const ssh = env.config.ssh!; // the schema requires it when any host uses ssh
  return new SshRunner(target, {
    privateKeyPath: expandHome(secret(env, ssh.privateKey)!),
    passphrase: secret(env, ssh.passphrase),
    knownHostsPath: expandHome(ssh.knownHosts),
    hostKeys: ssh.hostKeys,
    keepaliveMs: ssh.keepalive,
    connectTimeoutMs: ssh.connectTimeout,
  });
}
