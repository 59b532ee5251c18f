import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendMirror, parseHistory, serializeEvent } from '../../tasks/lib/state/history.ts';
import { currentAndPrevious, liveStack, deployments, everDeployedOk } from '../../tasks/lib/state/queries.ts';
import type { FinishedEvent, HistoryEvent, Result, StartedEvent, Task } from '../../tasks/lib/state/records.ts';

let n = 0;
const at = () => `2026-03-01T10:00:${String(n++).padStart(2, '0')}.000Z`;
const started = (runId: string, task: Task, from: string | null, to: string | null, extra: Partial<StartedEvent> = {}): StartedEvent => ({
  type: 'started', runId, task, env: 'staging', who: 'alice@laptop', from, to, at: at(), ...extra,
});
const finished = (runId: string, task: Task, result: Result, live: string | null, extra: Partial<FinishedEvent> = {}): FinishedEvent => ({
  type: 'finished', runId, task, env: 'staging', result, live, steps: [{ name: 'restart', durationMs: 120, ok: result === 'deployed' }], at: at(), ...extra,
});
/** A deploy of `to` from `from` that ended with `result` (live: `to` when deployed, `from` when rolled back). */
const deploy = (runId: string, from: string | null, to: string, result: Result = 'deployed'): HistoryEvent[] => [
  started(runId, 'deploy', from, to),
  finished(runId, 'deploy', result, result === 'deployed' ? to : result === 'rolled-back' ? from : null),
];
const rollback = (runId: string, from: string, to: string, ok = true): HistoryEvent[] => [
  started(runId, 'rollback', from, to),
  finished(runId, 'rollback', ok ? 'deployed' : 'needs-attention', ok ? to : null),
];

describe('parseHistory', () => {
  it('tolerates a torn last line and reports it', () => {
    const a = serializeEvent(started('r1', 'deploy', null, 'v1'));
    const r = parseHistory(`${a}\n{"type":"finished","runId":"r1","ta`);
    expect(r.events).toEqual([started('r1', 'deploy', null, 'v1', { at: r.events[0]!.at })]);
    expect(r.skipped).toEqual([{ line: 2, text: '{"type":"finished","runId":"r1","ta', why: 'not JSON' }]);
  });
  it('skips unknown events and blank lines, keeps file order and line numbers', () => {
    const a = serializeEvent(started('r1', 'deploy', null, 'v1'));
    const b = serializeEvent(finished('r1', 'deploy', 'deployed', 'v1'));
    const r = parseHistory(`${a}\n\n{"type":"party"}\n${b}\n`);
    expect(r.events.map((e) => e.type)).toEqual(['started', 'finished']);
    expect(r.skipped).toEqual([{ line: 3, text: '{"type":"party"}', why: 'not a known event' }]);
    expect(parseHistory('')).toEqual({ events: [], skipped: [] });
  });
});

describe('serializeEvent', () => {
  it('one line, in schema order', () => {
    const e = started('r1', 'deploy', 'v1', 'v2', { backupFile: 'backups/staging/x.dump', at: '2026-01-01T00:00:00.000Z' });
    expect(serializeEvent({ ...e, at: e.at, type: 'started' })).toBe(
      '{"type":"started","runId":"r1","task":"deploy","env":"staging","who":"alice@laptop","from":"v1","to":"v2","backupFile":"backups/staging/x.dump","at":"2026-01-01T00:00:00.000Z"}',
    );
  });
  it('refuses a key the reader would drop (written strictly, read tolerantly)', () => {
    const e = { ...started('r1', 'deploy', 'v1', 'v2', { at: 'T' }), dumpFile: 'x.dump' } as HistoryEvent;
    expect(() => serializeEvent(e)).toThrow('dumpFile');
    expect(parseHistory(`${JSON.stringify(e)}\n`)).toEqual({ events: [started('r1', 'deploy', 'v1', 'v2', { at: 'T' })], skipped: [] });
  });
  it('masks secrets, also where JSON escaped them', () => {
    const e = finished('r1', 'deploy', 'failed', null, { error: 'psql: password "pa\\ss" and s3cr3t rejected', at: 'T' });
    expect(serializeEvent(e, ['s3cr3t', 'pa\\ss'])).toBe(
      '{"type":"finished","runId":"r1","task":"deploy","env":"staging","result":"failed","live":null,"steps":[{"name":"restart","durationMs":120,"ok":false}],"error":"psql: password \\"***\\" and *** rejected","at":"T"}',
    );
  });
  it('refuses an event the reader would not accept', () => {
    expect(() => serializeEvent({ type: 'finished', runId: 'r1' } as HistoryEvent)).toThrow();
  });
});

