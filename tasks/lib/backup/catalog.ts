/**
 * What the backup and restore tasks share: the backups as rows (size, age, tags, last verified),
 * a backup named on the command line, where pg_dump and pg_restore run, the tag live now, and
 * recording a verification in the manifest.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Host } from '../config/schema.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { UsageError } from '../base/errors.ts';
import { ageText, sizeText } from '../base/format.ts';
import { thisMachine } from '../runners/local.ts';
import type { Runner } from '../runners/types.ts';
import { readHistory } from '../state/history.ts';
import { currentAndPrevious } from '../state/queries.ts';
import { readManifest, VERIFIED_BY, writeManifest, type BackupManifest } from './manifest.ts';
import { manifestPathFor } from './names.ts';
import { newestVerified, NEWEST_VERIFIED, type Protection } from './protection.ts';
import { listBackups, presence, type BackupEntry } from './retention.ts';
import type { VerifyResult } from './integrity.ts';

export interface BackupRow {
  readonly file: string;
  readonly dumpPath: string;
  /** The dump's size per the manifest; null when the dump file is gone (its manifest remains). */
  readonly sizeBytes: number | null;
  readonly createdAt: string;
  readonly ageMs: number;
  readonly fromTag: string | null;
  readonly toTag: string;
  readonly runId: string;
  readonly database: string;
  readonly host: string;
  readonly sha256: string;
  readonly verified: { readonly at: string; readonly ok: boolean; readonly agoMs: number; readonly problems?: readonly string[] } | null;
  readonly tables: number;
  readonly rows: number;
  /** The dump file is there (false: only its manifest is left; `backup list` says MISSING). */
  readonly present: boolean;
  /** Prune never removes it (protection.ts): the reasons, or none. */
  readonly protected: boolean;
  readonly protectedBy: readonly string[];
}

export function backupRow(e: BackupEntry, nowMs: number, present: boolean, reasons: readonly string[]): BackupRow {
  const m = e.manifest;
  const v = m.verified;
  return {
    file: m.file,
    dumpPath: e.dumpPath,
    sizeBytes: present ? m.sizeBytes : null,
    createdAt: m.createdAt,
    ageMs: Math.max(0, nowMs - Date.parse(m.createdAt)),
    fromTag: m.fromTag,
    toTag: m.toTag,
    runId: m.runId,
    database: m.database,
    host: m.host,
    sha256: m.sha256,
    verified: v ? { at: v.at, ok: v.ok, agoMs: Math.max(0, nowMs - Date.parse(v.at)), ...(v.problems ? { problems: v.problems } : {}) } : null,
    tables: Object.keys(m.rowCounts).length,
    rows: Object.values(m.rowCounts).reduce((a, b) => a + b, 0),
    present,
    protected: reasons.length > 0,
    protectedBy: reasons,
  };
}

/**
 * Every backup in the environment's folder as a row, newest first, marked with its protection
 * (readProtection: from the history on the host). Without it (the history could not be read),
 * only the newest verified dump is known to be protected.
 */
export async function backupRows(dir: string, nowMs = Date.now(), protection: Protection | null = null): Promise<BackupRow[]> {
  const entries = await listBackups(dir);
  const present = await presence(entries);
  const newest = protection ? undefined : newestVerified(entries, present);
  const reasons = (e: BackupEntry) => (protection ? (protection.get(e.dumpPath) ?? []) : e === newest ? [NEWEST_VERIFIED] : []);
  return entries.map((e) => backupRow(e, nowMs, present(e), reasons(e)));
}


export function verifiedText(v: BackupRow['verified']): string {
  if (!v) return 'never';
  return `${v.ok ? 'ok' : 'FAILED'}, ${ageText(v.agoMs)} ago`;
}

