/** What one SSH connection (a target or a hop) authenticates with, and how it is checked. */
import { readFileSync } from 'node:fs';
import type { HostKeyPolicy } from './host-key.ts';

export interface SshAuth {
  /** Key files to try, in order: the first that can be read is used. */
  readonly keyFiles: readonly string[];
  readonly passphrase?: string;
  /** ssh-agent socket (SSH_AUTH_SOCK). Never forwarded to the host. */
  readonly agent?: string;
}

export interface ConnectionOptions extends HostKeyPolicy {
  readonly keepaliveMs: number;
  readonly connectTimeoutMs: number;
}

/** ssh2 options for the credentials; a message when there is nothing to authenticate with. */
export interface Credentials {
  readonly privateKey?: string;
  readonly passphrase?: string;
  readonly agent?: string;
  /** Never: a host must not use our keys. */
  readonly agentForward: false;
  /**
   * The methods tried, in order. ssh2 otherwise asks with "none" first to learn what the server
   * allows: one more round trip per connection (80 ms on a 40 ms link) that tells nothing here.
   */
  readonly authHandler: AuthMethod[];
}

type AuthMethod = 'publickey' | 'agent';

export function credentials(auth: SshAuth): { config: Credentials } | { problem: string } {
  const tried: string[] = [];
  for (const file of auth.keyFiles) {
    try {
      const privateKey = readFileSync(file, 'utf8');
      return { config: { privateKey, passphrase: auth.passphrase, agent: auth.agent, agentForward: false, authHandler: auth.agent ? ['publickey', 'agent'] : ['publickey'] } };
    } catch (err) {
      tried.push(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (auth.agent) return { config: { agent: auth.agent, agentForward: false, authHandler: ['agent'] } };
  return { problem: tried.length ? `cannot read the SSH private key (${tried.join('; ')})` : 'no SSH key and no ssh-agent to authenticate with' };
}
