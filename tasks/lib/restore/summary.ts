/** What a restore says at the end, writes in its report, and sends as a notification. Pure. */
import path from 'node:path';
import type { NotifyEvent } from '../notify/payload.ts';
import type { ReportCheck, ReportInput } from '../reports/types.ts';
import { countRows } from './plan.ts';
import { EXIT, VERDICT, type RestoreOutcome } from './outcome.ts';
import type { RunResult } from '../kernel/procedure.ts';
import type { RestoreCtx } from './context.ts';

type RestoreRun = RestoreCtx;

/** The restore's own outcome (set by the run), else what the kernel's outcome means here. */
export function restoreOutcome(run: RestoreRun, r?: Pick<RunResult, 'outcome'>): RestoreOutcome {
  if (run.result) return run.result;
  return r?.outcome === 'interrupted' ? 'interrupted' : 'refused';
}

const rel = (p: string) => path.relative(process.cwd(), p) || p;

/** How to put back the data as it was just before the restore. */
function undoHint(run: RestoreRun): string {
  return run.safety ? `the data as it was before the restore is in the safety backup ${rel(run.safety.dumpPath)}; to put it back: npx tsx tasks/restore.ts ${rel(run.safety.dumpPath)} --env ${run.env.name}` : '';
}

export function headline(run: RestoreRun, outcome: RestoreOutcome): string {
  const file = run.source!.manifest.file;
  const db = run.db.name;
  switch (outcome) {
    case 'restored':
      return `DONE: ${db} restored from ${file}; the row counts of its ${Object.keys(run.source!.manifest.rowCounts).length} tables equal the backup's`;
    case 'counts-differ':
      return `NEEDS ATTENTION: ${db} was restored from ${file} (committed), but the row counts differ from the backup's`;
    case 'failed-unchanged':
      return `FAILED: the restore did not complete, and ${db} was left as it was (one transaction, rolled back): its row counts equal the safety backup's`;
    case 'uncertain':
      return `FAILED, and the state of ${db} is UNCERTAIN: its row counts match neither the safety backup (before) nor ${file}`;
    case 'refused':
      return `REFUSED: no safety backup could be taken, so nothing was restored; ${db} was not touched`;
    case 'interrupted':
      return !run.restoreStarted
        ? `INTERRUPTED before the restore started: ${db} was not touched`
        : {
            'as-before': `INTERRUPTED during the restore: ${db} is as it was before (its row counts equal the safety backup's)`,
            'as-backup': `INTERRUPTED, but the restore had completed: ${db} holds the data of ${file} (row counts equal)`,
            unknown: `INTERRUPTED during the restore, and the state of ${db} is UNKNOWN`,
          }[run.dataState];
  }
}

export function summaryLines(run: RestoreRun, r: RunResult): string[] {
  const outcome = restoreOutcome(run, r);
  const code = EXIT[outcome];
  const lines = [`restore of ${run.env.name}: ${headline(run, outcome)} (exit ${code}), run ${run.runId}`];
  if (run.mismatches.length) lines.push(...run.mismatches.map((x) => `  ${x}`));
  if (r.error && outcome !== 'restored' && outcome !== 'interrupted') lines.push(`  error: ${r.error.split('\n').slice(0, 6).join('\n    ')}`);
  if (run.safety) lines.push(`  safety backup: ${rel(run.safety.dumpPath)}`);
  const risky = outcome === 'uncertain' || outcome === 'counts-differ' || (outcome === 'interrupted' && run.dataState === 'unknown');
  if (risky) lines.push(`  what to do: check ${run.db.name} (who is writing to it?); ${undoHint(run) || 'no safety backup was taken'}`);
  for (const n of [...run.notes, ...r.cleanup]) lines.push(`  note: ${n}`);
  return lines;
}

function countChecks(run: RestoreRun): ReportCheck[] {
  if (!run.countsAfter) return [];
  return countRows(run.source!.manifest.rowCounts, run.countsAfter).map((r) => ({
    host: run.db.name,
    check: `rows ${r.table}`,
    value: r.now === null ? 'absent' : String(r.now),
    threshold: r.backup === null ? 'absent' : `= ${r.backup} (backup)`,
    verdict: r.backup === r.now ? 'ok' : 'fail',
    why: r.backup === r.now ? 'equal to the backup' : `differs from the backup${run.safety && run.safety.manifest.rowCounts[r.table] === r.now ? '; equal to the safety backup (before)' : ''}`,
  }));
}

export function reportInput(run: RestoreRun, r: RunResult, summary: string): ReportInput {
  const m = run.source!.manifest;
  const outcome = restoreOutcome(run, r);
  return {
    kind: 'restore',
    runId: run.runId,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    verdict: VERDICT[outcome],
    title: `restore of ${run.env.name} (${run.db.name}) from ${m.file}: ${VERDICT[outcome]}`,
    summary: [...summary.split('\n').map((l) => l.trim()).filter(Boolean), `run by ${run.who}`],
    steps: run.steps,
    checks: countChecks(run),
    backup: { file: run.source!.dumpPath, sizeBytes: m.sizeBytes, sha256: m.sha256 },
    extra: {
      exitCode: EXIT[outcome],
      outcome: outcome,
      dataState: run.dataState,
      database: { name: run.db.name, host: run.db.host, port: run.db.port, restoreOn: run.runner.host.name },
      source: { file: run.source!.dumpPath, createdAt: m.createdAt, fromTag: m.fromTag, toTag: m.toTag, runId: m.runId },
      safetyBackup: run.safety ? { file: run.safety.dumpPath, sizeBytes: run.safety.manifest.sizeBytes, sha256: run.safety.manifest.sha256 } : null,
      rowCounts: { backup: m.rowCounts, before: run.safety?.manifest.rowCounts ?? run.countsBefore, after: run.countsAfter },
      liveTag: run.liveTag,
      ...(r.error ? { error: r.error } : {}),
    },
  };
}

export function startEvent(run: RestoreRun): NotifyEvent {
  const file = run.source!.manifest.file;
  return {
    kind: 'start',
    title: `restore of ${run.env.name}: ${run.db.name} from ${file}`,
    text: `a safety backup first, then the database is replaced in one transaction`,
    runId: run.runId,
    fields: { database: run.db.name, backup: file, by: run.who },
  };
}

export function endEvent(run: RestoreRun, r: RunResult): NotifyEvent {
  const outcome = restoreOutcome(run, r);
  const kind = outcome === 'restored' ? 'success' : outcome === 'failed-unchanged' || outcome === 'refused' || (outcome === 'interrupted' && run.dataState === 'as-before') ? 'rollback' : 'attention';
  return {
    kind,
    title: `restore of ${run.env.name}: ${VERDICT[outcome]}`,
    text: [headline(run, outcome), kind === 'attention' ? undoHint(run) : ''].filter(Boolean).join('\n'),
    runId: run.runId,
    fields: { database: run.db.name, backup: run.source!.manifest.file, exit: EXIT[outcome], ...(run.safety ? { 'safety backup': path.basename(run.safety.dumpPath) } : {}) },
  };
}
