/**
 * The canary's decision at every interval of a step, as a pure function of the gates' verdict, the
 * step's clocks and what an operator asked: promote when every gate passed for the whole bake,
 * hold on warn or inconclusive (up to the step's maximum hold, then the configured action), roll
 * back on a failed or critical gate. Every decision says why, with its numbers.
 */
import { hmsText } from '../base/format.ts';

export type Verdict = 'pass' | 'warn' | 'fail' | 'inconclusive';
export type ControlAction = 'pause' | 'resume' | 'promote' | 'abort';
export type Action = 'promote' | 'hold' | 'rollback' | 'wait' | 'paused';

export interface StepClock {
  /** When the step started baking (epoch ms). */
  readonly startedAt: number;
  /** Since when every gate has passed without a break (null: not passing now). */
  readonly passingSince: number | null;
}

export interface DecideInput {
  readonly verdict: Verdict;
  /** The gates that did not pass, one line each (`errors-vs-stable: 8.2% vs 0.4% (+1950%) > +50%`). */
  readonly notPassing: readonly string[];
  readonly clock: StepClock;
  readonly now: number;
  readonly bakeMs: number;
  readonly maxHoldMs: number;
  readonly onMaxHold: 'rollback' | 'wait';
  /** An operator's request from another terminal, if one came. */
  readonly control?: ControlAction | null;
  /** The controller is paused (by `pause`), or waiting for a person (maximum hold reached with onMaxHold 'wait'). */
  readonly paused?: 'paused' | 'waiting' | null;
  /** The signals could not be read this round (a connection drop): the step's clock is kept as it is. */
  readonly unreadable?: boolean;
}

export interface Decision {
  readonly action: Action;
  /** The step's clock after this decision. */
  readonly clock: StepClock;
  readonly why: string;
}

const s = (ms: number) => hmsText(Math.max(0, Math.floor(ms / 1000)));

export function decide(i: DecideInput): Decision {
  const { now, clock } = i;
  // an operator's word comes first
  if (i.control === 'abort') return { action: 'rollback', clock, why: 'aborted by an operator (canary abort)' };
  if (i.control === 'promote') return { action: 'promote', clock, why: `promoted by an operator (canary promote) after ${s(now - clock.startedAt)} of this step` };
  if (i.control === 'pause') return { action: 'paused', clock: { ...clock, passingSince: null }, why: 'paused by an operator (canary pause): gates are still judged, nothing promotes until canary resume' };
  const paused = i.control === 'resume' ? null : (i.paused ?? null);

  // a failed gate (a critical one fails at once, others after their `for` clock) rolls back, paused or not
  if (i.verdict === 'fail') return { action: 'rollback', clock, why: `a gate failed: ${i.notPassing.join('; ')}` };
  if (paused === 'paused') return { action: 'paused', clock: { ...clock, passingSince: null }, why: 'paused: waiting for canary resume, promote or abort' };
  if (paused === 'waiting') return { action: 'wait', clock: { ...clock, passingSince: null }, why: 'past the maximum hold: waiting for a person (canary promote or abort)' };

  // nothing was learnt: the pass streak neither grows nor breaks (what was written meanwhile is read once
  // the source answers again, from where its reading stopped)
  if (i.unreadable && i.verdict !== 'pass' && now - clock.startedAt < i.maxHoldMs) return { action: 'hold', clock, why: `the signals could not be read, the step's clock goes on: ${i.notPassing.join('; ')}` };

  if (i.verdict === 'pass') {
    const since = clock.passingSince ?? now;
    const next = { ...clock, passingSince: since };
    const passed = now - since;
    if (passed >= i.bakeMs) return { action: 'promote', clock: next, why: `every gate passed for ${s(passed)} (bake ${s(i.bakeMs)})` };
    return { action: 'hold', clock: next, why: `every gate passes: baking, ${s(passed)} of ${s(i.bakeMs)}` };
  }

  // warn or inconclusive: the pass streak breaks, and the step is held up to its maximum hold
  const held = now - clock.startedAt;
  const next = { ...clock, passingSince: null };
  const what = i.verdict === 'warn' ? `warning: ${i.notPassing.join('; ')}` : `inconclusive (not enough data to judge): ${i.notPassing.join('; ')}`;
  if (held >= i.maxHoldMs) {
    if (i.onMaxHold === 'rollback') return { action: 'rollback', clock: next, why: `held ${s(held)}, past the maximum hold (${s(i.maxHoldMs)}): ${what}` };
    return { action: 'wait', clock: next, why: `held ${s(held)}, past the maximum hold (${s(i.maxHoldMs)}): waiting for a person (canary promote or abort); ${what}` };
  }
  return { action: 'hold', clock: next, why: `holding (${s(held)} of at most ${s(i.maxHoldMs)}): ${what}` };
}

/**
 * When to judge next (epoch ms): one interval after this judgement began (so the gates are judged
 * every interval, however long reading the signals took), or as soon as the bake completes when
 * every gate is passing: a step is promoted when its bake is done, not up to an interval later.
 * Never sooner than a quarter of an interval from `now`, however slow the last judgement was.
 */
export function nextJudgement(o: { readonly began: number; readonly now: number; readonly intervalMs: number; readonly bakeMs: number; readonly clock: StepClock }): number {
  const baked = o.clock.passingSince === null ? Infinity : o.clock.passingSince + o.bakeMs;
  return Math.max(Math.min(o.began + o.intervalMs, baked), o.now + o.intervalMs / 4);
}

/**
 * While a step only reads on (the same decision, phase and gate clock), canary.json is written at
 * most this often: what changed is the monitor's read positions, which a resumed run reads again
 * from the last written ones. A local command is a process of its own, so a 2 s interval would
 * otherwise cost a fork every 2 s for a write nobody reads.
 */
export const CHECKPOINT_MS = 30_000;

/**
 * Whether canary.json is written after a judgement: at once when anything `status` or a resumed
 * run sees has changed (a kept decision, the phase, the gate clock; or such a change whose write
 * failed), at a promotion, and at the checkpoint otherwise.
 */
export function stateWriteDue(o: { readonly changed: boolean; readonly action: Action; readonly sinceWrittenMs: number }): boolean {
  return o.changed || o.action === 'promote' || o.action === 'rollback' || o.sinceWrittenMs >= CHECKPOINT_MS;
}
