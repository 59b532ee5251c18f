/**
 * The deployment history: append-only JSON lines on the host (the record any machine rolls back
 * from), mirrored line for line in the local backups folder. Reading tolerates damaged lines (a
 * writer killed mid-line): they are skipped and reported, never fatal.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { history } from '../commands/history.ts';
import { redact } from '../commands/shell.ts';
import type { Runner } from '../runners/types.ts';
import { execExpecting } from './exec.ts';
import { HISTORY_FILE, historyFileIn } from './paths.ts';
import { HistoryEvent, HistoryEventToWrite } from './records.ts';

export interface SkippedLine {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly text: string;
  readonly why: 'not JSON' | 'not a known event';
}

export interface HistoryRead {
  /** In file order (the order they were appended), which is the order the queries use. */
  readonly events: HistoryEvent[];
  readonly skipped: SkippedLine[];
}

/** One line of JSON; checked strictly against the shapes the reader applies, secrets masked. */
export function serializeEvent(event: HistoryEvent, secrets: readonly string[] = []): string {
  const line = JSON.stringify(HistoryEventToWrite.parse(event));
  // a secret appears JSON-escaped inside the line when it holds a quote or a backslash
  return redact(line, [...secrets, ...secrets.map((s) => JSON.stringify(s).slice(1, -1))]);
}

/** Pure: the events of a history file's text. */
export function parseHistory(text: string): HistoryRead {
  const events: HistoryEvent[] = [];
  const skipped: SkippedLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped.push({ line: i + 1, text: line, why: 'not JSON' });
      return;
    }
    const parsed = HistoryEvent.safeParse(value);
    if (parsed.success) events.push(parsed.data);
    else skipped.push({ line: i + 1, text: line, why: 'not a known event' });
  });
  return { events, skipped };
}

/** Appends the line to `<dir>/history.jsonl` on this machine (folder 0700, file 0600). */
export function appendMirror(dir: string, line: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, HISTORY_FILE);
  appendFileSync(file, (endsTorn(file) ? '\n' : '') + `${line}\n`, { mode: 0o600 });
}

function endsTorn(file: string): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size === 0) return false;
  const fd = openSync(file, 'r');
  try {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

/**
 * Appends one event: first to the local mirror (so a trace exists even when the host is
 * unreachable), then on the host. Throws CommandFailedError when the host append fails.
 * `hostFirst`: the mirror gets the line only once the host has it (a run's "started" record: a
 * run that could not record its start did not start, and leaves no trace that says it did).
 */
export async function appendHistory(
  runner: Runner,
  stateDir: string,
  localMirrorDir: string | null,
  event: HistoryEvent,
  opts: { readonly secrets?: readonly string[]; readonly hostFirst?: boolean } = {},
): Promise<void> {
  const line = serializeEvent(event, opts.secrets);
  if (localMirrorDir && !opts.hostFirst) appendMirror(localMirrorDir, line);
  await appendLine(runner, stateDir, line);
  if (localMirrorDir && opts.hostFirst) appendMirror(localMirrorDir, line);
}

/** Appends one serialized event (serializeEvent) on the host, under the mutex. Throws CommandFailedError. */
export async function appendLine(runner: Runner, stateDir: string, line: string): Promise<void> {
  await execExpecting(runner, history.append(stateDir, line), `append to the deployment history ${historyFileIn(stateDir)}`, [0]);
  addToHistoryCopy(runner, stateDir, line);
}

/**
 * While this process holds the deploy lock of a state folder, only this process appends to its
 * history (another run must take the lock first): the text the lock commands brought back, kept
 * up to date with this run's own lines, answers readHistory without a round trip. The kernel keeps
 * it from the moment the lock is taken until it is released (or lost).
 */
const copies = new WeakMap<Runner, Map<string, string>>();

export function keepHistoryCopy(runner: Runner, stateDir: string, text: string): void {
  let byDir = copies.get(runner);
  if (!byDir) copies.set(runner, (byDir = new Map()));
  byDir.set(stateDir, text);
}

/** The copy with `line` appended as the host appends it (a torn last line closed first). */
export function addToHistoryCopy(runner: Runner, stateDir: string, line: string): void {
  const text = copies.get(runner)?.get(stateDir);
  if (text === undefined) return;
  keepHistoryCopy(runner, stateDir, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`);
}

export function dropHistoryCopy(runner: Runner, stateDir: string): void {
  copies.get(runner)?.delete(stateDir);
}

/** The host's history, whole (streamed: the runners keep only a tail of stdout); from the copy while this run holds the lock. */
export async function readHistory(runner: Runner, stateDir: string): Promise<HistoryRead> {
  const copy = copies.get(runner)?.get(stateDir);
  if (copy !== undefined) return parseHistory(copy);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  await execExpecting(runner, history.read(stateDir), `read the deployment history ${historyFileIn(stateDir)}`, [0], { sink });
  return parseHistory(Buffer.concat(chunks).toString('utf8'));
}