describe('appendMirror', () => {
  it('creates the folder 0700 and the file 0600, closes a torn last line first', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'mirror-'));
    try {
      const dir = path.join(root, 'backups', 'staging');
      appendMirror(dir, '{"a":1}');
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(dir, 'history.jsonl')).mode & 0o777).toBe(0o600);
      writeFileSync(path.join(dir, 'history.jsonl'), '{"a":1}\n{"b":', { flag: 'w' });
      appendMirror(dir, '{"c":3}');
      expect(readFileSync(path.join(dir, 'history.jsonl'), 'utf8')).toBe('{"a":1}\n{"b":\n{"c":3}\n');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('deployments', () => {
  it('joins started and finished per run; a run without finished has result null', () => {
    const events = [
      ...deploy('r1', null, 'v1'),
      started('r2', 'deploy', 'v1', 'v2', { backupFile: 'b2.dump' }),
      { type: 'lock-forced', runId: 'r3', env: 'staging', who: 'bob@ci', reason: 'r2 was killed', previous: null, previousRaw: '?', at: at() } as HistoryEvent,
      ...deploy('r3', 'v1', 'v2'),
      finished('r4', 'restore', 'failed', null, { error: 'pg_restore: boom' }),
    ];
    const d = deployments(events);
    expect(d.map((x) => [x.runId, x.task, x.from, x.to, x.result, x.live])).toEqual([
      ['r1', 'deploy', null, 'v1', 'deployed', 'v1'],
      ['r2', 'deploy', 'v1', 'v2', null, null],
      ['r3', 'deploy', 'v1', 'v2', 'deployed', 'v2'],
      ['r4', 'restore', null, null, 'failed', null],
    ]);
    expect(d[1]).toEqual({
      runId: 'r2', task: 'deploy', env: 'staging', who: 'alice@laptop', from: 'v1', to: 'v2', backupFile: 'b2.dump',
      startedAt: (events[2] as StartedEvent).at, result: null, live: null, finishedAt: null, steps: [],
    });
    expect(d[3]).toMatchObject({ who: null, startedAt: null, error: 'pg_restore: boom', steps: [{ name: 'restart', durationMs: 120, ok: false }] });
  });
  it('the backup file named by the finished record (taken after started was written) wins', () => {
    const [d] = deployments([started('r1', 'deploy', 'v1', 'v2'), finished('r1', 'deploy', 'deployed', 'v2', { backupFile: 'backups/staging/r1.dump' })]);
    expect(d?.backupFile).toBe('backups/staging/r1.dump');
    expect(currentAndPrevious([started('r1', 'deploy', 'v1', 'v2'), finished('r1', 'deploy', 'deployed', 'v2', { backupFile: 'b.dump' })]).currentRun?.backupFile).toBe('b.dump');
  });
});

