// A request log on a host followed through its runner (real bash here; SSH is the same commands):
// once a file has been read, each later read costs one command — the listing brings the new bytes
// along — and yields exactly the lines a plain read yields, whatever happens to the file.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../tasks/lib/commands/shell.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import type { ExecOptions, Runner } from '../../tasks/lib/runners/types.ts';
import { LogReader, RunnerLogPlace } from '../../tasks/lib/signals/sources/log-reader.ts';

/** The runner of a host, counting the commands it runs. */
function counting(): Runner & { commands: number } {
  const inner = new LocalRunner({ name: 'host-1', address: '127.0.0.1', port: 22, user: os.userInfo().username });
  const r = {
    host: inner.host,
    commands: 0,
    exec: (cmd: Command, opts?: ExecOptions) => {
      r.commands++;
      return inner.exec(cmd, opts);
    },
    close: () => inner.close(),
  };
  return r;
}

const rec = (i: number) => `${JSON.stringify({ timestamp: new Date(Date.UTC(2026, 11, 1, 12) + i * 1000).toISOString(), n: i, text: 'x'.repeat(i % 7) })}\n`;
const recs = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => rec(from + k)).join('');

/** Reads what is new; the records' numbers, in order. */
async function readNew(reader: LogReader): Promise<number[]> {
  const seen: number[] = [];
  await reader.read((buf, a, b) => seen.push((JSON.parse(buf.subarray(a, b).toString('utf8')) as { n: number }).n), { since: Date.UTC(2026, 11, 1) });
  return seen;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('RunnerLogPlace reads ahead with its listing', () => {
  it('one command per read once the file is known, the same lines as a plain read: growth, an unfinished line, more than the read-ahead holds, a rotation, a truncation', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-read-ahead-'));
    const logPath = path.join(dir, 'predictions_{date}.jsonl');
    const day1 = path.join(dir, 'predictions_2026-12-01.jsonl');
    const day2 = path.join(dir, 'predictions_2026-12-02.jsonl');
    const runner = counting();
    const reader = new LogReader('host-1', logPath, new RunnerLogPlace(runner, logPath, 1000));
    writeFileSync(day1, recs(0, 10));

    // the first read lists, then reads: two commands
    expect(await readNew(reader)).toEqual(range(0, 10));
    expect(runner.commands).toBe(2);

    // growth: the listing brings it
    appendFileSync(day1, recs(10, 20));
    expect(await readNew(reader)).toEqual(range(10, 20));
    expect(runner.commands).toBe(3);

    // nothing new: one command, no line
    expect(await readNew(reader)).toEqual([]);
    expect(runner.commands).toBe(4);

    // an unfinished last line waits for its end; read ahead again from its start
    const next = rec(20);
    appendFileSync(day1, next.slice(0, 10));
    expect(await readNew(reader)).toEqual([]);
    appendFileSync(day1, next.slice(10) + rec(21));
    expect(await readNew(reader)).toEqual([20, 21]);
    expect(runner.commands).toBe(6);

    // more than the read-ahead holds (1000 bytes here): what came along, then the rest in one more command
    appendFileSync(day1, recs(22, 80));
    expect(await readNew(reader)).toEqual(range(22, 80));
    expect(runner.commands).toBe(8);

    // the next day's file: listed with yesterday's read-ahead (nothing new there), then read
    writeFileSync(day2, recs(80, 90));
    expect(await readNew(reader)).toEqual(range(80, 90));
    expect(runner.commands).toBe(10);
    appendFileSync(day2, recs(90, 95));
    expect(await readNew(reader)).toEqual(range(90, 95));
    expect(runner.commands).toBe(11);

    // replaced by a shorter file: read again from its start (what came ahead from the old offset is not used)
    writeFileSync(day2, recs(200, 203));
    expect(await readNew(reader)).toEqual(range(200, 203));
  });
});
