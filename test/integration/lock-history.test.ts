// The deploy lock and the history on a real host: an sshd sandbox host and this machine (LocalRunner).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { CommandFailedError } from '../../tasks/lib/base/errors.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';
import { appendHistory, readHistory, serializeEvent } from '../../tasks/lib/state/history.ts';
import { acquireLock, describeHolder, type AcquireResult, forceUnlock, lockStatus, newLockRecord, releaseLock, renewLock, type LockHolder } from '../../tasks/lib/state/lock.ts';
import { finishAndHold, StartNotRecordedError, takeLock, type Taken } from '../../tasks/lib/state/lock-session.ts';
import { holdLock } from '../../tasks/lib/kernel/lock.ts';
import { currentAndPrevious, everDeployedOk } from '../../tasks/lib/state/queries.ts';
import type { HistoryEvent, LockRecord } from '../../tasks/lib/state/records.ts';
import { startSshHosts, type SshFleet } from '../support/sshd.ts';

let dir = '';
let fleet: SshFleet;
const opened: Runner[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lock-history-'));
  fleet = await startSshHosts(1, { dir: path.join(dir, 'fleet') });
});
afterAll(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await fleet?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const kinds = {
  ssh: (): Runner => {
    const h = fleet.hosts[0]!;
    return new SshRunner(
      { name: h.name, address: h.address, port: h.port, user: h.user },
      { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 10_000 },
    );
  },
  local: (): Runner => new LocalRunner({ name: 'local', address: '127.0.0.1', port: 0, user: os.userInfo().username }),
};

const me = `${os.userInfo().username}@${os.hostname()}`;
const rec = (runId: string, extra: Partial<LockRecord> = {}): LockRecord => ({ ...newLockRecord({ runId, env: 'staging', tag: 'v1.1.0', task: 'deploy' }), ...extra });
const held = (r: AcquireResult): LockHolder => {
  if (r.ok) throw new Error('expected the lock to be refused, it was taken');
  return r.holder;
};

describe.each(Object.keys(kinds) as (keyof typeof kinds)[])('over %s', (kind) => {
  /** The lock command opens a spare session for what follows: an SSH runner only. */
  const spareSessions = kind === 'ssh' ? 1 : 0;
  let runner: Runner;
  let base = '';
  let n = 0;
  /** A fresh state folder for each test: on the sandbox host's disk (ssh) or under the temp folder (local). */
  const fresh = () => path.join(base, `t${++n}`, '.cutover', 'app');
  const newRunner = () => {
    const r = kinds[kind]();
    opened.push(r);
    return r;
  };

  beforeAll(() => {
    base = kind === 'ssh' ? path.join(fleet.hosts[0]!.root, 'srv') : path.join(dir, 'local-srv');
    mkdirSync(base, { recursive: true });
    runner = newRunner();
  });

  it('acquire creates the folder 0700 and lock.json with the record; a second acquire is refused naming the holder', async () => {
    const state = fresh();
    const a = rec('run-a');
    const t0 = performance.now();
    expect(await acquireLock(runner, state, a)).toEqual({ ok: true, record: a });
    expect(statSync(state).mode & 0o777).toBe(0o700);
    expect(statSync(path.dirname(state)).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toBe(`${JSON.stringify(a)}\n`);
    expect(readdirSync(state)).toEqual(['lock.json']); // no temp file left behind

    const h = held(await acquireLock(runner, state, rec('run-b')));
    const secondsSince = (t: number) => Math.ceil((performance.now() - t) / 1000);
    expect(h.record).toEqual(a);
    expect(h.raw).toBe(JSON.stringify(a));
    expect(h.stale).toBe(false);
    // whole seconds by the host clock: at most the test's own time so far (plus one for a tick), however busy the machine
    expect(h.ageSec).toBeLessThanOrEqual(secondsSince(t0) + 1);
    expect(describeHolder(h)).toContain(`is held by ${me} (run run-a: deploy v1.1.0 to staging, pid ${process.pid}) since ${a.startedAt}`);
    // read again a moment later: the same holder; its age (whole seconds) may have ticked over
    const t1 = performance.now();
    const again = (await lockStatus(runner, state))!;
    expect({ ...again, ageSec: 0 }).toEqual({ ...h, ageSec: 0 });
    expect(again.ageSec - h.ageSec).toBeGreaterThanOrEqual(0);
    expect(again.ageSec - h.ageSec).toBeLessThanOrEqual(secondsSince(t1) + 1);
    expect(readdirSync(state)).toEqual(['lock.json']);
  });

  it('20 concurrent acquires from separate connections: exactly one wins, the others name it', async () => {
    const state = fresh();
    const runners = Array.from({ length: 20 }, newRunner);
    const results = await Promise.all(runners.map((r, i) => acquireLock(r, state, rec(`run-${i}`))));
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const winner = (winners[0] as { record: LockRecord }).record;
    for (const r of results.filter((x) => !x.ok)) expect(held(r).record).toEqual(winner);
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toBe(`${JSON.stringify(winner)}\n`);
    expect(readdirSync(state)).toEqual(['lock.json']);
    await Promise.all(runners.map((r) => r.close()));
  });

  it('only the owner releases: a non-owner changes nothing, the owner frees it', async () => {
    const state = fresh();
    const a = rec('run-a');
    await acquireLock(runner, state, a);
    const other = await releaseLock(runner, state, 'run-a-but-not-quite');
    expect(other.status).toBe('not-owner');
    expect((other as { holder: LockHolder }).holder.record).toEqual(a);
    expect(await renewLock(runner, state, 'run-b')).toMatchObject({ status: 'not-owner' });
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toBe(`${JSON.stringify(a)}\n`);

    expect(await releaseLock(runner, state, 'run-a')).toEqual({ status: 'released' });
    expect(existsSync(path.join(state, 'lock.json'))).toBe(false);
    expect(await lockStatus(runner, state)).toBeNull();
    expect(await releaseLock(runner, state, 'run-a')).toEqual({ status: 'absent' });
    expect(await releaseLock(runner, fresh(), 'run-a')).toEqual({ status: 'absent' }); // no state folder at all
    expect(await acquireLock(runner, state, rec('run-b'))).toMatchObject({ ok: true });
  });

  it('release waits for a change in progress (the mutex): it cannot delete a lock that was just forced away from it', async () => {
    const state = fresh();
    const a = rec('run-a');
    const b = rec('run-b');
    await acquireLock(runner, state, a);
    // stands in for a force-unlock holding the mutex: it replaces run-a's lock with run-b's after 0.5 s
    let signalLocked!: () => void;
    const locked = new Promise<void>((r) => (signalLocked = r));
    const other = newRunner();
    const forcing = other.exec(
      command(sh`exec 9< ${state} && flock 9 && echo locked && sleep 0.5 && printf '%s\n' ${JSON.stringify(b)} > ${state}/.lock.x && mv -f -- ${state}/.lock.x ${state}/lock.json`),
      { onStdout: (c) => c.includes('locked') && signalLocked() },
    );
    await locked;
    const started = performance.now();
    const released = await releaseLock(runner, state, 'run-a');
    expect(performance.now() - started).toBeGreaterThan(300);
    expect((await forcing).code).toBe(0);
    expect(released.status).toBe('not-owner');
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toBe(`${JSON.stringify(b)}\n`);
  });

  it('a runId with quotes, globs and spaces is compared exactly', async () => {
    const state = fresh();
    const id = `r "1" *'x' $(id)`;
    await acquireLock(runner, state, rec(id));
    expect((await releaseLock(runner, state, '*')).status).toBe('not-owner');
    expect((await releaseLock(runner, state, `r "1" *'x'`)).status).toBe('not-owner');
    expect(await releaseLock(runner, state, id)).toEqual({ status: 'released' });
  });

  it('a lock whose pid is gone on this machine is reported stale, and not taken', async () => {
    const state = fresh();
    const dead = spawnSync('true').pid!;
    const a = rec('run-dead', { pid: dead });
    await acquireLock(runner, state, a);
    const h = held(await acquireLock(runner, state, rec('run-b')));
    expect(h.stale).toBe(true);
    expect(h.staleReason).toBe(`pid ${dead} is gone on ${os.hostname()}`);
    expect(describeHolder(h)).toContain("is STALE: held by");
    expect(describeHolder(h)).toContain("take it with --force-unlock '<reason>'");
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toBe(`${JSON.stringify(a)}\n`);
  });

  it('a lock older than its TTL (by the host clock) is stale; renewing by the owner restarts the clock', async () => {
    const state = fresh();
    await acquireLock(runner, state, rec('run-a', { ttlSec: 60 }));
    const lockFile = path.join(state, 'lock.json');
    const touched = performance.now();
    await runner.exec(command(sh`touch -d @$(( $(date +%s) - 120 )) ${lockFile}`));
    const h = (await lockStatus(runner, state))!;
    expect(h.ageSec).toBeGreaterThanOrEqual(120);
    // plus the seconds the two commands took (one or two on an idle machine; more on a busy one)
    expect(h.ageSec).toBeLessThanOrEqual(120 + Math.ceil((performance.now() - touched) / 1000) + 1);
    expect(h.stale).toBe(true);
    expect(h.staleReason).toMatch(/^older than its TTL \(2m( \d+s)? > 1m\)$/);
    expect(await renewLock(runner, state, 'run-a')).toEqual({ status: 'renewed' });
    expect(await lockStatus(runner, state)).toMatchObject({ stale: false, staleReason: null });
  });

  it('force-unlock takes the lock it was shown, records who, why and the previous holder; the old owner can no longer release', async () => {
    const state = fresh();
    const mirror = path.join(dir, `mirror-${kind}-${n}`);
    const a = rec('run-a', { pid: spawnSync('true').pid! });
    await acquireLock(runner, state, a);
    const seen = held(await acquireLock(runner, state, rec('run-b')));
    const b = rec('run-b');
    const when = new Date('2026-02-03T04:05:06.000Z');
    const forced = await forceUnlock(runner, state, { record: b, seen, reason: "run-a's laptop died", localMirrorDir: mirror, now: when });
    const event = { type: 'lock-forced', runId: 'run-b', env: 'staging', who: me, reason: "run-a's laptop died", previous: a, at: when.toISOString() };
    expect(forced).toEqual({ ok: true, event });
    expect((await lockStatus(runner, state))?.record).toEqual(b);
    expect(readdirSync(state).sort()).toEqual(['history.jsonl', 'lock.json']);
    expect(await readHistory(runner, state)).toEqual({ events: [event], skipped: [] });
    expect(readFileSync(path.join(mirror, 'history.jsonl'), 'utf8')).toBe(`${serializeEvent(event as HistoryEvent)}\n`);
    expect(readFileSync(path.join(state, 'history.jsonl'), 'utf8')).toBe(`${serializeEvent(event as HistoryEvent)}\n`);

    // the run that was thought dead wakes up: its release must not remove run-b's lock
    expect((await releaseLock(runner, state, 'run-a')).status).toBe('not-owner');
    // forcing again with what was seen before: the lock changed, nothing happens
    const again = await forceUnlock(runner, state, { record: rec('run-c'), seen, reason: 'again', localMirrorDir: mirror });
    expect(again.ok).toBe(false);
    expect((again as { holder: LockHolder }).holder.record).toEqual(b);
    expect((await readHistory(runner, state)).events).toHaveLength(1);
    expect(readFileSync(path.join(mirror, 'history.jsonl'), 'utf8').split('\n')).toHaveLength(2);
    // once released, there is nothing to force
    await releaseLock(runner, state, 'run-b');
    expect(await forceUnlock(runner, state, { record: rec('run-c'), seen, reason: 'x', localMirrorDir: null })).toEqual({ ok: false, holder: null });
  });

  it('a torn last history line is tolerated, and closed before the next append', async () => {
    const state = fresh();
    const e1: HistoryEvent = { type: 'started', runId: 'r1', task: 'deploy', env: 'staging', who: me, from: 'v1.0.0', to: 'v1.1.0', at: '2026-01-01T00:00:00.000Z' };
    await appendHistory(runner, state, null, e1);
    const hist = path.join(state, 'history.jsonl');
    await runner.exec(command(sh`printf %s '{"type":"finished","runId":"r1","ta' >> ${hist}`));
    expect(await readHistory(runner, state)).toEqual({ events: [e1], skipped: [{ line: 2, text: '{"type":"finished","runId":"r1","ta', why: 'not JSON' }] });
    const e2: HistoryEvent = { type: 'finished', runId: 'r2', task: 'deploy', env: 'staging', result: 'failed', live: null, steps: [], at: '2026-01-01T00:01:00.000Z' };
    await appendHistory(runner, state, null, e2);
    const read = await readHistory(runner, state);
    expect(read.events).toEqual([e1, e2]);
    expect(read.skipped.map((s) => s.line)).toEqual([2]);
  });

  it('history round trip: host and mirror hold the same lines; currentAndPrevious and everDeployedOk', async () => {
    const state = fresh();
    const mirror = path.join(dir, `mirror-${kind}-${n}`);
    expect(await readHistory(runner, state)).toEqual({ events: [], skipped: [] });
    const steps = [{ name: 'backup', durationMs: 812, ok: true }, { name: 'restart', durationMs: 95, ok: true }];
    const runs: [string, string | null, string, 'deployed' | 'rolled-back'][] = [['r1', null, 'v1.0.0', 'deployed'], ['r2', 'v1.0.0', 'v1.1.0', 'deployed'], ['r3', 'v1.1.0', 'v1.2.0', 'rolled-back']];
    const events: HistoryEvent[] = runs.flatMap(([runId, from, to, result], i) => [
      { type: 'started', runId, task: 'deploy', env: 'staging', who: me, from, to, backupFile: `backups/staging/${i}.dump`, at: `2026-01-0${i + 1}T00:00:00.000Z` },
      { type: 'finished', runId, task: 'deploy', env: 'staging', result, live: result === 'deployed' ? to : from, steps, ...(result === 'rolled-back' && { error: 'health: 503' }), at: `2026-01-0${i + 1}T00:05:00.000Z` },
    ]);
    for (const e of events) await appendHistory(runner, state, mirror, e);
    const read = await readHistory(runner, state);
    expect(read).toEqual({ events, skipped: [] });
    const hostText = readFileSync(path.join(state, 'history.jsonl'), 'utf8');
    expect(readFileSync(path.join(mirror, 'history.jsonl'), 'utf8')).toBe(hostText);
    expect(hostText).toBe(events.map((e) => `${serializeEvent(e)}\n`).join(''));
    expect(statSync(mirror).mode & 0o777).toBe(0o700);
    const live = currentAndPrevious(read.events);
    expect([live.current, live.previous, live.currentRun?.runId, live.currentRun?.backupFile]).toEqual(['v1.1.0', 'v1.0.0', 'r2', 'backups/staging/1.dump']);
    expect(everDeployedOk(read.events, 'v1.0.0')).toBe(true);
    expect(everDeployedOk(read.events, 'v1.2.0')).toBe(false);
  });

  it('20 concurrent appends from separate connections: 20 whole lines', async () => {
    const state = fresh();
    const runners = Array.from({ length: 20 }, newRunner);
    const big = 'x'.repeat(6000); // longer than PIPE_BUF (4096)
    await Promise.all(
      runners.map((r, i) => appendHistory(r, state, null, { type: 'finished', runId: `r${i}`, task: 'deploy', env: 'staging', result: 'failed', live: null, steps: [], error: big, at: 'T' })),
    );
    const read = await readHistory(runner, state);
    expect(read.skipped).toEqual([]);
    expect(read.events.map((e) => e.runId).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`).sort());
    await Promise.all(runners.map((r) => r.close()));
  });

  it('a history larger than the runner keeps in memory is read whole (streamed)', async () => {
    const state = fresh();
    await appendHistory(runner, state, null, { type: 'started', runId: 'r0', task: 'deploy', env: 'staging', who: me, from: null, to: 'v1', at: 'T' });
    const line = (i: number) => serializeEvent({ type: 'started', runId: `r${i}`, task: 'deploy', env: 'staging', who: me, from: null, to: 'v1', at: 'T' });
    writeFileSync(path.join(state, 'history.jsonl'), Array.from({ length: 3000 }, (_, i) => `${line(i)}\n`).join(''));
    expect(statSync(path.join(state, 'history.jsonl')).size).toBeGreaterThan(256 * 1024);
    const read = await readHistory(runner, state);
    expect(read.events).toHaveLength(3000);
    expect(read.events[0]?.runId).toBe('r0');
  });

  const started = (runId: string): string => serializeEvent({ type: 'started', runId, task: 'deploy', env: 'staging', who: me, from: 'v1.0.0', to: 'v1.1.0', at: 'T' });
  const finished = (runId: string): string => serializeEvent({ type: 'finished', runId, task: 'deploy', env: 'staging', result: 'deployed', live: 'v1.1.0', steps: [], at: 'T2' });
  const taken = (t: Taken) => {
    if (!t.ok) throw new Error(`expected the lock to be taken, it is held: ${t.holder.raw}`);
    return t.lock;
  };

  it('the lock and the "started" line in ONE command: the record in lock.json, the line under the mutex', async () => {
    const state = fresh();
    const r = newRunner();
    const a = rec('run-a');
    const t = taken(await takeLock(r, state, a, { startedLine: started('run-a') }));
    await t.start();
    // one command; over SSH it also opens a spare session for the run's next command (ExecOptions.thenMore)
    expect(r.commandsRun).toBe(1 + spareSessions);
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toBe(`${JSON.stringify(a)}\n`);
    expect(readFileSync(path.join(state, 'history.jsonl'), 'utf8')).toBe(`${started('run-a')}\n`);
    expect(readdirSync(state).sort()).toEqual(['history.jsonl', 'lock.json']); // no temp file left
    // held: refused with its holder, and nothing appended for the refused run
    const refused = await takeLock(r, state, rec('run-b'), { startedLine: started('run-b') });
    expect(refused.ok).toBe(false);
    expect(refused.ok ? null : refused.holder.record?.runId).toBe('run-a');
    expect((await readHistory(r, state)).events.map((e) => e.runId)).toEqual(['run-a']);
  });

  it('a start that cannot be recorded: no line, and the same command released the lock', async () => {
    const state = fresh();
    mkdirSync(path.join(state, 'history.jsonl'), { recursive: true }); // a folder where the file should be
    const t = taken(await takeLock(runner, state, rec('run-a'), { startedLine: started('run-a') }));
    const err = await t.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartNotRecordedError);
    expect((err as StartNotRecordedError).release).toEqual({ status: 'released' });
    expect((err as Error).message).toMatch(/cannot append to the deployment history .*history\.jsonl/);
    expect(existsSync(path.join(state, 'lock.json'))).toBe(false);
  });

  it('with the history for a re-check: printed once the lock is ours; a refusal releases it in the same command', async () => {
    const state = fresh();
    await appendHistory(runner, state, null, { type: 'started', runId: 'r0', task: 'deploy', env: 'staging', who: me, from: null, to: 'v1', at: 'T' });
    const r = newRunner();
    const t = taken(await takeLock(r, state, rec('run-a'), { history: true }));
    expect(t.history).toBe(started('r0').replace('"from":"v1.0.0","to":"v1.1.0"', '"from":null,"to":"v1"'));
    expect(existsSync(path.join(state, 'lock.json'))).toBe(true);
    expect(await t.release()).toEqual({ status: 'released' });
    expect(existsSync(path.join(state, 'lock.json'))).toBe(false);
    expect((await readHistory(r, state)).events).toHaveLength(1);
    expect(r.commandsRun).toBe(2); // the session, then the read
  });

  it('"finished" and the release in ONE command: the lock held until told, released owner-only', async () => {
    const state = fresh();
    const r = newRunner();
    await taken(await takeLock(r, state, rec('run-a'), { startedLine: started('run-a') })).start();
    const f = await finishAndHold(r, state, 'run-a', finished('run-a'), { history: true });
    expect(f.recorded).toBe(true);
    expect(f.history?.split('\n')).toEqual([started('run-a'), finished('run-a')]);
    expect(existsSync(path.join(state, 'lock.json'))).toBe(true); // still ours while the run prunes its backups
    expect(await f.release()).toEqual({ status: 'released' });
    expect(existsSync(path.join(state, 'lock.json'))).toBe(false);
    expect(r.commandsRun).toBe(2);
    // someone forced the lock meanwhile: the line is recorded, their lock is left alone
    await taken(await takeLock(r, state, rec('run-b'), { startedLine: started('run-b') })).start();
    writeFileSync(path.join(state, 'lock.json'), `${JSON.stringify(rec('run-c'))}\n`);
    const g = await finishAndHold(r, state, 'run-b', finished('run-b'), { history: false });
    expect(g.recorded).toBe(true);
    const answer = await g.release();
    expect(answer.status).toBe('not-owner');
    expect(readFileSync(path.join(state, 'lock.json'), 'utf8')).toContain('run-c');
    // a line longer than the command may carry travels on stdin, the same way
    const long = serializeEvent({ type: 'finished', runId: 'run-d', task: 'deploy', env: 'staging', result: 'failed', live: null, steps: [], error: 'x'.repeat(20_000), at: 'T3' });
    writeFileSync(path.join(state, 'lock.json'), `${JSON.stringify(rec('run-d'))}\n`);
    const h = await finishAndHold(r, state, 'run-d', long, { history: false });
    expect([h.recorded, (await h.release()).status]).toEqual([true, 'released']);
    expect(readFileSync(path.join(state, 'history.jsonl'), 'utf8').endsWith(`${long}\n`)).toBe(true);
  });

  it('the kernel\'s hold: while the lock is held, the history is read from what the lock commands brought back', async () => {
    const state = fresh();
    const mirror = path.join(dir, `mirror-${kind}-${n}`);
    const r = newRunner();
    const hold = await holdLock({ runner: r, stateDir: state, record: rec('run-a'), mirrorDir: mirror, renewEveryMs: 60_000, forceHint: 'x', withHistory: true });
    await hold.start(started('run-a'));
    const before = r.commandsRun!;
    expect((await readHistory(r, state)).events.map((e) => e.type)).toEqual(['started']);
    expect(r.commandsRun).toBe(before); // no round trip
    let during: string[] = [];
    const problems = await hold.finish(finished('run-a'), async () => {
      during = (await readHistory(r, state)).events.map((e) => e.type);
    });
    expect(problems).toEqual([]);
    expect(during).toEqual(['started', 'finished']);
    // one command; over SSH it starts on the spare session the lock command opened: no exec request of its own
    expect(r.commandsRun).toBe(before + 1 - spareSessions);
    expect(readFileSync(path.join(mirror, 'history.jsonl'), 'utf8')).toBe(`${started('run-a')}\n${finished('run-a')}\n`);
    expect(existsSync(path.join(state, 'lock.json'))).toBe(false);
    await readHistory(r, state); // the lock is no longer ours: read on the host again
    expect(r.commandsRun).toBe(before + 2 - spareSessions);
  });

  it('a state folder that cannot be created fails with the operation and the reason', async () => {
    const notDir = path.join(base, 'a-file');
    writeFileSync(notDir, '');
    const err = await acquireLock(runner, path.join(notDir, 'state'), rec('r')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailedError);
    expect((err as Error).message).toContain(`take the deploy lock ${path.join(notDir, 'state', 'lock.json')}\` exited 1`);
    expect((err as Error).message).toContain('Not a directory');
  });
});
