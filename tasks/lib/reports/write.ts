/**
 * Every deploy, rollback, restore and verify leaves a record under `<backupDir>/reports/`:
 * `<UTC start>_<kind>_<runId>.json` (the input, redacted) and `.md` beside it (rendered from the
 * redacted record). Folder 0700, files 0600, each written to `.partial` then renamed.
 */
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { secretValues, type LoadedEnvironment } from '../config/load.ts';
import { compactTimestamp } from '../backup/names.ts';
import { writePrivateFile } from '../base/private-file.ts';
import { renderMarkdown } from './markdown.ts';
import { redactDeep, redactText } from './redact.ts';
import type { ReportInput, ReportPaths, ReportRecord } from './types.ts';

export type { ReportInput, ReportPaths } from './types.ts';

export const REPORTS_DIR = 'reports';

export function reportsDir(env: Pick<LoadedEnvironment, 'backupDir'>): string {
  return path.join(env.backupDir, REPORTS_DIR);
}

/** `2026-11-21T21:13:05.123Z`, deploy, run 20261121T211305Z-a1b2c3 -> `20261121T211305Z_deploy_20261121T211305Z-a1b2c3` */
export function reportBaseName(r: Pick<ReportInput, 'startedAt' | 'kind' | 'runId'>): string {
  const at = new Date(r.startedAt);
  if (Number.isNaN(at.getTime())) throw new Error(`report startedAt is not a time: ${JSON.stringify(r.startedAt)}`);
  return `${compactTimestamp(at)}_${r.kind}_${r.runId.replace(/[^A-Za-z0-9._-]/g, '-')}`;
}

/** The record as written: redacted with the environment's secrets and the PII rules. */
export function reportRecord(env: Pick<LoadedEnvironment, 'name' | 'secrets'>, r: ReportInput): ReportRecord {
  const durationMs = Math.max(0, Date.parse(r.finishedAt) - Date.parse(r.startedAt)) || 0;
  const record: ReportRecord = { reportVersion: 1, ...r, env: r.env ?? env.name, durationMs };
  return redactDeep(record, Object.values(env.secrets));
}

export async function writeReport(env: LoadedEnvironment, r: ReportInput): Promise<ReportPaths> {
  const dir = reportsDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const base = path.join(dir, reportBaseName(r));
  const record = reportRecord(env, r);
  const secrets = secretValues(env);
  // the Markdown is rendered from the redacted record, then redacted once more: nothing it adds escapes
  const jsonPath = `${base}.json`;
  const mdPath = `${base}.md`;
  await writePrivateFile(jsonPath, `${JSON.stringify(record, null, 2)}\n`);
  await writePrivateFile(mdPath, redactText(renderMarkdown(record), secrets));
  return { jsonPath, mdPath };
}