/** The `backup list` table (newest first); `*` marks a protected dump (the reasons follow the table: protectionLines). */
export function renderBackupTable(rows: readonly BackupRow[]): string[] {
  const head = ['FILE', 'SIZE', 'AGE', 'TAGS', 'ROWS', 'VERIFIED'];
  const body = rows.map((r) => [
    `${r.file}${r.protected ? ' *' : ''}`,
    sizeText(r.sizeBytes),
    ageText(r.ageMs),
    `${r.fromTag ?? '(none)'} -> ${r.toTag}`,
    `${r.rows} in ${r.tables} tables`,
    verifiedText(r.verified),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`;
  return [line(head), ...body.map(line)];
}

/** Under the table: each protected dump and why prune never removes it. */
export function protectionLines(rows: readonly BackupRow[]): string[] {
  const marked = rows.filter((r) => r.protected);
  if (!marked.length) return [];
  const lines = ['  * protected, prune never removes them:'];
  for (const r of marked) for (const why of r.protectedBy) lines.push(`    ${r.file}${r.present ? '' : ' (MISSING)'}: ${why}`);
  return lines;
}

/**
 * A backup named on the command line: a path to its .dump/.sql (or its .json manifest), or a file
 * name in the environment's backup folder. Needs a valid manifest: cutover restores and verifies
 * only the dumps it described.
 */
export async function resolveBackup(env: LoadedEnvironment, arg: string): Promise<BackupEntry> {
  const direct = path.resolve(arg);
  const inDir = path.join(env.backupDir, arg);
  const candidates = path.basename(arg) === arg ? [inDir, direct] : [direct];
  for (const c of candidates) {
    const dumpPath = c.endsWith('.json') ? null : c;
    const manifestPath = dumpPath ? manifestPathFor(dumpPath) : c;
    if (dumpPath && !/\.(dump|sql)$/.test(dumpPath)) continue;
    const exists = await stat(manifestPath).then(() => true, () => false);
    if (!exists) continue;
    const m = await readManifest(manifestPath);
    if (!m.ok) throw new UsageError(`${arg}: ${m.problem}. Nothing was changed.`);
    return { dumpPath: path.join(path.dirname(manifestPath), m.manifest.file), manifestPath, manifest: m.manifest };
  }
  const names = (await listBackups(env.backupDir)).slice(0, 5).map((e) => e.manifest.file);
  const listed = names.length ? ` Newest in ${env.backupDir}: ${names.join(', ')}.` : ` There are no backups in ${env.backupDir}.`;
  throw new UsageError(`${arg}: no backup with a manifest there (a .dump or .sql file with its .json beside it).${listed} List them: npx tsx tasks/backup.ts list --env ${env.name}`);
}

/** Where pg_dump (and pg_restore) run: the first host (database.dumpOn 'host') or this machine. */
export function dumpRunnerFor(env: LoadedEnvironment, firstHost: Runner): Runner {
  return env.config.database?.dumpOn === 'local' ? thisMachine() : firstHost;
}

/** The tag the history on the first host says is live, or null (none recorded, or unreadable). */
export async function liveTag(runner: Runner, stateDir: string): Promise<string | null> {
  try {
    return currentAndPrevious((await readHistory(runner, stateDir)).events).current;
  } catch {
    return null;
  }
}

/** Writes the outcome of a full read into the manifest's `verified`. */
export async function recordVerification(e: BackupEntry, r: VerifyResult, at = new Date()): Promise<BackupManifest> {
  const problems = r.problems.map((p) => p.message);
  const manifest: BackupManifest = { ...e.manifest, verified: { at: at.toISOString(), by: VERIFIED_BY[e.manifest.format], ok: r.ok, ...(r.ok ? {} : { problems }) } };
  await writeManifest(e.manifestPath, manifest);
  return manifest;
}

/** Hosts of a first-host task: at least one (the schema guarantees it for a list). */
export function firstHost(hosts: readonly Host[]): Host {
  const h = hosts[0];
  if (!h) throw new UsageError('the environment has no hosts');
  return h;
}
