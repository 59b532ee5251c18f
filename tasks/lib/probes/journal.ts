/**
 * Journal scan: every entry of the units since a moment (by the host's clock), read as
 * `journalctl -o json` lines while they stream in, keeping only the offending ones: priority at or
 * worse than the threshold, or a message matching a fail pattern at any priority.
 */
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { EnvironmentConfig } from '../config/schema.ts';
import { RS } from '../commands/sections.ts';
import { display } from '../commands/shell.ts';
import { journal, parseHostNow } from '../commands/journal.ts';
import { lastLines, run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { excerpt, formatMs } from './text.ts';
import type { JournalEntry, JournalScanResult } from './types.ts';

export type JournalConfig = NonNullable<EnvironmentConfig['verify']['journal']>;
export type PriorityName = JournalConfig['priority'];

export const PRIORITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
/** Offending entries kept in a result; the rest are only counted. */
export const MAX_REPORTED_ENTRIES = 50;
/** Default bound on the entries read (`journalctl -n`). */
export const JOURNAL_LINES = 10_000;

export interface ScanCriteria {
  readonly priority: PriorityName;
  readonly failPatterns: readonly string[];
  readonly secrets?: readonly string[];
  /**
   * Processes whose entries are not this release's: the services' main processes before the
   * restart. Under live traffic the old process keeps logging while it drains, after the clock
   * was read: its errors are not the new release's.
   */
  readonly excludePids?: readonly string[];
}

export interface ScanOutcome {
  readonly entries: JournalEntry[];
  readonly offending: number;
  readonly scanned: number;
  readonly unparsable: number;
}

/** journald keeps a non-UTF-8 message as an array of byte numbers; a too-large one (without -a) as null. */
export function decodeMessage(m: unknown): string {
  if (typeof m === 'string') return m;
  if (Array.isArray(m) && m.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Buffer.from(m as number[]).toString('utf8');
  if (m === null) return '(message not shown by journalctl: too large, or binary)';
  return m === undefined ? '' : JSON.stringify(m);
}

/** Feeds on journalctl -o json output, chunk by chunk; whole lines only. */
export class JournalScanner {
  private readonly threshold: number;
  private readonly patterns: { source: string; re: RegExp }[];
  private readonly secrets: readonly string[];
  private readonly excluded: ReadonlySet<string>;
  private pending = '';
  private readonly out = { entries: [] as JournalEntry[], offending: 0, scanned: 0, unparsable: 0 };

  constructor(criteria: ScanCriteria) {
    this.threshold = PRIORITY_NAMES.indexOf(criteria.priority);
    this.patterns = criteria.failPatterns.map((p) => ({ source: p, re: new RegExp(p) }));
    this.secrets = criteria.secrets ?? [];
    this.excluded = new Set((criteria.excludePids ?? []).filter((p) => p && p !== '0'));
  }

  push(text: string): void {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): ScanOutcome {
    if (this.pending) this.line(this.pending);
    this.pending = '';
    return this.out;
  }

  private line(raw: string): void {
    const line = raw.trim();
    if (!line) return;
    let e: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      e = parsed as Record<string, unknown>;
    } catch {
      this.out.unparsable++;
      return;
    }
    if (this.excluded.has(String(e._PID ?? ''))) return; // the process that ran before the restart
    this.out.scanned++;
    const prio = Number(e.PRIORITY ?? 6); // journald's default for stdout is info
    const message = decodeMessage(e.MESSAGE);
    const hit = this.patterns.find((p) => p.re.test(message));
    const byPriority = Number.isInteger(prio) && prio >= 0 && prio <= this.threshold;
    if (!byPriority && !hit) return;
    this.out.offending++;
    if (this.out.entries.length >= MAX_REPORTED_ENTRIES) return;
    const us = Number(e.__REALTIME_TIMESTAMP ?? 0);
    const unit = String(e._SYSTEMD_UNIT ?? e.UNIT ?? e.SYSLOG_IDENTIFIER ?? '?');
    this.out.entries.push({
      unit,
      time: Number.isFinite(us) && us > 0 ? new Date(Math.floor(us / 1000)).toISOString() : '?',
      timestampUs: Number.isFinite(us) ? us : 0,
      priority: PRIORITY_NAMES[prio] ?? String(e.PRIORITY),
      message: excerpt(message, this.secrets),
      reason: byPriority ? 'priority' : { pattern: hit!.source },
    });
  }
}

/** Scan complete `journalctl -o json` output. */
export function scanJournal(stdout: string, criteria: ScanCriteria): ScanOutcome {
  const s = new JournalScanner(criteria);
  s.push(stdout);
  return s.end();
}

/** `2024-04-05T21:34:38.123Z demo-chat.service err: message`, one line per entry. */
export function formatEntry(e: JournalEntry): string {
  const why = e.reason === 'priority' ? '' : ` [matches /${e.reason.pattern}/]`;
  return `${e.time} ${e.unit} ${e.priority}${why}: ${e.message}`;
}

/** The host's clock now, epoch seconds with fraction: the `since` of a later scan. */
export async function hostNow(runner: Runner, signal?: AbortSignal): Promise<string> {
  return (await hostNowAndPids(runner, [], signal)).now;
}

/** The host's clock, and the main process of each unit (0 when it runs none): read together, just before a restart. */
export async function hostNowAndPids(runner: Runner, units: readonly string[], signal?: AbortSignal): Promise<{ now: string; pids: string[] }> {
  const r = await run(runner, journal.hostNow(units), { timeoutMs: 15_000, signal });
  const [first = '', ...rest] = r.stdout.trim().split('\n');
  return { now: parseHostNow(first), pids: rest.map((p) => p.trim()).filter((p) => /^\d+$/.test(p) && p !== '0') };
}

export interface JournalScanOptions {
  readonly lines?: number;
  /** See ScanCriteria.excludePids. */
  readonly excludePids?: readonly string[];
  readonly sudo?: boolean;
  /** Read these units' states in the same command (the result's `unitStates`). */
  readonly states?: readonly string[];
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly secrets?: readonly string[];
  /** See ExecOptions.thenMore. */
  readonly thenMore?: boolean;
}

/** Run the scan on a host; output is parsed as it streams (never held whole). */
export async function runJournalScan(
  runner: Runner,
  units: readonly string[],
  since: string,
  cfg: Pick<JournalConfig, 'priority' | 'failPatterns'>,
  opts: JournalScanOptions = {},
): Promise<JournalScanResult> {
  const lines = opts.lines ?? JOURNAL_LINES;
  const cmd = journal.since(units, since, { lines, sudo: opts.sudo, ...(opts.states?.length ? { states: opts.states } : {}) });
  const scanner = new JournalScanner({ ...cfg, secrets: opts.secrets, ...(opts.excludePids ? { excludePids: opts.excludePids } : {}) });
  const decoder = new StringDecoder('utf8');
  let streamed = 0;
  // with `states`, the first line is the units' states; the journal follows
  let head = opts.states?.length ? '' : null;
  let unitStates: string[] | undefined;
  const feed = (text: string) => {
    if (head === null) return scanner.push(text);
    head += text;
    const nl = head.indexOf('\n');
    if (nl < 0) return;
    const line = head.slice(0, nl);
    if (line.startsWith(`${RS}states `)) unitStates = line.slice(RS.length + 'states '.length).split(' ');
    const rest = line.startsWith(`${RS}states `) ? head.slice(nl + 1) : head;
    head = null;
    scanner.push(rest);
  };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      streamed += chunk.length;
      feed(decoder.write(chunk));
      done();
    },
  });
  const r = await runner.exec(cmd, { sink, timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal, ...(opts.thenMore ? { thenMore: true } : {}) });
  if (opts.signal?.aborted) throw opts.signal.reason;
  feed(decoder.end());
  if (!streamed && r.stdout) feed(r.stdout); // a runner that answers without streaming (the recorder)
  if (head) scanner.push(head);
  const out = scanner.end();
  const shownCmd = display(cmd, opts.secrets);
  const requested = { method: 'exec', url: `${runner.host.name}: ${shownCmd}` };
  const sinceText = `since @${since} (${isoOfEpoch(since)}, host clock)`;
  const base = {
    name: 'journal',
    requested,
    waitedMs: r.durationMs,
    attempts: 1,
    entries: out.entries,
    offending: out.offending,
    scanned: out.scanned,
    unparsable: out.unparsable,
    ...(unitStates ? { unitStates } : {}),
  };
  if (r.code !== 0) {
    const why = r.error ?? `exited ${r.code}`;
    const tail = lastLines(r.stderr, 5).trim();
    return {
      ...base,
      ok: false,
      detail: `journal scan of ${units.join(', ')} on ${runner.host.name} failed: \`${shownCmd}\` ${why} after ${formatMs(r.durationMs)}${tail ? `: ${tail}` : ''}`,
      got: { status: r.code, body: excerpt(r.stderr, opts.secrets), ...(r.error ? { error: r.error } : {}) },
    };
  }
  const capped = out.scanned >= lines ? ` (only the last ${lines} entries were read)` : '';
  const what = `${out.scanned} entr${out.scanned === 1 ? 'y' : 'ies'} of ${units.join(', ')} ${sinceText}${capped}`;
  const rule = `priority ${cfg.priority} or worse${cfg.failPatterns.length ? `, or matching ${cfg.failPatterns.map((p) => `/${p}/`).join(' ')}` : ''}`;
  const shown = out.entries.map(formatEntry);
  const more = out.offending > out.entries.length ? [`... and ${out.offending - out.entries.length} more`] : [];
  const detail = out.offending
    ? `${out.offending} of ${what} are ${rule}:\n${[...shown, ...more].map((l) => `  ${l}`).join('\n')}`
    : `${what}: none is ${rule}`;
  return { ...base, ok: out.offending === 0, detail, got: { status: r.code, body: shown.slice(0, 3).join(' | ') } };
}

function isoOfEpoch(epoch: string): string {
  const ms = Number(epoch) * 1000;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : epoch;
}
