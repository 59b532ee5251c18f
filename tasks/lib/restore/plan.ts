/** What `restore` shows before it asks: the database it replaces, the backup, and the row counts, side by side. Pure. */
import path from 'node:path';
import type { BackupManifest } from '../backup/manifest.ts';
import { sizeText } from '../base/format.ts';
import { RESTORE_FLAGS } from '../commands/pg.ts';
import { ageText } from '../base/format.ts';

export interface CountRow {
  readonly table: string;
  readonly backup: number | null;
  readonly now: number | null;
}

/** Every table on either side, sorted; null where a side does not have it. */
export function countRows(backup: Readonly<Record<string, number>>, now: Readonly<Record<string, number>>): CountRow[] {
  return [...new Set([...Object.keys(backup), ...Object.keys(now)])].sort().map((t) => ({ table: t, backup: backup[t] ?? null, now: now[t] ?? null }));
}

export function countTable(rows: readonly CountRow[], heads: readonly [string, string] = ['IN THE BACKUP', 'NOW']): string[] {
  const n = (v: number | null) => (v === null ? 'absent' : String(v));
  const body = rows.map((r) => [r.table, n(r.backup), n(r.now), r.backup !== null && r.now !== null && r.backup !== r.now ? `(${r.backup - r.now > 0 ? '+' : ''}${r.backup - r.now})` : '']);
  const w = [Math.max(5, ...body.map((b) => b[0]!.length)), Math.max(heads[0].length, ...body.map((b) => b[1]!.length)), Math.max(heads[1].length, ...body.map((b) => b[2]!.length))];
  const line = (c: string[]) => `    ${c[0]!.padEnd(w[0]!)}  ${c[1]!.padStart(w[1]!)}  ${c[2]!.padStart(w[2]!)}${c[3] ? `  ${c[3]}` : ''}`;
  return [line(['TABLE', heads[0], heads[1], '']), ...body.map(line)];
}

export interface PlanInput {
  readonly envName: string;
  readonly dumpPath: string;
  readonly manifest: BackupManifest;
  readonly database: { readonly name: string; readonly host: string; readonly port: number };
  /** Where pg_restore runs (a host name, or `(this machine)`). */
  readonly restoreOn: string;
  readonly liveTag: string | null;
  readonly nowCounts: Readonly<Record<string, number>>;
  readonly nowMs: number;
}

export function planLines(p: PlanInput): string[] {
  const m = p.manifest;
  return [
    '',
    `Restore of ${p.envName}: the database ${p.database.name} on ${p.database.host}:${p.database.port} (pg_restore on ${p.restoreOn}) will be REPLACED by`,
    `  ${path.relative(process.cwd(), p.dumpPath) || p.dumpPath}`,
    `  taken ${m.createdAt} (${ageText(p.nowMs - Date.parse(m.createdAt))} ago) on ${m.host}, between ${m.fromTag ?? '(no tag)'} -> ${m.toTag}, run ${m.runId}`,
    `  ${sizeText(m.sizeBytes)}, sha256 ${m.sha256}: read completely just now, intact`,
    `  live tag now: ${p.liveTag ?? '(none recorded)'}; the code is not changed, only the data`,
    '  row counts:',
    ...countTable(countRows(m.rowCounts, p.nowCounts)),
    `  first a safety backup of ${p.database.name} as it is now; then pg_restore ${RESTORE_FLAGS.join(' ')} (one transaction: all or nothing);`,
    '  then the row counts are compared with the backup\'s. Data written since the backup is lost (it stays in the safety backup).',
    '',
  ];
}
