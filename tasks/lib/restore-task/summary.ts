/** What a restore says at the end, writes in its report, and sends as a notification. Pure. */
import path from 'node:path';
import type { NotifyEvent } from '../notify/payload.ts';
import type { ReportCheck, ReportInput } from '../reports/types.ts';
import { countRows } from './plan.ts';
import { EXIT, VERDICT } from './outcome.ts';
import type { RestoreRun } from './types.ts';

const rel = (p: string) => path.relative(process.cwd(), p) || p;

/** How to put back the data as it was just before the restore. */
function undoHint(run: RestoreRun): string {
  return run.safety ? `the data as it was before the restore is in the safety backup ${rel(run.safety.dumpPath)}; to put it back: npx tsx tasks/restore.ts ${rel(run.safety.dumpPath)} --env ${run.env.name}` : '';
}

export function headline(run: RestoreRun): string {
  const file = run.source.manifest.file;
  const db = run.db.name;
  switch (run.outcome) {
    case 'restored':
      return `DONE: ${db} restored from ${file}; the row counts of its ${Object.keys(run.source.manifest.rowCounts).length} tables equal the backup's`;
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

export function summaryLines(run: RestoreRun): string[] {
  const code = EXIT[run.outcome];
  const lines = [`restore of ${run.env.name}: ${headline(run)} (exit ${code}), run ${run.runId}`];
  if (run.mismatches.length) lines.push(...run.mismatches.map((x) => `  ${x}`));
  if (run.error && run.outcome !== 'restored') lines.push(`  error: ${run.error.split('\n').slice(0, 6).join('\n    ')}`);
  if (run.safety) lines.push(`  safety backup: ${rel(run.safety.dumpPath)}`);
  const risky = run.outcome === 'uncertain' || run.outcome === 'counts-differ' || (run.outcome === 'interrupted' && run.dataState === 'unknown');
  if (risky) lines.push(`  what to do: check ${run.db.name} (who is writing to it?); ${undoHint(run) || 'no safety backup was taken'}`);
  for (const n of [...run.notes, ...run.cleanup]) lines.push(`  note: ${n}`);
  return lines;
}

function countChecks(run: RestoreRun): ReportCheck[] {
  if (!run.countsAfter) return [];
  return countRows(run.source.manifest.rowCounts, run.countsAfter).map((r) => ({
    host: run.db.name,
    check: `rows ${r.table}`,
    value: r.now === null ? 'absent' : String(r.now),
    threshold: r.backup === null ? 'absent' : `= ${r.backup} (backup)`,
    verdict: r.backup === r.now ? 'ok' : 'fail',
    why: r.backup === r.now ? 'equal to the backup' : `differs from the backup${run.safety && run.safety.manifest.rowCounts[r.table] === r.now ? '; equal to the safety backup (before)' : ''}`,
  }));
}

export function reportInput(run: RestoreRun, finishedAt: Date): ReportInput {
  const m = run.source.manifest;
  return {
    kind: 'restore',
    runId: run.runId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    verdict: VERDICT[run.outcome],
    title: `restore of ${run.env.name} (${run.db.name}) from ${m.file}: ${VERDICT[run.outcome]}`,
    summary: [...summaryLines(run).map((l) => l.trim()), `run by ${run.who}`],
    steps: run.steps,
    checks: countChecks(run),
    backup: { file: run.source.dumpPath, sizeBytes: m.sizeBytes, sha256: m.sha256 },
    extra: {
      exitCode: EXIT[run.outcome],
      outcome: run.outcome,
      dataState: run.dataState,
      database: { name: run.db.name, host: run.db.host, port: run.db.port, restoreOn: run.runner.host.name },
      source: { file: run.source.dumpPath, createdAt: m.createdAt, fromTag: m.fromTag, toTag: m.toTag, runId: m.runId },
      safetyBackup: run.safety ? { file: run.safety.dumpPath, sizeBytes: run.safety.manifest.sizeBytes, sha256: run.safety.manifest.sha256 } : null,
      rowCounts: { backup: m.rowCounts, before: run.safety?.manifest.rowCounts ?? run.countsBefore, after: run.countsAfter },
      liveTag: run.liveTag,
      ...(run.error ? { error: run.error } : {}),
    },
  };
}

export function startEvent(run: RestoreRun): NotifyEvent {
  return {
    kind: 'start',
    title: `restore of ${run.env.name}: ${run.db.name} from ${run.source.manifest.file}`,
    text: `a safety backup first, then the database is replaced in one transaction`,
    runId: run.runId,
    fields: { database: run.db.name, backup: run.source.manifest.file, by: run.who },
  };
}

export function endEvent(run: RestoreRun): NotifyEvent {
  const kind = run.outcome === 'restored' ? 'success' : run.outcome === 'failed-unchanged' || run.outcome === 'refused' || (run.outcome === 'interrupted' && run.dataState === 'as-before') ? 'rollback' : 'attention';
  return {
    kind,
    title: `restore of ${run.env.name}: ${VERDICT[run.outcome]}`,
    text: [headline(run), kind === 'attention' ? undoHint(run) : ''].filter(Boolean).join('\n'),
    runId: run.runId,
    fields: { database: run.db.name, backup: run.source.manifest.file, exit: EXIT[run.outcome], ...(run.safety ? { 'safety backup': path.basename(run.safety.dumpPath) } : {}) },
  };
}
