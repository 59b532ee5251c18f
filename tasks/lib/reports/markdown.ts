/**
 * The Markdown report, after the seed's templates (validation report T4.4, post-deployment report
 * T4.7): run info, summary, hosts, step durations, a table of checks (value, threshold, verdict),
 * latency P50/P95/P99, SSM command ids, the backup used, and the verdict. Pure: the same record
 * always gives the same text. A section without data is left out.
 */
import { elapsedText, sizeWithBytes } from '../base/format.ts';
import type { ReportBackup, ReportCheck, ReportRecord } from './types.ts';


/** One table cell: pipes escaped, line breaks kept as <br>. */
function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function table(head: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly (string | number | null | undefined)[])[]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${align.map((a) => (a === 'r' ? '---:' : '---')).join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

const VERDICT_MARK: Record<ReportCheck['verdict'], string> = { ok: '✅ ok', warn: '⚠️ warn', fail: '❌ fail', skip: '➖ skip' };
const ms = (v: number | null) => (v === null ? null : `${Math.round(v)} ms`);

function backupLines(b: ReportBackup): string[] {
  if (b === null) return ['- none (this run takes no backup)'];
  if ('skipped' in b) return [`- skipped: ${b.skipped}`];
  return [`- File: \`${b.file}\``, `- Size: ${sizeWithBytes(b.sizeBytes)}`, `- sha256: \`${b.sha256}\``];
}

/** A code fence longer than any run of backticks in the text. */
function fenced(lang: string, text: string): string[] {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${lang}`, text, fence];
}

export function renderMarkdown(r: ReportRecord): string {
  const out: string[] = [
    `# ${r.title}`,
    '',
    `- Kind: ${r.kind}`,
    `- Environment: ${r.env}`,
    `- Run: ${r.runId}`,
    `- Started: ${r.startedAt}`,
    `- Finished: ${r.finishedAt} (${elapsedText(r.durationMs)})`,
    `- Verdict: **${r.verdict}**`,
    '',
    '## Summary',
    '',
    ...(r.summary.length ? r.summary.map((l) => `- ${l.replace(/\r?\n/g, ' ')}`) : ['- (none)']),
  ];
  const section = (title: string, lines: string[]) => out.push('', `## ${title}`, '', ...lines);
  if (r.hosts?.length) section('Hosts', table(['Host', 'From', 'To', 'State'], ['l', 'l', 'l', 'l'], r.hosts.map((h) => [h.name, h.from, h.to, h.state])));
  if (r.steps?.length)
    section('Steps', table(['Step', 'Duration', 'Result'], ['l', 'r', 'l'], r.steps.map((s) => [s.name, elapsedText(s.durationMs), s.ok ? 'ok' : 'FAILED'])));
  if (r.checks?.length)
    section(
      'Checks',
      table(['Host', 'Check', 'Value', 'Threshold', 'Verdict', 'Why'], ['l', 'l', 'l', 'l', 'l', 'l'], r.checks.map((c) => [c.host, c.check, c.value, c.threshold, VERDICT_MARK[c.verdict], c.why])),
    );
  if (r.latency?.length)
    section('Latency', table(['Host', 'Samples', 'P50', 'P95', 'P99'], ['l', 'r', 'r', 'r', 'r'], r.latency.map((l) => [l.host, l.samples, ms(l.p50), ms(l.p95), ms(l.p99)])));
  if (r.ssmCommands?.length)
    section(
      'SSM commands',
      table(['Host', 'Command id', 'Instance', 'Status', 'Duration'], ['l', 'l', 'l', 'l', 'r'], r.ssmCommands.map((c) => [c.host, c.commandId, c.instanceId, c.status, elapsedText(c.durationMs)])),
    );
  if (r.backup !== undefined) section('Backup', backupLines(r.backup));
  for (const x of r.sections ?? []) section(x.title, [...x.lines]);
  if (r.extra && Object.keys(r.extra).length) section('Details', fenced('json', JSON.stringify(r.extra, null, 2)));
  section('Verdict', [`**${r.verdict}**`]);
  return `${out.join('\n')}\n`;
}
