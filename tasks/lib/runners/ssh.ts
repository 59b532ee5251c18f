/**
 * SSH runner: one connection per host, reused for the whole run, with keepalive and host keys
 * checked against known_hosts. Output is streamed (never `execCommand`, which keeps everything in
 * strings and dies on a database dump); only a tail of each stream is kept in memory.
 */
import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';
import type { Client, ClientChannel } from 'ssh2';
import { randomBytes } from 'node:crypto';
import { display, killTagged, wrapForBash, type Command } from '../commands/shell.ts';
import { CutoverError, ExitCode, HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { verifyHostKey, type HostKeyPolicy } from './host-key.ts';
import { hangUp } from './hang-up.ts';
import { jumpFailure, type JumpChain } from './jump.ts';
import { credentials } from './ssh-auth.ts';
import { hostEntryName } from './known-hosts.ts';
import { confirmGone, countTagged } from './stray.ts';
import { Tail } from './tail.ts';
import { notStarted, type ExecOptions, type ExecResult, type HostTarget, type Runner } from './types.ts';

export interface SshOptions extends HostKeyPolicy {
  /** The private key (or keyFiles: tried in order, the first readable one is used). */
  readonly privateKeyPath?: string;
  readonly keyFiles?: readonly string[];
  readonly passphrase?: string;
  /** ssh-agent socket (SSH_AUTH_SOCK): its keys are offered; the agent is never forwarded to the host. */
  readonly agent?: string;
  /** Jump hosts to go through (shared with the other hosts behind them). */
  readonly jump?: JumpChain;
  readonly keepaliveMs: number;
  readonly connectTimeoutMs: number;
  /** Told what the runner did on its own (a command left running by a lost connection, stopped). */
  readonly onNotice?: (message: string) => void;
}

/** A command left running on the host when the connection dropped under it: still there after stopping it. */
export class StrayCommandError extends CutoverError {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`${host}: ${message}`, ExitCode.needsHuman);
  }
}

interface Stray {
  readonly tag: string;
  /** The command as a person may see it (first line, secrets masked). */
  readonly what: string;
}

export class SshRunner implements Runner {
  private ssh: NodeSSH | null = null;
  private connecting: Promise<NodeSSH> | null = null;
  /** Commands whose connection dropped under them: stopped and confirmed gone before anything else runs. */
  private strays: Stray[] = [];
  /** What the runner did on its own, for the run's output and summary. */
  readonly notices: string[] = [];
  private holdsJump = false;
  /** Exec requests sent on this host's connections (see Runner.commandsRun). */
  commandsRun = 0;
  /** A connection started ahead of the first command (prewarm), and how it ended. */
  private early: Promise<Error | null> | null = null;
  /** A handshake in progress (close() ends it), and which close() it belongs after. */
  private pending: NodeSSH | null = null;
  private generation = 0;
  /** A session opened ahead for the next command (ExecOptions.thenMore). */
  private spare: Spare | null = null;

  constructor(
    readonly host: HostTarget,
    private readonly opts: SshOptions,
  ) {}

