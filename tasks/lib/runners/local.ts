/**
 * Local runner: the same commands, run with bash on this machine (the built-in sandbox host).
 * zx spawns them (loaded at the first command); its output store is replaced by tails so a large
 * output is never held whole.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import os from 'node:os';
import type { ProcessPromise } from 'zx';
import type { Command } from '../commands/shell.ts';
import { mountNamespaceArgv, namespaceKind, type HostMount } from './mount-namespace.ts';
import { Tail } from './tail.ts';
import { notStarted, THIS_MACHINE, type ExecOptions, type ExecResult, type HostTarget, type Runner } from './types.ts';

/** zx keeps every chunk it reads in a "store"; this one keeps only the last TAIL_BYTES. */
class TailStore {
  readonly tail = new Tail();
  get length(): number {
    return 1;
  }
  [index: number]: string | undefined;
  /** zx reads the last chunk's last character at exit: the tail is our one "chunk". */
  get 0(): string {
    return this.tail.toString();
  }
  push(...chunks: (string | Buffer)[]): number {
    for (const c of chunks) this.tail.push(typeof c === 'string' ? Buffer.from(c) : c);
    return 1;
  }
  join(): string {
    return this.tail.toString();
  }
  reduce<U>(fn: (acc: U, cur: string, i: number, arr: string[]) => U, init: U): U {
    return fn(init, this.tail.toString(), 0, [this.tail.toString()]);
  }
  *[Symbol.iterator](): Iterator<string> {
    yield this.tail.toString();
  }
}

/** What a local command gets from this process's environment: where it is and who, language and time, never the rest. */
const PASSED = ['HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'TMPDIR', 'NO_COLOR'];

/**
 * The environment of a local command: PATH (the host's prefix first) and the variables above.
 * Everything else this process holds (`.env` secrets, cloud credentials, tokens) stays here; a
 * command that needs a variable sets it in its own script (as app commands export theirs).
 */
export function localEnv(parent: NodeJS.ProcessEnv, pathPrefix: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) if (v !== undefined && (PASSED.includes(k) || k.startsWith('LC_'))) env[k] = v;
  env.PATH = [...pathPrefix, parent.PATH || '/usr/local/bin:/usr/bin:/bin'].join(':');
  return env;
}

/**
 * zx's spawn, with `--norc` for its shell (and for ours in the command): bash reads ~/.bashrc when
 * its stdin is a socket, as node's pipes are, which would put back into the environment what
 * localEnv leaves out (and costs tens of ms per command).
 */
function spawnNoRc(cmd: string, args: readonly string[], opts: SpawnOptions) {
  const shell = typeof opts.shell === 'string' ? opts.shell : 'bash';
  const child = spawn(shell, ['--norc', '-c', [cmd, ...args].join(' ')], { ...opts, shell: false });
  // a command may exit without reading its input (as over SSH): its exit code says how it went, the broken pipe is no error
  child.stdin?.on('error', () => {});
  return child;
}

/** A runner for this machine (pg_restore checks, dumps with `dumpOn: 'local'`). */
export function thisMachine(): LocalRunner {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? 'root'; // no passwd entry (some containers)
  }
  return new LocalRunner({ name: THIS_MACHINE, address: '127.0.0.1', port: 22, user });
}

export class LocalRunner implements Runner {
  /** Processes started (see Runner.commandsRun). */
  commandsRun = 0;

  constructor(
    readonly host: HostTarget,
    private readonly pathPrefix: readonly string[] = [],
    /** Run every command with this host's own folder mounted at the shared path (./mount-namespace.ts). */
    private readonly mount?: HostMount,
  ) {}

  async exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    if (opts.signal?.aborted) return notStarted(this.host.name, opts); // an abort that came first: nothing starts
    const started = performance.now();
    this.commandsRun++;
    const { $ } = await import('zx'); // loaded by the first local command only: SSH hosts never need it
    const stdout = new TailStore();
    const stderr = new TailStore();
    const env = localEnv(process.env, this.pathPrefix);
    const inNamespace = this.mount ? mountNamespaceArgv(this.mount, await namespaceKind()) : [];
    // an abort while zx loaded: its listener below would never fire, and the command would run
    if (opts.signal?.aborted) return notStarted(this.host.name, opts);
    const ac = new AbortController();
    let error: string | undefined;
    const onAbort = () => {
      error = 'aborted';
      ac.abort();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          error = `timed out after ${opts.timeoutMs} ms`;
          ac.abort();
        }, opts.timeoutMs)
      : undefined;
    // zx quotes the script once more, as the single argument of `bash -c` (the transport, like SSH's exec)
    const p: ProcessPromise = $({
      quiet: true,
      nothrow: true,
      env,
      ac,
      // no input: an empty one, so stdin is closed (as over SSH); zx leaves '' open, and a `read` would wait forever
      input: opts.stdinStream ?? cmd.stdin ?? Buffer.alloc(0),
      store: { stdout, stderr, stdall: new TailStore() },
      spawn: spawnNoRc as unknown as typeof spawn, // zx calls it as (command, [], options)
    })`${inNamespace} bash --norc -o pipefail -c ${cmd.script}`;
    p.stdout.on('data', (c: Buffer) => opts.onStdout?.(c.toString('utf8')));
    p.stderr.on('data', (c: Buffer) => opts.onStderr?.(c.toString('utf8')));
    if (opts.sink) p.stdout.pipe(opts.sink);
    const out = await p;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    if (opts.sink && !opts.sink.writableFinished) {
      // a killed child's stdout may be destroyed without ending the pipe: end the sink ourselves
      p.stdout.unpipe(opts.sink);
      const finished = new Promise((r) => opts.sink!.once('finish', r));
      if (!opts.sink.writableEnded) opts.sink.end();
      await finished;
    }
    return {
      host: this.host.name,
      code: error ? null : out.exitCode,
      signal: out.signal ?? undefined,
      error: error ?? (out.exitCode === null ? `killed by ${out.signal}` : undefined),
      stdout: stdout.tail.toString(),
      stderr: stderr.tail.toString(),
      stdoutBytes: stdout.tail.bytes,
      durationMs: Math.round(performance.now() - started),
    };
  }

  async close(): Promise<void> {}
}