describe('currentAndPrevious (the rollback default)', () => {
  it('nothing deployed yet', () => {
    expect(currentAndPrevious([])).toEqual({ current: null, previous: null, currentRun: null });
    expect(currentAndPrevious(deploy('r1', null, 'v1', 'failed'))).toEqual({ current: null, previous: null, currentRun: null });
  });

  it('the last two tags successfully deployed; failed and unfinished runs do not count', () => {
    const events = [...deploy('r1', null, 'v1'), ...deploy('r2', 'v1', 'v2'), ...deploy('r3', 'v2', 'v3', 'failed'), started('r4', 'deploy', 'v2', 'v4')];
    const live = currentAndPrevious(events);
    expect([live.current, live.previous, live.currentRun?.runId]).toEqual(['v2', 'v1', 'r2']);
  });

  it('a deploy that rolled back leaves the stack as it was; a redeploy of the live tag adds nothing', () => {
    const events = [...deploy('r1', null, 'v1'), ...deploy('r2', 'v1', 'v2'), ...deploy('r3', 'v2', 'v3', 'rolled-back'), ...deploy('r4', 'v2', 'v2')];
    const live = currentAndPrevious(events);
    expect([live.current, live.previous, live.currentRun?.runId]).toEqual(['v2', 'v1', 'r2']);
  });

  it('rollback twice goes back twice, never forward to the tag just rolled back from', () => {
    const base = [...deploy('r1', null, 'v1'), ...deploy('r2', 'v1', 'v2'), ...deploy('r3', 'v2', 'v3')];
    expect(currentAndPrevious(base).previous).toBe('v2');
    const once = [...base, ...rollback('r4', 'v3', 'v2')];
    const l1 = currentAndPrevious(once);
    // currentRun is the deploy that first made v2 live: its backup is the database before v2
    expect([l1.current, l1.previous, l1.currentRun?.runId]).toEqual(['v2', 'v1', 'r2']);
    const twice = [...once, ...rollback('r5', 'v2', 'v1')];
    expect(currentAndPrevious(twice)).toMatchObject({ current: 'v1', previous: null });
  });

  it('a deploy after a rollback pushes again; a forced rollback to an unknown tag replaces the tag it rolled back from', () => {
    const events = [...deploy('r1', null, 'v1'), ...deploy('r2', 'v1', 'v2'), ...rollback('r3', 'v2', 'v1'), ...deploy('r4', 'v1', 'v4')];
    expect(currentAndPrevious(events)).toMatchObject({ current: 'v4', previous: 'v1' });
    const forced = [...events, ...rollback('r5', 'v4', 'v0')];
    expect(currentAndPrevious(forced)).toMatchObject({ current: 'v0', previous: 'v1' }); // never forward to v4
  });

  it('the tag live before the first deploy is the bottom: after v1 -> v2 and a rollback, there is nothing older', () => {
    const events = [...deploy('r1', 'v1', 'v2')];
    expect(currentAndPrevious(events)).toMatchObject({ current: 'v2', previous: 'v1', currentRun: { runId: 'r1' } });
    const back = [...events, ...rollback('r2', 'v2', 'v1')];
    expect(currentAndPrevious(back)).toMatchObject({ current: 'v1', previous: null, currentRun: null });
    expect(liveStack(back).map((e) => e.tag)).toEqual(['v1']);
  });

  it('a failed rollback changes nothing', () => {
    const events = [...deploy('r1', null, 'v1'), ...deploy('r2', 'v1', 'v2'), ...rollback('r3', 'v2', 'v1', false)];
    expect(currentAndPrevious(events)).toMatchObject({ current: 'v2', previous: 'v1' });
  });

  it('the order runs finished decides, not the order they started', () => {
    const events = [started('a', 'deploy', 'v1', 'v2'), started('b', 'deploy', 'v1', 'v3'), finished('b', 'deploy', 'deployed', 'v3'), finished('a', 'deploy', 'deployed', 'v2')];
    expect(currentAndPrevious(events)).toMatchObject({ current: 'v2', previous: 'v3' });
  });
});

describe('everDeployedOk', () => {
  it('only a tag some run verified live', () => {
    const events = [...deploy('r1', null, 'v1'), ...deploy('r2', 'v1', 'v2', 'rolled-back'), ...deploy('r3', 'v1', 'v3', 'failed'), ...rollback('r4', 'v1', 'v0')];
    expect(['v0', 'v1', 'v2', 'v3', 'v9'].map((t) => everDeployedOk(events, t))).toEqual([true, true, false, false, false]);
  });
});
