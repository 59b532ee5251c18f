/**
 * The lock and the history records in as few round trips as they allow, with every property of
 * the separate commands: the lock is taken atomically (ln) and the "started" line appended under
 * the mutex in the SAME command (when the start cannot be recorded, that command releases the
 * lock: no record, no lock); the "finished" line is appended and, once the caller says so (after
 * its retention), the lock released owner-only, in one more. Builders: commands/lock.ts.
 */
import { CommandFailedError } from '../base/errors.ts';
import { INLINE_EVENT_MAX, LOCK_HELD_EXIT, lockSession } from '../commands/lock.ts';
import { parseSections, RS } from '../commands/sections.ts';
import { lastLines } from '../runners/run.ts';
import { Session } from '../runners/session.ts';
import type { ExecResult, Runner } from '../runners/types.ts';
import { ownerOnlyResult, parseHeld, type LockHolder, type LockOptions, type OwnerOnlyResult } from './lock.ts';
import { historyFileIn, lockFileIn } from './paths.ts';
import type { LockRecord } from './records.ts';

const HISTORY_DONE = /(^|\n)\x1e=history \d+\n/;

/** The protocol lines: what a session printed outside its history section. */
function protocol(stdout: string): string[] {
  const lines: string[] = [];
  let inside = false;
  for (const line of stdout.split('\n')) {
    if (line === `${RS}history`) inside = true;
    else if (inside && line.startsWith(`${RS}=history `)) inside = false;
    else if (!inside && line !== '') lines.push(line);
  }
  return lines;
}

/** What came after `first` (`locked`, `finished`...): an owner-only answer (`released`, `absent`, `not-owner` + holder). */
function releaseAnswer(stdout: string, first: string, o: LockOptions): OwnerOnlyResult | null {
  const lines = protocol(stdout);
  const at = lines.indexOf(first);
  const rest = (at >= 0 ? lines.slice(at + 1) : lines).filter((l) => l !== 'started');
  if (!rest.length) return null;
  try {
    return ownerOnlyResult(`${rest.join('\n')}\n`, o.stale);
  } catch {
    return null;
  }
}

function failure(runner: Runner, what: string, r: ExecResult): CommandFailedError {
  return new CommandFailedError(runner.host.name, what, r.code, lastLines(r.stderr || r.stdout, 20) + (r.error ? `\n(${r.error})` : ''), r.signal);
}

/** The start could not be recorded; the same command released the lock (`release`: what it found, null if unknown). */
export class StartNotRecordedError extends Error {
  constructor(
    message: string,
    readonly release: OwnerOnlyResult | null,
  ) {
    super(message);
  }
}

export type Taken = { readonly ok: true; readonly lock: TakenLock } | { readonly ok: false; readonly holder: LockHolder };

export interface TakeOptions extends LockOptions {
  /** The serialized "started" event, appended in the same command at once (a run with nothing to check in between). */
  readonly startedLine?: string;
  /** Print the history once the lock is ours (a run that checks it again before it starts). */
  readonly history?: boolean;
}

/** Takes the lock; with `startedLine`, records the start in the same command (`start()` then only confirms it). */
export async function takeLock(runner: Runner, stateDir: string, record: LockRecord, o: TakeOptions = {}): Promise<Taken> {
  // a short "started" line travels in the command (nothing to wait for on stdin), a long one on stdin
  const inline = o.startedLine !== undefined && o.startedLine.length <= INLINE_EVENT_MAX;
  // the run's commands follow on this host (at least the "finished" one): a session opens for them now
  const s = new Session(runner, lockSession.takeAndStart(stateDir, record, { history: !!o.history, ...(inline ? { started: o.startedLine! } : {}) }), { thenMore: true });
  if (inline) void s.end();
  else if (o.startedLine !== undefined) s.send(`started\n${o.startedLine}\n`);
  const ready = (out: string) => out.startsWith('locked\n') && (!o.history || HISTORY_DONE.test(out));
  await s.waitFor(ready);
  if (!ready(s.stdout)) {
    const r = await s.done;
    if (r.code === LOCK_HELD_EXIT) return { ok: false, holder: parseHeld(s.stdout || r.stdout, o.stale) };
    throw failure(runner, `take the deploy lock ${lockFileIn(stateDir)}`, r);
  }
  const history = o.history ? (parseSections(s.stdout).get('history')?.out ?? null) : null;
  return { ok: true, lock: new TakenLock(runner, stateDir, s, history, o.startedLine !== undefined, o) };
}