  /**
   * Connect once; later calls reuse the connection (and reconnect if it died). A command the
   * connection dropped under is stopped by its tag, and confirmed gone, before this resolves.
   */
  connect(): Promise<NodeSSH> {
    if (this.ssh?.isConnected() && !this.strays.length) return Promise.resolve(this.ssh);
    this.connecting ??= this.ready().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async ready(): Promise<NodeSSH> {
    const ssh = this.ssh?.isConnected() ? this.ssh : await this.open();
    while (this.strays.length) await this.stopStray(ssh.connection!, this.strays[0]!);
    return ssh;
  }

  private notice(message: string): void {
    this.notices.push(message);
    this.opts.onNotice?.(message);
  }

  /** Stop a command the connection dropped under (its tag is bash's $0), and confirm it is gone. */
  private async stopStray(conn: Client, s: Stray): Promise<void> {
    const name = this.host.name;
    const lost = `the connection dropped while \`${s.what}\` ran`;
    const count = await this.execOn(conn, countTagged(s.tag), { track: false });
    const n = Number(count.stdout.trim());
    if (count.code !== 0 || !Number.isInteger(n))
      throw new StrayCommandError(name, `${lost}, and cutover cannot tell whether it still runs (${count.error ?? `pgrep: exit ${count.code} ${count.stderr.trim()}`}). Nothing more was run on this host: look for it (pgrep -af ${s.tag}) and stop it by hand.`);
    if (n > 0) {
      await this.execOn(conn, killTagged(s.tag), { track: false });
      const gone = await this.execOn(conn, confirmGone(s.tag), { track: false });
      if (gone.code !== 0)
        throw new StrayCommandError(name, `${lost}; it still runs on the host after being stopped (tag ${s.tag}): ${gone.stdout.trim() || gone.error || `exit ${gone.code}`}. Nothing more was run on this host: stop it by hand (pkill -KILL -f ${s.tag}) and check the host.`);
    }
    this.strays.shift();
    this.notice(`${name}: ${lost}; on reconnecting, ${n > 0 ? `its ${n} process(es) still running were stopped (tag ${s.tag}) and are gone` : 'it was no longer running'}`);
  }

  private async open(): Promise<NodeSSH> {
    const { host, opts } = this;
    const generation = this.generation;
    const keyFiles = opts.keyFiles ?? (opts.privateKeyPath ? [opts.privateKeyPath] : []);
    const creds = credentials({ keyFiles, passphrase: opts.passphrase, agent: opts.agent });
    if ('problem' in creds) throw new HostUnreachableError(host.name, creds.problem);
    let sock: Duplex | undefined;
    if (opts.jump) {
      if (!this.holdsJump) opts.jump.acquire();
      this.holdsJump = true;
      try {
        sock = await opts.jump.forward(host.address, host.port);
      } catch (err) {
        throw jumpFailure(host.name, opts.jump, err);
      }
    }
    let keyProblem: HostKeyError | null = null;
    const { NodeSSH } = await import('node-ssh'); // loaded when the first host connects, not at start-up
    const ssh = new NodeSSH();
    this.pending = ssh;
    try {
      if (generation !== this.generation) throw new Error('the runner was closed');
      await ssh.connect({
        ...(sock ? { sock } : { host: host.address, port: host.port }),
        username: host.user,
        ...creds.config,
        readyTimeout: opts.connectTimeoutMs,
        keepaliveInterval: opts.keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          keyProblem = verifyHostKey(host.name, host.address, host.port, key, opts);
          return keyProblem === null;
        },
      });
    } catch (err) {
      ssh.dispose();
      this.pending = null;
      if (keyProblem) throw keyProblem;
      const via = opts.jump ? ` through ${opts.jump.describe()}` : '';
      throw new HostUnreachableError(host.name, `cannot connect to ${host.user}@${hostEntryName(host.address, host.port)}${via}: ${(err as Error).message}`);
    }
    ssh.connection?.on('error', () => {}); // a dead connection surfaces as a lost command, not a crash
    this.pending = null;
    if (generation !== this.generation) {
      // closed while connecting (a run that ended before its first command): nothing may stay open
      ssh.dispose();
      throw new HostUnreachableError(host.name, 'the connection was closed before it was used');
    }
    this.ssh = ssh;
    return ssh;
  }

  /** Starts connecting now: the handshake overlaps what the run does meanwhile; the first command waits for it (and gets its error). */
  prewarm(): void {
    this.early ??= this.connect().then(
      () => null,
      (e: Error) => e,
    );
  }

