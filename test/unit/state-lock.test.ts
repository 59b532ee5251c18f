import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../tasks/lib/base/errors.ts';
import { hmsText } from '../../tasks/lib/base/format.ts';
import { describeHolder, judgeStale, newLockRecord, parseHeld, whoAmI, type StaleContext } from '../../tasks/lib/state/lock.ts';
import { historyFileIn, lockFileIn, stateDirOf } from '../../tasks/lib/state/paths.ts';
import type { LockRecord } from '../../tasks/lib/state/records.ts';

const record: LockRecord = {
  runId: 'r1',
  env: 'production',
  tag: 'v3.2.7',
  task: 'deploy',
  owner: 'alice@laptop',
  pid: 4242,
  startedAt: '2026-01-02T03:04:05.000Z',
  ttlSec: 7200,
};
const raw = JSON.stringify(record);
const onLaptop = (alive: boolean): StaleContext => ({ machine: 'laptop', isAlive: () => alive });
const elsewhere: StaleContext = { machine: 'ci-runner', isAlive: () => false };

describe('stateDirOf', () => {
  it('defaults to <parent>/.cutover/<name>, outside the working copy', () => {
    expect(stateDirOf({ path: '/home/ec2-user/harena' })).toBe('/home/ec2-user/.cutover/harena');
    expect(stateDirOf({ path: '/srv/app/' })).toBe('/srv/.cutover/app');
    expect(stateDirOf({ path: '/srv//my app' })).toBe('/srv/.cutover/my app');
    expect(stateDirOf({ path: '/app' })).toBe('/.cutover/app');
  });
  it('app.stateDir wins', () => {
    expect(stateDirOf({ path: '/srv/app', stateDir: '/var/lib/cutover/app/' })).toBe('/var/lib/cutover/app');
  });
  it('refuses / (no name to derive one from)', () => {
    expect(() => stateDirOf({ path: '/' })).toThrow(ConfigError);
  });
  it('file names', () => {
    expect(lockFileIn('/srv/.cutover/app')).toBe('/srv/.cutover/app/lock.json');
    expect(historyFileIn('/srv/.cutover/app')).toBe('/srv/.cutover/app/history.jsonl');
  });
});

describe('judgeStale', () => {
  it('a live holder within its TTL is not stale', () => {
    expect(judgeStale(record, 7200, onLaptop(true))).toEqual({ stale: false, reason: null });
  });
  it('the holder ran on this machine and its pid is gone', () => {
    expect(judgeStale(record, 10, onLaptop(false))).toEqual({ stale: true, reason: 'pid 4242 is gone on laptop' });
  });
  it('another machine: its pid cannot be checked, only the TTL counts', () => {
    expect(judgeStale(record, 10, elsewhere)).toEqual({ stale: false, reason: null });
    expect(judgeStale(record, 7201, elsewhere)).toEqual({ stale: true, reason: 'older than its TTL (2h 1s > 2h)' });
  });
  it('both reasons when both hold; the machine is what follows the last @', () => {
    const r = { ...record, owner: 'deploy@team@laptop', ttlSec: 60 };
    expect(judgeStale(r, 3725, onLaptop(false))).toEqual({ stale: true, reason: 'pid 4242 is gone on laptop; older than its TTL (1h 2m 5s > 1m)' });
  });
  it('a lock file that is not a record is stale', () => {
    expect(judgeStale(null, 0, onLaptop(true))).toEqual({ stale: true, reason: 'the lock file is not a lock record' });
  });
});

describe('parseHeld', () => {
  it('age by the host clock (now - mtime), the exact raw text', () => {
    const h = parseHeld(`held 1767323345 1767323045\n${raw}\n`, onLaptop(true));
    expect(h).toEqual({ record, raw, ageSec: 300, stale: false, staleReason: null });
  });
  it('an mtime in the future (clock step) is age 0', () => {
    expect(parseHeld(`held 100 160\n${raw}\n`, onLaptop(true)).ageSec).toBe(0);
  });
  it('garbage and a partial record are unreadable, hence stale, raw kept', () => {
    expect(parseHeld('held 5 5\nnot json\nat all\n', onLaptop(true))).toEqual({
      record: null, raw: 'not json\nat all', ageSec: 0, stale: true, staleReason: 'the lock file is not a lock record',
    });
    expect(parseHeld('held 5 5\n{"runId":"x"}\n', onLaptop(true)).record).toBeNull();
  });
  it('refuses what is not a lock report', () => {
    expect(() => parseHeld('free\n')).toThrow('not a lock report: "free\\n"');
  });
});

describe('describeHolder', () => {
  it('held: who, what, since when, what to do', () => {
    expect(describeHolder(parseHeld(`held 1000 700\n${raw}\n`, onLaptop(true)), '/srv/.cutover/app/lock.json')).toBe(
      'The deploy lock (/srv/.cutover/app/lock.json) is held by alice@laptop (run r1: deploy v3.2.7 to production, pid 4242) since 2026-01-02T03:04:05.000Z, 5m ago. ' +
        "Wait for that run to finish; if it is dead, take the lock with --force-unlock '<reason>'.",
    );
  });
  it('stale: says so and why', () => {
    expect(describeHolder(parseHeld(`held 1000 990\n${raw}\n`, onLaptop(false)))).toBe(
      'The deploy lock is STALE: held by alice@laptop (run r1: deploy v3.2.7 to production, pid 4242) since 2026-01-02T03:04:05.000Z, 10s ago; ' +
        "pid 4242 is gone on laptop. If no run is using it, take it with --force-unlock '<reason>'.",
    );
  });
  it('unreadable', () => {
    expect(describeHolder(parseHeld('held 1 1\n???\n'))).toBe(
      `The deploy lock is STALE: held, but its content is not a lock record: "???"; the lock file is not a lock record. If no run is using it, take it with --force-unlock '<reason>'.`,
    );
  });
});

describe('records', () => {
  it('newLockRecord: this user@machine and pid, TTL 2 h by default', () => {
    const r = newLockRecord({ runId: 'r9', env: 'staging', tag: 'v1', task: 'rollback' }, new Date('2026-05-06T07:08:09Z'));
    expect(r).toEqual({ runId: 'r9', env: 'staging', tag: 'v1', task: 'rollback', owner: whoAmI(), pid: process.pid, startedAt: '2026-05-06T07:08:09.000Z', ttlSec: 7200 });
    expect(whoAmI()).toBe(`${os.userInfo().username}@${os.hostname()}`);
    expect(newLockRecord({ runId: 'r9', env: 's', tag: null, task: 'restore', ttlSec: 60 }).ttlSec).toBe(60);
  });
  it('hmsText', () => {
    expect([0, 59, 60, 3599, 3600, 3660, 3601, 90000].map(hmsText)).toEqual(['0s', '59s', '1m', '59m 59s', '1h', '1h 1m', '1h 1s', '25h']);
  });
});