export class TakenLock {
  constructor(
    private readonly runner: Runner,
    private readonly stateDir: string,
    private readonly session: Session,
    /** The history as it was once the lock was ours (when asked for), else null. */
    readonly history: string | null,
    private readonly startSent: boolean,
    private readonly o: LockOptions,
  ) {}

  /** Appends the "started" line (unless it went with the lock). Throws StartNotRecordedError: the lock was released then. */
  async start(line?: string): Promise<void> {
    if (!this.startSent && line === undefined) throw new Error('start() needs the started line: it was not given when the lock was taken');
    const r = await this.session.end(this.startSent ? '' : `started\n${line}\n`);
    if (protocol(this.session.stdout).includes('started')) return;
    const why = lastLines(r.stderr, 5) || r.error || `exit ${r.code}`;
    throw new StartNotRecordedError(`cannot append to the deployment history ${historyFileIn(this.stateDir)} on ${this.runner.host.name} (${why})`, releaseAnswer(this.session.stdout, 'locked', this.o));
  }

  /** Releases the lock instead of starting (a refusal under the lock). */
  async release(): Promise<OwnerOnlyResult> {
    const r = await this.session.end('release\n');
    const answer = releaseAnswer(this.session.stdout, 'locked', this.o);
    if (!answer) throw failure(this.runner, `release the deploy lock ${lockFileIn(this.stateDir)}`, r);
    return answer;
  }
}

export interface Finishing {
  /** The line is in the history on the host. */
  readonly recorded: boolean;
  /** Why it is not (the host's words), when it is not. */
  readonly problem?: string;
  /** The history after the append, when asked for. */
  readonly history: string | null;
  /** Releases the lock (owner-only) and ends the command. */
  release(): Promise<OwnerOnlyResult>;
}

/**
 * Appends the "finished" line and waits: `release()` ends the command, which releases the lock;
 * the lock stays this run's in between (the run's retention runs there). Throws when the command
 * could not run at all (the caller then releases the lock on its own).
 */
export async function finishAndHold(runner: Runner, stateDir: string, runId: string, line: string, o: LockOptions & { history: boolean }): Promise<Finishing> {
  const inline = line.length <= INLINE_EVENT_MAX; // in the command: the host answers without waiting for stdin
  const s = new Session(runner, lockSession.finishAndRelease(stateDir, runId, { history: o.history, ...(inline ? { finished: line } : {}) }));
  if (!inline) s.send(`${line}\n`);
  const first = (out: string) => out.startsWith('finished\n') || out.startsWith('not-recorded\n');
  await s.waitFor((out) => first(out) && (!o.history || HISTORY_DONE.test(out)));
  if (!first(s.stdout)) throw failure(runner, `append to the deployment history ${historyFileIn(stateDir)}`, await s.done);
  const recorded = s.stdout.startsWith('finished\n');
  return {
    recorded,
    ...(recorded ? {} : { problem: lastLines(s.stderr, 5) || 'the host did not confirm the line' }),
    history: o.history ? (parseSections(s.stdout).get('history')?.out ?? null) : null,
    async release() {
      const r = await s.end('release\n');
      const answer = releaseAnswer(s.stdout, recorded ? 'finished' : 'not-recorded', o);
      if (!answer) throw failure(runner, `release the deploy lock ${lockFileIn(stateDir)}`, r);
      return answer;
    },
  };
}
