/**
 * How cutover reaches one host over SSH, and where each value came from (doctor shows it):
 * the environment file first (a host's own value, then `ssh.*`), then the OpenSSH config file
 * (`ssh.config`), then the defaults. Pure: files are read by the caller.
 */
import type { Host, Jump } from '../config/schema.ts';
import { HOP } from '../config/schema.ts';
import { expandTokens, hostConfig, type HostConfig } from './ssh-config.ts';
import type SSHConfig from 'ssh-config';
import { CutoverError } from '../base/errors.ts';

export interface Sourced<T> {
  readonly value: T;
  /** `environment (hosts[].port)`, `~/.ssh/config (Host web-*)`, `default`. */
  readonly from: string;
}

/** One connection's endpoint: a target, or a hop on the way to it. */
export interface Endpoint {
  readonly address: Sourced<string>;
  readonly port: Sourced<number>;
  readonly user: Sourced<string>;
  /** Key files to try, in order (the first that exists is used); empty with only the agent. */
  readonly keys: Sourced<readonly string[]>;
}

export interface Hop extends Endpoint {
  /** As written: `ops@bastion:2222`. */
  readonly spec: string;
}

export interface SshSettings extends Endpoint {
  readonly name: string;
  readonly knownHosts: Sourced<readonly string[]>;
  /** Jump hosts in order (empty: direct). */
  readonly jump: Sourced<readonly Hop[]>;
  /** ssh-agent socket, when ssh.agent is true. */
  readonly agent?: Sourced<string>;
}

export interface SshInput {
  readonly ssh: {
    readonly user?: string;
    readonly knownHosts?: string;
    readonly jump?: Jump;
    readonly agent: boolean;
  };
  /** The private key path (ssh.privateKey, already read from its variable). */
  readonly privateKeyPath?: string;
  /** The parsed config file and how to name it, when ssh.config is on. */
  readonly file?: { readonly label: string; readonly config: SSHConfig };
  readonly home: string;
  readonly localUser: string;
  readonly agentSocket?: string;
}

const DEFAULT_USER = 'ec2-user';
const DEFAULT_KEYS = ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'];

function fromFile(input: SshInput, cfg: HostConfig | undefined, key: string): Sourced<string> | undefined {
  const v = cfg?.get(key);
  return v && input.file ? { value: v.value, from: `${input.file.label} (${v.block})` } : undefined;
}

const home = (p: string, input: SshInput) => (p === '~' || p.startsWith('~/') ? `${input.home}${p.slice(1)}` : p);

/** address, port, user and keys of one endpoint named `given` (a host's address, or a hop's host). */
function endpoint(input: SshInput, given: string, own: { user?: Sourced<string>; port?: Sourced<number> }): Endpoint {
  const cfg = input.file ? hostConfig(input.file.config, given) : undefined;
  const fileUser = fromFile(input, cfg, 'user');
  const user = own.user ?? (input.ssh.user ? { value: input.ssh.user, from: 'environment (ssh.user)' } : undefined) ?? fileUser ?? { value: DEFAULT_USER, from: 'default' };
  const filePort = fromFile(input, cfg, 'port');
  const port = own.port ?? (filePort && /^\d{1,5}$/.test(filePort.value) ? { value: Number(filePort.value), from: filePort.from } : { value: 22, from: 'default' });
  const tokens = { host: given, original: given, port: port.value, user: user.value, localUser: input.localUser, home: input.home };
  const hostName = fromFile(input, cfg, 'hostname');
  const address = hostName ? { value: expandTokens(hostName.value, tokens), from: hostName.from } : { value: given, from: 'environment' };
  let keys: Sourced<readonly string[]>;
  const ids = cfg?.get('identityfile');
  if (input.privateKeyPath) keys = { value: [home(input.privateKeyPath, input)], from: 'environment (ssh.privateKey)' };
  else if (ids && input.file) keys = { value: ids.all.map((k) => expandTokens(k, { ...tokens, host: address.value })), from: `${input.file.label} (${ids.block})` };
  else if (input.file) keys = { value: DEFAULT_KEYS.map((k) => home(k, input)), from: 'default (OpenSSH identities)' };
  else keys = { value: [], from: 'none (ssh-agent)' };
  return { address, port, user, keys };
}

/** `ops@bastion:2222` -> its endpoint (the host part looked up in the config file like a target). */
function hop(input: SshInput, spec: string, from: string): Hop {
  const m = HOP.exec(spec);
  if (!m) throw new CutoverError(`${from}: jump host ${JSON.stringify(spec)} must be [user@]host[:port] (ssh:// addresses are not read)`);
  const [, user, hostPart, port] = m;
  const host = hostPart!.replace(/^\[(.*)\]$/, '$1');
  const e = endpoint(input, host, {
    user: user ? { value: user, from } : undefined,
    port: port ? { value: Number(port), from } : undefined,
  });
  return { spec, ...e, address: e.address.from === 'environment' ? { value: host, from } : e.address };
}

function hops(input: SshInput, specs: readonly string[], from: string): Hop[] {
  return specs.length === 1 && specs[0] === 'none' ? [] : specs.map((s) => hop(input, s, from));
}

export function sshSettings(host: Host, input: SshInput): SshSettings {
  const e = endpoint(input, host.address, {
    user: host.user ? { value: host.user, from: 'environment (hosts[].user)' } : undefined,
    port: host.port ? { value: host.port, from: 'environment (hosts[].port)' } : undefined,
  });
  const cfg = input.file ? hostConfig(input.file.config, host.address) : undefined;
  const kh = cfg?.get('userknownhostsfile');
  const knownHosts: Sourced<readonly string[]> = input.ssh.knownHosts
    ? { value: [home(input.ssh.knownHosts, input)], from: 'environment (ssh.knownHosts)' }
    : kh && input.file
      ? { value: kh.all.map((f) => home(f, input)), from: `${input.file.label} (${kh.block})` }
      : { value: [home('~/.ssh/known_hosts', input)], from: 'default' };
  const pj = fromFile(input, cfg, 'proxyjump');
  const jump = host.jump
    ? { value: hops(input, host.jump, 'environment (hosts[].jump)'), from: 'environment (hosts[].jump)' }
    : input.ssh.jump
      ? { value: hops(input, input.ssh.jump, 'environment (ssh.jump)'), from: 'environment (ssh.jump)' }
      : pj
        ? { value: hops(input, pj.value.split(',').map((s) => s.trim()), pj.from), from: pj.from }
        : { value: [], from: 'default (direct)' };
  const agent = input.ssh.agent && input.agentSocket ? { value: input.agentSocket, from: 'environment (ssh.agent: SSH_AUTH_SOCK)' } : undefined;
  return { name: host.name, ...e, address: e.address.from === 'environment' ? { value: host.address, from: 'environment (hosts[].address)' } : e.address, knownHosts, jump, ...(agent ? { agent } : {}) };
}
