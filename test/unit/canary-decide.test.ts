import { describe, expect, it } from 'vitest';
import { CHECKPOINT_MS, decide, nextJudgement, stateWriteDue, type Action, type DecideInput } from '../../tasks/lib/canary/decide.ts';
import { subsetCount } from '../../tasks/lib/canary/split.ts';
import { parseSteps, runSteps } from '../../tasks/lib/canary/task.ts';
import { CanaryConfig } from '../../tasks/lib/config/canary.ts';

const S = 1000;
const base = (o: Partial<DecideInput>): DecideInput => ({
  verdict: 'pass', notPassing: [], clock: { startedAt: 0, passingSince: null }, now: 0, bakeMs: 60 * S, maxHoldMs: 120 * S, onMaxHold: 'rollback', ...o,
});

/** Runs decisions every 10 s over a list of verdicts, carrying the clock, until one moves on. */
function timeline(verdicts: DecideInput['verdict'][], o: Partial<DecideInput> = {}) {
  let clock = { startedAt: 0, passingSince: null as number | null };
  const out: string[] = [];
  for (const [i, v] of verdicts.entries()) {
    const d = decide(base({ ...o, verdict: v, notPassing: v === 'pass' ? [] : [`g ${v}`], clock, now: i * 10 * S }));
    out.push(d.action);
    clock = d.clock as typeof clock;
    if (d.action === 'promote' || d.action === 'rollback') break;
  }
  return out;
}