  async exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    if (opts.signal?.aborted) return notStarted(this.host.name, opts); // an abort that came first: nothing starts
    if (this.early) {
      const failed = await this.early;
      this.early = null;
      if (failed) throw failed; // as if this command had connected: not a second attempt
    }
    const ssh = await this.connect();
    // an abort during the handshake: execOn's listener would never fire, and the command would run
    if (opts.signal?.aborted) return notStarted(this.host.name, opts);
    return this.execOn(ssh.connection!, cmd, opts);
  }

  /** `track: false` for the runner's own commands: never counted as strays when the connection drops. */
  private execOn(conn: Client, cmd: Command, opts: ExecOptions & { track?: boolean } = {}): Promise<ExecResult> {
    const started = performance.now();
    const out = new Tail();
    const err = new Tail();
    // the host enforces the timeout itself (sshd may ignore a signal request): coreutils `timeout`
    const secs = opts.timeoutMs ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : 0;
    const tag = `cutover-${randomBytes(8).toString('hex')}`; // finds this command's processes on abort
    const line = secs ? `timeout -k 5 ${secs} ${wrapForBash(cmd, tag)}` : wrapForBash(cmd, tag);
    const stray = () => {
      if (opts.track !== false) this.strays.push({ tag, what: firstLine(display(cmd)) });
    };
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
            this.commandsRun++;
            conn.exec(wrapForBash(killTagged(tag)), (e, ch) => {
              if (e) return stray(), done();
              ch.on('close', () => done()).resume();
              ch.stderr.resume();
              ch.end();
            });
          } catch {
            stray(); // the connection is gone: stopped on the next one
            done();
          }
        });
        void stop.finally(() => {
          channel?.close();
          finish();
        });
      };
      const onAbort = () => kill('aborted');
      const onConnectionClose = () => {
        if (!error) stray();
        error ??= 'connection lost before the command finished';
        finish();
      };
      conn.once('close', onConnectionClose);
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      const onChannel = (e: Error | undefined, ch: ClientChannel) => {
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
          if (code === null && !error && !signal) stray(); // no exit status: it may still run on the host
          if (code === null && !error) error = signal ? `killed by ${signal}` : 'connection lost before the command finished';
          finish();
        });
        // the host's `timeout` answers 124 first; this is the fallback when the host does not answer
        if (opts.timeoutMs) timer = setTimeout(() => kill(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs + 10_000);
        if (opts.stdinStream) opts.stdinStream.pipe(ch);
        else ch.end(cmd.stdin ?? '');
      };
      const spare = opts.track === false || opts.ahead ? null : this.takeSpare(conn);
      const direct = () => {
        this.commandsRun++;
        conn.exec(line, onChannel);
      };
      if (!spare) direct();
      else
        void spare.then((ch) => {
          if (settled) return void ch?.end(); // stopped while it was opening: the line is never sent, nothing runs
          if (!ch) {
            // it ended before its use (the connection, a missing bash): a command of its own
            try {
              return direct();
            } catch (e) {
              return onChannel(e as Error, undefined as unknown as ClientChannel); // the connection is gone: reported as a direct start would be
            }
          }
          ch.write(`${spareLine(line)}\n`); // the line first, then the command's own input, as it reads them
          onChannel(undefined, ch);
        });
      if (opts.thenMore) this.openSpare(conn);
    });
  }

  /**
   * A session for the command that follows (ExecOptions.thenMore): opened now, beside the one
   * running, it waits in `read` for that command's line. The next command then starts after one
   * line on an open channel instead of a channel's opening and its exec request (a round trip).
   */
  private openSpare(conn: Client): void {
    if (this.spare) return;
    const s: Spare = { conn, ended: false, channel: Promise.resolve(null) };
    this.commandsRun++; // an exec request like any other (sshd logs it as the command it runs)
    s.channel = new Promise((resolve) => {
      try {
        conn.exec(SPARE, (e, ch) => {
          if (e) return resolve(null);
          ch.once('close', () => (s.ended = true)); // before its use: unusable
          ch.stderr.resume();
          resolve(ch);
        });
      } catch {
        resolve(null);
      }
    });
    this.spare = s;
  }

  /** The spare session, for a command on `conn`; null when there is none for it. */
  private takeSpare(conn: Client): Promise<ClientChannel | null> | null {
    const s = this.spare;
    this.spare = null;
    if (!s) return null;
    if (s.conn !== conn) {
      void s.channel.then((ch) => ch?.end()); // from a connection replaced since: its `read` ends, it exits
      return null;
    }
    return s.channel.then((ch) => (ch && !s.ended ? ch : null));
  }

  async close(): Promise<void> {
    this.generation++;
    const spare = this.spare;
    this.spare = null;
    void spare?.channel.then((ch) => ch?.end()); // not used: its `read` ends and it exits (the connection closes anyway)
    hangUp(this.pending); // a handshake still in progress (prewarm)
    this.pending = null;
    this.early = null;
    hangUp(this.ssh);
    this.ssh = null;
    if (this.holdsJump) this.opts.jump?.release();
    this.holdsJump = false;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]!;
  return line.length > 100 || text.includes('\n') ? `${line.slice(0, 100)}...` : line;
}

interface Spare {
  readonly conn: Client;
  channel: Promise<ClientChannel | null>;
  /** It closed before its use. */
  ended: boolean;
}

/**
 * What a spare session runs: bash reads one line, turns it back into the command line (spareLine),
 * and becomes that command (`exec`), which then reads the rest of the channel's input as its own.
 * Without a line (the input ended) it exits 0 having run nothing.
 */
export const SPARE = `bash -c 'IFS= read -r c || exit 0; eval "exec $(printf %b "$c")"'`;

/** A command line as one line for SPARE: backslashes doubled and newlines written \n, which `printf %b` undoes (and nothing else: every backslash is escaped). */
export function spareLine(line: string): string {
  return line.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
