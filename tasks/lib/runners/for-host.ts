import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Host } from '../config/schema.ts';
import { secret, type LoadedEnvironment } from '../config/load.ts';
import { CutoverError } from '../base/errors.ts';
import { JumpChain } from './jump.ts';
import { LocalRunner } from './local.ts';
import { parseSshConfig } from './ssh-config.ts';
import { sshSettings, type SshSettings } from './ssh-settings.ts';
import { SshRunner } from './ssh.ts';
import type { HostTarget, Runner } from './types.ts';

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'root'; // no passwd entry (some containers)
  }
}

/** The OpenSSH config file of `ssh.config`, parsed once per environment. */
const files = new WeakMap<LoadedEnvironment, { label: string; config: ReturnType<typeof parseSshConfig> } | undefined>();

function configFile(env: LoadedEnvironment): { label: string; config: ReturnType<typeof parseSshConfig> } | undefined {
  if (files.has(env)) return files.get(env);
  const setting = env.config.ssh?.config ?? false;
  let file: { label: string; config: ReturnType<typeof parseSshConfig> } | undefined;
  if (setting !== false) {
    const label = setting === true ? '~/.ssh/config' : setting;
    let text = '';
    try {
      text = readFileSync(expandHome(label), 'utf8');
    } catch (err) {
      // ~/.ssh/config may well not exist; a file named in the environment must
      if (setting !== true) throw new CutoverError(`${env.file}: ssh.config: cannot read ${label}: ${(err as Error).message}`);
    }
    file = { label, config: parseSshConfig(text) };
  }
  files.set(env, file);
  return file;
}

/** Where each SSH value of `host` comes from: the environment, the ssh config file, or the defaults (doctor shows it). */
export function settingsFor(env: LoadedEnvironment, host: Host): SshSettings {
  const ssh = env.config.ssh!; // the schema requires it when any host uses ssh
  const keyPath = secret(env, ssh.privateKey);
  return sshSettings(host, {
    ssh,
    privateKeyPath: keyPath ? expandHome(keyPath) : undefined,
    file: configFile(env),
    home: os.homedir(),
    localUser: localUser(),
    agentSocket: process.env.SSH_AUTH_SOCK,
  });
}

export function targetOf(env: LoadedEnvironment, host: Host): HostTarget {
  if (host.transport === 'local' || !env.config.ssh)
    return { name: host.name, address: host.address, port: host.port ?? 22, user: host.user ?? env.config.ssh?.user ?? localUser() };
  const s = settingsFor(env, host);
  return { name: host.name, address: s.address.value, port: s.port.value, user: s.user.value };
}

/** One chain per environment and list of hops: every host behind the same hops shares its connections. */
const chains = new WeakMap<LoadedEnvironment, Map<string, JumpChain>>();

function chainFor(env: LoadedEnvironment, s: SshSettings, auth: { passphrase?: string; agent?: string }): JumpChain | undefined {
  if (!s.jump.value.length) return undefined;
  const ssh = env.config.ssh!;
  const hops = s.jump.value.map((h) => ({ spec: h.spec, address: h.address.value, port: h.port.value, user: h.user.value, auth: { keyFiles: h.keys.value, ...auth } }));
  const key = JSON.stringify(hops);
  let byKey = chains.get(env);
  if (!byKey) chains.set(env, (byKey = new Map()));
  let chain = byKey.get(key);
  if (!chain) {
    const [knownHostsPath, ...more] = s.knownHosts.value;
    chain = new JumpChain(hops, { knownHostsPath: knownHostsPath!, moreKnownHosts: more, hostKeys: ssh.hostKeys, keepaliveMs: ssh.keepalive, connectTimeoutMs: ssh.connectTimeout });
    byKey.set(key, chain);
  }
  return chain;
}

/** The runner for a host, by its transport. SSH connects lazily, on the first command. */
export function runnerFor(env: LoadedEnvironment, host: Host): Runner {
  const target = targetOf(env, host);
  if (host.transport === 'local') return new LocalRunner(target, host.pathPrefix, host.mount);
  const ssh = env.config.ssh!;
  const s = settingsFor(env, host);
  const auth = { passphrase: secret(env, ssh.passphrase), agent: s.agent?.value };
  if (ssh.agent && !auth.agent) throw new CutoverError(`${env.file}: ssh.agent is true but SSH_AUTH_SOCK is not set: start an agent and add the key (eval "$(ssh-agent)" && ssh-add KEYFILE)`);
  const [knownHostsPath, ...moreKnownHosts] = s.knownHosts.value;
  return new SshRunner(target, {
    keyFiles: s.keys.value,
    ...auth,
    jump: chainFor(env, s, auth),
    knownHostsPath: knownHostsPath!,
    moreKnownHosts,
    hostKeys: ssh.hostKeys,
    keepaliveMs: ssh.keepalive,
    connectTimeoutMs: ssh.connectTimeout,
  });
}