describe('the canary decision at each interval', () => {
  it('promotes once every gate passed for the whole bake, holds before', () => {
    expect(timeline(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass'])).toEqual(['hold', 'hold', 'hold', 'hold', 'hold', 'hold', 'promote']);
  });

  it('a warning breaks the pass streak: the bake starts again after it', () => {
    expect(timeline(['pass', 'pass', 'warn', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass'], { maxHoldMs: 1000 * S })).toEqual([
      'hold', 'hold', 'hold', 'hold', 'hold', 'hold', 'hold', 'hold', 'hold', 'promote',
    ]);
  });

  it('signals that could not be read (a connection drop) neither break nor grow the pass streak; past the maximum hold they count as inconclusive', () => {
    let clock = { startedAt: 0, passingSince: null as number | null };
    const step = (verdict: DecideInput['verdict'], now: number, unreadable = false) => {
      const d = decide(base({ verdict, notPassing: unreadable ? ['could not be read: requests: host2: connection lost'] : [], clock, now, unreadable }));
      clock = d.clock as typeof clock;
      return d;
    };
    expect(step('pass', 0).action).toBe('hold');
    const lost = step('inconclusive', 20 * S, true);
    expect(lost).toMatchObject({ action: 'hold', clock: { passingSince: 0 } });
    expect(lost.why).toBe("the signals could not be read, the step's clock goes on: could not be read: requests: host2: connection lost");
    expect(step('pass', 60 * S).action).toBe('promote'); // the streak ran on through the drop
    // without the flag, the same round breaks the streak
    clock = { startedAt: 0, passingSince: 0 };
    expect(step('inconclusive', 20 * S).clock.passingSince).toBeNull();
    // a failed gate still rolls back, readable or not
    expect(decide(base({ verdict: 'fail', notPassing: ['errors fail'], unreadable: true })).action).toBe('rollback');
    // unreadable past the maximum hold: the configured action
    expect(decide(base({ verdict: 'inconclusive', notPassing: ['x'], unreadable: true, now: 120 * S })).action).toBe('rollback');
  });

  it('a failed gate rolls back at once, whatever the clock says', () => {
    expect(timeline(['pass', 'pass', 'fail'])).toEqual(['hold', 'hold', 'rollback']);
    expect(decide(base({ verdict: 'fail', notPassing: ['errors fail: 8% > 5%'] })).why).toBe('a gate failed: errors fail: 8% > 5%');
  });

  it('inconclusive (no data) never promotes: it holds up to the maximum hold, then rolls back or waits for a person', () => {
    const none = Array<DecideInput['verdict']>(20).fill('inconclusive');
    expect(timeline(none)).toEqual([...Array(12).fill('hold'), 'rollback']);
    expect(timeline(none, { onMaxHold: 'wait' }).slice(11, 14)).toEqual(['hold', 'wait', 'wait']);
    const d = decide(base({ verdict: 'inconclusive', notPassing: ['errors inconclusive: 2 samples'], now: 130 * S }));
    expect(d).toMatchObject({ action: 'rollback', why: 'held 2m 10s, past the maximum hold (2m): inconclusive (not enough data to judge): errors inconclusive: 2 samples' });
  });

  it('an operator comes first: abort rolls back, promote promotes, pause pauses until resume; a failed gate still rolls back a paused canary', () => {
    expect(decide(base({ control: 'abort' })).action).toBe('rollback');
    expect(decide(base({ control: 'promote', verdict: 'inconclusive' })).action).toBe('promote');
    expect(decide(base({ control: 'pause' })).action).toBe('paused');
    expect(decide(base({ paused: 'paused' })).action).toBe('paused');
    expect(decide(base({ paused: 'waiting' })).action).toBe('wait');
    expect(decide(base({ paused: 'paused', control: 'resume', now: 70 * S, clock: { startedAt: 0, passingSince: 0 } })).action).toBe('promote');
    expect(decide(base({ paused: 'paused', verdict: 'fail', notPassing: ['x'] })).action).toBe('rollback');
  });
});

describe('when the gates are judged next', () => {
  const clock = (passingSince: number | null) => ({ startedAt: 0, passingSince });
  const at = (began: number, now: number, passingSince: number | null) => nextJudgement({ began, now, intervalMs: 2 * S, bakeMs: 10 * S, clock: clock(passingSince) });

  it('every interval from when a judgement began, however long it took; as soon as the bake is done when sooner; never back to back', () => {
    expect(at(10 * S, 10.3 * S, null)).toBe(12 * S);
    expect(at(10 * S, 10.3 * S, 4 * S)).toBe(12 * S);
    expect(at(12.5 * S, 12.8 * S, 4 * S)).toBe(14 * S); // the bake completes before the next interval
    expect(at(10 * S, 13 * S, null)).toBe(13.5 * S); // a judgement slower than the interval: a quarter of one before the next
  });

  it('a step is promoted when its bake completes, not up to an interval later (judged every 3 s, each judgement taking 300 ms)', () => {
    let t = 0;
    let c: { startedAt: number; passingSince: number | null } = clock(null);
    const judged: number[] = [];
    for (;;) {
      const began = t;
      t += 50; // the operator's requests read
      const d = decide(base({ verdict: t >= 5000 ? 'pass' : 'inconclusive', clock: c, now: t, bakeMs: 10_000, maxHoldMs: 60_000 }));
      judged.push(t);
      c = d.clock as typeof c;
      t += 250; // the signals read and judged, the state written
      if (d.action === 'promote') break;
      t = Math.max(t, nextJudgement({ began, now: t, intervalMs: 3000, bakeMs: 10_000, clock: c }));
    }
    // passing from 6050; the next interval would be 18050
    expect(judged).toEqual([50, 3050, 6050, 9050, 12050, 15050, 16100]);
    expect(judged.at(-1)! - c.passingSince!).toBe(10_050);
  });
});

describe('steps and subsets', () => {
  it('--steps with a bake per step: as many steps as bakes, else refused naming both', () => {
    const perStep = CanaryConfig.parse({ mode: 'subset', steps: [20, 50, 100], bake: ['30s', '10s', '10s'] });
    expect(() => runSteps(perStep, [10, 20, 50, 75, 100], 'environments/local-canary.ts')).toThrow(
      '--steps 10,20,50,75,100: environments/local-canary.ts gives canary.bake one duration per step (3: 20,50,100); give 3 steps, or make canary.bake one duration for every step',
    );
    expect(runSteps(perStep, [10, 50, 100], 'x.ts')).toEqual([10, 50, 100]);
    expect(runSteps(perStep, undefined, 'x.ts')).toEqual([20, 50, 100]);
    expect(runSteps(CanaryConfig.parse({ mode: 'subset', bake: '10s' }), [10, 20, 50, 75, 100], 'x.ts')).toEqual([10, 20, 50, 75, 100]);
  });

  it('--steps: increasing whole percentages ending at 100', () => {
    expect(parseSteps('10,20,50,75,100')).toEqual([10, 20, 50, 75, 100]);
    expect(parseSteps(undefined)).toBeUndefined();
    for (const bad of ['10,5,100', '10,20', '0,100', '10,x,100', '10.5,100']) expect(() => parseSteps(bad), bad).toThrow(/--steps/);
  });

  it('subset: ceil(p% x N) hosts, at least one', () => {
    expect([10, 20, 50, 75, 100].map((p) => subsetCount(p, 4))).toEqual([1, 1, 2, 3, 4]);
    expect([10, 20, 50, 75, 100].map((p) => subsetCount(p, 20))).toEqual([2, 4, 10, 15, 20]);
    expect(subsetCount(1, 3)).toBe(1);
  });
});

describe('stateWriteDue', () => {
  it('a step that only reads on writes canary.json at the checkpoint; anything status or a resume sees, at once', () => {
    const due = (changed: boolean, action: Action, sinceWrittenMs: number) => stateWriteDue({ changed, action, sinceWrittenMs });
    // 2 s intervals of the same "hold": written at 30 s, not at every interval
    expect(Array.from({ length: 16 }, (_, k) => due(false, 'hold', 2 * S * (k + 1))).map(Number).join('')).toBe('0000000000000011');
    expect(CHECKPOINT_MS).toBe(30 * S);
    expect((['hold', 'wait', 'paused'] as Action[]).map((a) => due(false, a, 2 * S))).toEqual([false, false, false]);
    expect((['promote', 'rollback'] as Action[]).map((a) => due(false, a, 0))).toEqual([true, true]);
    expect((['hold', 'wait', 'paused'] as Action[]).map((a) => due(true, a, 0))).toEqual([true, true, true]);
  });
});
