/**
 * The rollback chain: the stack of live deployments `rollback` steps back through, bottom first.
 * The rule is state/queries.ts currentAndPrevious's (which returns only the top two): a run that
 * leaves tag T live pushes itself unless T is already on top; a rollback to T pops back to T's
 * latest entry (or pushes itself when T was never on the stack). Each entry's backupFile is the
 * dump taken before it went live: what `rollback --restore-db` restores when it steps back over
 * it. Pure.
 *
 * It belongs in state/queries.ts, with currentAndPrevious computed from it; it is here until it
 * moves (test/unit/backup-protection.test.ts checks that both agree).
 */
import type { HistoryEvent } from '../state/records.ts';
import { deployments, type Deployment } from '../state/queries.ts';

export function liveStack(events: readonly HistoryEvent[]): Deployment[] {
  const runs = new Map(deployments(events).map((d) => [d.runId, d]));
  const stack: Deployment[] = [];
  for (const e of events) {
    // in the order runs finished: the last one to finish decides what is live
    if (e.type !== 'finished' || e.live === null) continue;
    const run = runs.get(e.runId)!;
    if (run.task === 'rollback') {
      let at = stack.length - 1;
      while (at >= 0 && stack[at]!.live !== e.live) at--;
      if (at >= 0) stack.length = at + 1;
      else stack.push(run);
    } else if (stack.at(-1)?.live !== e.live) stack.push(run);
  }
  return stack;
}
