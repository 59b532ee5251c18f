/**
 * Signals reports (slo, traffic, validate) beside the other reports: `<backups>/reports/<UTC>_<kind>_<run>.json`
 * and `.md`, redacted (the environment's secrets, and the PII a service may echo), mode 0600.
 */
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { secretValues, type LoadedEnvironment } from '../../config/load.ts';
import { compactTimestamp } from '../../backup/names.ts';
import { writePrivateFile } from '../../base/private-file.ts';
import { redactDeep, redactText } from '../../reports/redact.ts';
import { reportsDir } from '../../reports/write.ts';

export interface SignalsReportPaths {
  readonly jsonPath: string;
  readonly mdPath: string;
}

export async function writeSignalsReport(env: LoadedEnvironment, kind: 'slo' | 'traffic' | 'validate', runId: string, startedAt: string, record: object, markdown: string): Promise<SignalsReportPaths> {
  const dir = reportsDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const base = path.join(dir, `${compactTimestamp(new Date(startedAt))}_${kind}_${runId.replace(/[^A-Za-z0-9._-]/g, '-')}`);
  const secrets = secretValues(env);
  const jsonPath = `${base}.json`;
  const mdPath = `${base}.md`;
  await writePrivateFile(jsonPath, `${JSON.stringify(redactDeep({ reportVersion: 1, kind, env: env.name, runId, ...record }, secrets), null, 2)}\n`);
  await writePrivateFile(mdPath, redactText(markdown, secrets));
  return { jsonPath, mdPath };
}

/** One Markdown table. */
export function mdTable(head: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string[] {
  const cell = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '-' : String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>'));
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}
