/**
 * Pure questions about a history (events in file order): the runs, the tag live now and the one a
 * rollback goes back to, and whether a tag was ever verified live.
 */
import type { HistoryEvent, Result, Step, Task } from './records.ts';

export interface Deployment {
  readonly runId: string;
  readonly task: Task;
  readonly env: string;
  /** null when only the finished record exists (the started append failed). */
  readonly who: string | null;
  readonly from: string | null;
  readonly to: string | null;
  /** From the finished record when it names one, else from the started record. */
  readonly backupFile?: string;
  readonly skipBackupReason?: string;
  /** The hosts the run worked on, when it was limited to some (--hosts, --tag). */
  readonly hosts?: readonly string[];
  readonly startedAt: string | null;
  /** null: no finished record: the run was killed without cleanup, or is still running. */
  readonly result: Result | null;
  readonly live: string | null;
  readonly finishedAt: string | null;
  readonly steps: readonly Step[];
  readonly error?: string;
}

/** One record per run id, joining its started and finished events, in the order the runs started. */
export function deployments(events: readonly HistoryEvent[]): Deployment[] {
  const runs = new Map<string, Deployment>();
  for (const e of events) {
    if (e.type === 'lock-forced') continue;
    const had = runs.get(e.runId);
    if (e.type === 'started') {
      runs.set(e.runId, {
        runId: e.runId, task: e.task, env: e.env, who: e.who, from: e.from, to: e.to,
        ...(e.backupFile !== undefined && { backupFile: e.backupFile }),
        ...(e.skipBackupReason !== undefined && { skipBackupReason: e.skipBackupReason }),
        ...(e.hosts !== undefined && { hosts: e.hosts }),
        startedAt: e.at, result: had?.result ?? null, live: had?.live ?? null, finishedAt: had?.finishedAt ?? null, steps: had?.steps ?? [],
        ...(had?.error !== undefined && { error: had.error }),
      });
    } else {
      const base = had ?? { runId: e.runId, task: e.task, env: e.env, who: null, from: null, to: null, startedAt: null };
      runs.set(e.runId, {
        ...base, result: e.result, live: e.live, finishedAt: e.at, steps: e.steps,
        ...(e.backupFile !== undefined && { backupFile: e.backupFile }),
        ...(e.error !== undefined && { error: e.error }),
      });
    }
  }
  return [...runs.values()];
}

export interface LiveTags {
  /** The tag the last successful run left live, or null when no run was ever verified. */
  readonly current: string | null;
  /** What `rollback` goes back to by default, or null when there is nothing before `current`. */
  readonly previous: string | null;
  /** The run that made `current` live (its backupFile is the database before that tag); null when it was live before cutover's first run. */
  readonly currentRun: Deployment | null;
}

/** One entry of the live stack: a tag, and the run that made it live (null: it was live before cutover's first run). */
export interface LiveEntry {
  readonly tag: string;
  readonly run: Deployment | null;
}

/**
 * The stack `rollback` walks down, bottom first. A run that leaves tag T live pushes T (unless it
 * is on top already). A rollback (or a deploy that rolled itself back) that leaves T live drops
 * everything above T's latest entry; when T is not on the stack (a forced rollback), the entry it
 * rolled back from is dropped and T pushed. So `rollback` twice goes back twice, and never forward
 * to a release it rolled back from. The tag live before cutover's first run is the bottom entry.
 */
export function liveStack(events: readonly HistoryEvent[]): LiveEntry[] {
  const runs = new Map(deployments(events).map((d) => [d.runId, d]));
  const stack: LiveEntry[] = [];
  for (const e of events) {
    // in the order runs finished: the last one to finish decides what is live
    if (e.type !== 'finished' || e.live === null) continue;
    const run = runs.get(e.runId)!;
    const tag = e.live;
    if (!stack.length && run.from && run.from !== tag) stack.push({ tag: run.from, run: null });
    const goingBack = run.task === 'rollback' || e.result === 'rolled-back';
    if (goingBack) {
      const at = lastIndexOf(stack, tag);
      if (at >= 0) stack.length = at + 1;
      else {
        stack.pop();
        stack.push({ tag, run });
      }
    } else if (stack.at(-1)?.tag !== tag) stack.push({ tag, run });
  }
  return stack;
}

export function currentAndPrevious(events: readonly HistoryEvent[]): LiveTags {
  const stack = liveStack(events);
  const top = stack.at(-1) ?? null;
  return { current: top?.tag ?? null, previous: stack.at(-2)?.tag ?? null, currentRun: top?.run ?? null };
}

function lastIndexOf(stack: readonly LiveEntry[], tag: string): number {
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i]!.tag === tag) return i;
  return -1;
}

/** Was `tag` ever verified live by a run (deploy, rollback or restore)? */
export function everDeployedOk(events: readonly HistoryEvent[], tag: string): boolean {
  return events.some((e) => e.type === 'finished' && e.live === tag);
}
