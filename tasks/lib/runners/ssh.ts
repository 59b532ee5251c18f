/**
 * SSH runner: one connection per host, reused for the whole run, with keepalive and host keys
 * checked against known_hosts. Output is streamed (never `execCommand`, which keeps everything in
 * strings and dies on a database dump); only a tail of each stream is kept in memory.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { NodeSSH } from 'node-ssh';
import type { ClientChannel } from 'ssh2';
import { randomBytes } from 'node:crypto';
import { killTagged, wrapForBash, type Command } from '../commands/shell.ts';
import { HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { checkHostKey, fingerprint, hostEntryName, knownHostsLine } from './known-hosts.ts';
import { Tail } from './tail.ts';
import type { ExecOptions, ExecResult, HostTarget, Runner } from './types.ts';

export interface SshOptions {
  readonly privateKeyPath: string;
  readonly passphrase?: string;
  readonly knownHostsPath: string;
  readonly hostKeys: 'verify' | 'accept-new';
  readonly keepaliveMs: number;
  readonly connectTimeoutMs: number;
}

export class SshRunner implements Runner {
  private ssh: NodeSSH | null = null;
  private connecting: Promise<NodeSSH> | null = null;

  constructor(
    readonly host: HostTarget,
    private readonly opts: SshOptions,
  ) {}

  /** Connect once; later calls reuse the connection (and reconnect if it died). */
  connect(): Promise<NodeSSH> {
    if (this.ssh?.isConnected()) return Promise.resolve(this.ssh);
    this.connecting ??= this.open().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async open(): Promise<NodeSSH> {
    const { host, opts } = this;
    let keyProblem: HostKeyError | null = null;
    let privateKey: string;
    try {
      privateKey = readFileSync(opts.privateKeyPath, 'utf8');
    } catch (err) {
      throw new HostUnreachableError(host.name, `cannot read the SSH private key ${opts.privateKeyPath}: ${(err as Error).message}`);
    }
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: host.address,
        port: host.port,
        username: host.user,
        privateKey,
        passphrase: opts.passphrase,
        readyTimeout: opts.connectTimeoutMs,
        keepaliveInterval: opts.keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          keyProblem = this.verifyHostKey(key);
          return keyProblem === null;
        },
      });
    } catch (err) {
      ssh.dispose();
      if (keyProblem) throw keyProblem;
      throw new HostUnreachableError(host.name, `cannot connect to ${host.user}@${hostEntryName(host.address, host.port)}: ${(err as Error).message}`);
    }
    ssh.connection?.on('error', () => {}); // a dead connection surfaces as a lost command, not a crash
    this.ssh = ssh;
    return ssh;
  }

  private verifyHostKey(key: Buffer): HostKeyError | null {
    const { host, opts } = this;
    let known = '';
    try {
      known = readFileSync(opts.knownHostsPath, 'utf8');
    } catch {
      // a missing file is "unknown host", reported below
    }
    const v = checkHostKey(known, host.address, host.port, key);
    if (v.ok) return null;
    const name = hostEntryName(host.address, host.port);
    const fp = fingerprint(key);
    if (v.reason === 'unknown' && opts.hostKeys === 'accept-new') {
      appendFileSync(opts.knownHostsPath, knownHostsLine(host.address, host.port, key), { mode: 0o600 });
      return null;
    }
    if (v.reason === 'unknown')
      return new HostKeyError(
        host.name,
        `host key of ${name} (${fp}) is not in ${opts.knownHostsPath}. Check the fingerprint with the host's owner, then add it: ssh-keyscan -p ${host.port} ${host.address} >> ${opts.knownHostsPath}`,
      );
    return new HostKeyError(
      host.name,
      `HOST KEY ${v.reason === 'revoked' ? 'REVOKED' : 'MISMATCH'} for ${name}: it presented ${fp}, ${opts.knownHostsPath} has ${v.known.join(', ') || 'it marked @revoked'}. ` +
        `Someone may be intercepting the connection, or the host was rebuilt. Do not go on until you know which; then update the entry (ssh-keygen -R '${name}' -f ${opts.knownHostsPath}).`,
    );
  }

  async exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    const ssh = await this.connect();
    const started = performance.now();
    const out = new Tail();
    const err = new Tail();
    const conn = ssh.connection!;
    // the host enforces the timeout itself (sshd may ignore a signal request): coreutils `timeout`
    const secs = opts.timeoutMs ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : 0;
    const tag = `cutover-${randomBytes(8).toString('hex')}`; // finds this command's processes on abort
    const line = secs ? `timeout -k 5 ${secs} ${wrapForBash(cmd, tag)}` : wrapForBash(cmd, tag);
    return new Promise<ExecResult>((resolve, reject) => {
      let code: number | null = null;
      let signal: string | undefined;
      let error: string | undefined;
      let settled = false;
      let channel: ClientChannel | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        conn.off('close', onConnectionClose);
        const result = { host: this.host.name, code, signal, error, stdout: out.toString(), stderr: err.toString(), stdoutBytes: out.bytes, durationMs: Math.round(performance.now() - started) };
        if (opts.sink && !opts.sink.writableEnded) opts.sink.end(() => resolve(result));
        else resolve(result);
      };
      // stop the remote command's process groups (sshd may ignore a signal request, and killing
      // the shell alone leaves what it started running), then stop waiting
      const kill = (why: string) => {
        error = why;
        code = null;
        if (opts.sink) channel?.unpipe(opts.sink); // late data must not be written after the sink ended
        channel?.signal('KILL');
        const stop = new Promise<void>((done) => {
          setTimeout(done, 5000).unref();
          try {
            conn.exec(wrapForBash(killTagged(tag)), (e, ch) => {
              if (e) return done();
              ch.on('close', () => done()).resume();
              ch.stderr.resume();
              ch.end();
            });
          } catch {
            done(); // the connection is gone: nothing more can be done from here
          }
        });
        void stop.finally(() => {
          channel?.close();
          finish();
        });
      };
      const onAbort = () => kill('aborted');
      const onConnectionClose = () => {
        error ??= 'connection lost before the command finished';
        finish();
      };
      conn.once('close', onConnectionClose);
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      conn.exec(line, (e, ch) => {
        if (e) {
          settled = true;
          conn.off('close', onConnectionClose);
          opts.signal?.removeEventListener('abort', onAbort);
          reject(new HostUnreachableError(this.host.name, `cannot start a command: ${e.message}`));
          return;
        }
        // listeners go on in this callback, synchronously: ssh2 may deliver the exit status in the
        // same chunk as the exec reply, and an 'exit' emitted before we listen is lost
        channel = ch;
        if (settled) return void ch.close(); // aborted while the channel was opening
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          if (s) signal = s;
          if (secs && c === 124 && performance.now() - started >= secs * 1000 - 50) {
            code = null;
            error = `timed out after ${opts.timeoutMs} ms`;
          }
        });
        ch.on('data', (chunk: Buffer) => {
          out.push(chunk);
          opts.onStdout?.(chunk.toString('utf8'));
        });
        ch.stderr.on('data', (chunk: Buffer) => {
          err.push(chunk);
          opts.onStderr?.(chunk.toString('utf8'));
        });
        // pipe() gives backpressure: a slow disk pauses the remote command instead of filling memory
        if (opts.sink) ch.pipe(opts.sink, { end: false });
        ch.on('close', () => {
          if (code === null && !error) error = signal ? `killed by ${signal}` : 'connection lost before the command finished';
          finish();
        });
        // the host's `timeout` answers 124 first; this is the fallback when the host does not answer
        if (opts.timeoutMs) timer = setTimeout(() => kill(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs + 10_000);
        if (opts.stdinStream) opts.stdinStream.pipe(ch);
        else ch.end(cmd.stdin ?? '');
      });
    });
  }

  async close(): Promise<void> {
    this.ssh?.dispose();
    this.ssh = null;
  }
}
