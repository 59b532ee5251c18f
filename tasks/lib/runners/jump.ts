/**
 * Jump hosts (OpenSSH's ProxyJump): one SSH connection per hop, each through the previous one
 * (`forwardOut` on the hop's client, `sock` for the next), host keys checked against known_hosts
 * exactly like a target's, keepalive on every hop. One chain is shared by every host behind it;
 * it opens on first use, reopens when a hop dropped, and closes with the last host using it.
 */
import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';
import { CutoverError, HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { verifyHostKey } from './host-key.ts';
import { hangUp } from './hang-up.ts';
import { hostEntryName } from './known-hosts.ts';
import { credentials, type ConnectionOptions, type SshAuth } from './ssh-auth.ts';

export interface HopTarget {
  /** As the environment or ssh config wrote it: `ops@bastion:2222`. */
  readonly spec: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly auth: SshAuth;
}

/** A hop failed: names it, its place in the chain, and why (refused, unknown or changed key, authentication). */
export class JumpError extends CutoverError {
  constructor(
    readonly hop: string,
    readonly detail: string,
    readonly keyProblem: boolean,
  ) {
    super(`jump host ${hop}: ${detail}`);
  }
}

const label = (h: HopTarget) => `${h.user}@${hostEntryName(h.address, h.port)}`;

export class JumpChain {
  private clients: NodeSSH[] = [];
  private opening: Promise<NodeSSH> | null = null;
  private users = 0;

  constructor(
    readonly hops: readonly HopTarget[],
    private readonly opts: ConnectionOptions,
  ) {}

  /** `ops@bastion:22 -> 10.0.1.5:22`, for messages. */
  describe(): string {
    return this.hops.map((h) => h.spec).join(' -> ');
  }

  /** A stream to address:port, opened by the last hop; throws JumpError (or HostUnreachableError when the last hop cannot reach it). */
  async forward(address: string, port: number): Promise<Duplex> {
    const last = await this.open();
    const lastHop = this.hops.at(-1)!;
    return new Promise<Duplex>((resolve, reject) => {
      last.connection!.forwardOut('127.0.0.1', 0, address, port, (err, stream) => {
        if (err) reject(new JumpError(`${lastHop.spec} (${label(lastHop)})`, `could not open a connection to ${hostEntryName(address, port)}: ${err.message}`, false));
        else resolve(stream);
      });
    });
  }

  /** Each host using the chain holds it once; the chain closes when the last one releases it. */
  acquire(): void {
    this.users++;
  }

  release(): void {
    if (--this.users <= 0) {
      this.users = 0;
      this.close();
    }
  }

  close(): void {
    for (const c of this.clients.reverse()) hangUp(c);
    this.clients = [];
  }

  private open(): Promise<NodeSSH> {
    const last = this.clients.at(-1);
    if (last?.isConnected() && this.clients.every((c) => c.isConnected())) return Promise.resolve(last);
    this.opening ??= this.connectAll().finally(() => (this.opening = null));
    return this.opening;
  }

  private async connectAll(): Promise<NodeSSH> {
    this.close();
    const opened: NodeSSH[] = [];
    try {
      for (const [i, hop] of this.hops.entries()) {
        const name = `${hop.spec} (${label(hop)}, hop ${i + 1} of ${this.hops.length})`;
        const prev = opened.at(-1);
        let sock: Duplex | undefined;
        if (prev) {
          sock = await new Promise<Duplex>((resolve, reject) =>
            prev.connection!.forwardOut('127.0.0.1', 0, hop.address, hop.port, (err, s) =>
              err ? reject(new JumpError(name, `the previous hop could not open a connection to it: ${err.message}`, false)) : resolve(s),
            ),
          );
        }
        opened.push(await this.connectHop(hop, name, sock));
      }
    } catch (err) {
      for (const c of opened.reverse()) c.dispose();
      throw err;
    }
    this.clients = opened;
    return opened.at(-1)!;
  }

  private async connectHop(hop: HopTarget, name: string, sock: Duplex | undefined): Promise<NodeSSH> {
    const creds = credentials(hop.auth);
    if ('problem' in creds) throw new JumpError(name, creds.problem, false);
    let keyProblem: HostKeyError | null = null;
    const { NodeSSH } = await import('node-ssh');
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        ...(sock ? { sock } : { host: hop.address, port: hop.port }),
        username: hop.user,
        ...creds.config,
        readyTimeout: this.opts.connectTimeoutMs,
        keepaliveInterval: this.opts.keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          keyProblem = verifyHostKey(name, hop.address, hop.port, key, this.opts);
          return keyProblem === null;
        },
      });
    } catch (err) {
      ssh.dispose();
      if (keyProblem) throw new JumpError(name, (keyProblem as HostKeyError).detail, true);
      const why = (err as Error).message;
      throw new JumpError(name, /authentication methods failed/i.test(why) ? `authentication refused for ${hop.user} (${why})` : `cannot connect: ${why}`, false);
    }
    ssh.connection?.on('error', () => {}); // a dropped hop is found at the next use and reopened
    return ssh;
  }
}

/** The error a target reports when its chain failed: unreachable, or a host key refused, naming the hop. */
export function jumpFailure(host: string, chain: JumpChain, err: unknown): Error {
  if (!(err instanceof JumpError)) return err as Error;
  const detail = `through ${chain.describe()}: ${err.message}`;
  return err.keyProblem ? new HostKeyError(host, detail) : new HostUnreachableError(host, detail);
}
