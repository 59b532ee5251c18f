/**
 * A canary step as tasks: the smoke checks, the hosts that must run the release by now, the
 * traffic split, and the bake: every interval the gates compare the canary cohort with the stable
 * one, and decide (promote, hold, roll back). Every decision goes to the run's event log, and the
 * rollout's state to the state host, so another machine can see it, resume it or abort it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListrTask } from 'listr2';
import { hmsText, oneLine } from '../base/format.ts';
import { bakeOf } from '../config/canary.ts';
import type { HostRun, RunCtx } from '../deploy/context.ts';
import { deployTasks } from '../deploy/graph.ts';
import { backupStep } from '../deploy/backup-step.ts';
import { timed, type Task } from '../kernel/listr.ts';
import type { Host } from '../config/schema.ts';
import type { CanaryCtx } from './context.ts';
import { decide, nextJudgement, stateWriteDue, type ControlAction } from './decide.ts';
import { judgeNow, keysOf, stepMonitor } from './judge.ts';
import { runSmoke } from './smoke.ts';
import { KEPT_DECISIONS, noControlRequest, writeCanary, type DecisionRecord } from './state.ts';
import { canaryFiles } from '../commands/canary.ts';
import type { HostRef, ShiftStep } from './shifter.ts';
import { moved, notMoved, percentText, servingStable, subsetCount } from './split.ts';
import { stepEvent } from './summary.ts';
import { instanceKeys, instanceRefs, takeoverTask } from './instance.ts';

type T = Task<CanaryCtx>;

/** The canary decided to roll back (a failed gate, a failed smoke check, an operator's abort): its reason. */
export class CanaryRollback extends Error {}

/** The app's port on a host, for upstream addresses (nginx mode). */
export function appPortOf(ctx: CanaryCtx, _h: Host): number | undefined {
  return ctx.canary.nginx?.appPort;
}

const ref = (ctx: CanaryCtx, h: HostRun): HostRef => {
  const port = appPortOf(ctx, h.host);
  return { name: h.host.name, address: h.host.address, ...(port !== undefined ? { port } : {}) };
};

export function shiftStep(ctx: CanaryCtx, percent: number, step: number): ShiftStep {
  if (ctx.canary.mode === 'instances') {
    // one host, two instances: the second one is the canary, whatever moved says
    const two = instanceRefs(ctx);
    return { percent, canary: [two.canary], stable: [two.stable], runId: ctx.rollout.runId, step };
  }
  // flags mode deploys nothing: every host whose flags are not on is stable (a resumed canary's too)
  const stable = ctx.canary.mode === 'flags' ? notMoved(ctx) : servingStable(ctx);
  return { percent, canary: moved(ctx).map((h) => ref(ctx, h)), stable: stable.map((h) => ref(ctx, h)), runId: ctx.rollout.runId, step };
}

/**
 * nginx at 100%: the rest of the fleet gets the release one host at a time, each out of rotation
 * while it is deployed (every other host keeps an equal share), back in once verified.
 */
function rollRestTask(ctx: CanaryCtx): ListrTask<CanaryCtx> {
  return { title: `The rest of the fleet on ${ctx.tag}, one host at a time`, task: (_c, t) => t.newListr(rollRest(ctx), { exitOnError: true }) };
}

function rollRest(ctx: CanaryCtx): ListrTask<CanaryCtx>[] {
  return ctx.hosts.slice(ctx.canary.canaryHosts).flatMap((h): ListrTask<CanaryCtx>[] => [
    {
      title: `Load balancer: ${h.host.name} out of rotation`,
      enabled: () => !moved(ctx).includes(h),
      task: timed<CanaryCtx>(`drain ${h.host.name}`, async (c, t) => {
        const serving = servingStable(c).filter((x) => x !== h);
        const on = moved(c);
        const step: ShiftStep = { percent: (100 * on.length) / (on.length + serving.length), canary: on.map((x) => ref(c, x)), stable: serving.map((x) => ref(c, x)), runId: c.rollout.runId, step: c.percents.length - 1 };
        if (c.dry) return void c.dry.add(c.canary.nginx!.name, `${c.canary.nginx!.include}: ${h.host.name} not listed, every other host weight 1`);
        const r = await c.shifter!.apply(step, c.signal);
        t.title = `Load balancer: ${h.host.name} out of rotation (${afterReal(r.detail)}) in ${r.durationMs} ms`;
      }),
    },
    moveHosts(ctx, [h], `${h.host.name} on ${ctx.tag}`),
  ]);
}

/** `0% asked, 0.0% real: canary 1 server not listed, ...` -> what follows `real: `. */
const afterReal = (detail: string) => detail.replace(/^.*?real: /, '');

/**
 * nginx: the canary hosts out of rotation before their deploy (weight 0: every request to the
 * stable hosts), so no user request meets a restarting service; step 1 brings them back.
 */
export function drainTask(ctx: CanaryCtx, canary: readonly HostRun[]): ListrTask<CanaryCtx> {
  return {
    title: `Load balancer: ${canary.map((h) => h.host.name).join(', ')} out of rotation while deployed`,
    enabled: () => ctx.shifter !== null && ctx.canary.mode === 'nginx',
    task: timed<CanaryCtx>('drain', async (c, t) => {
      const step: ShiftStep = { percent: 0, canary: canary.map((h) => ref(c, h)), stable: c.hosts.filter((h) => !canary.includes(h)).map((h) => ref(c, h)), runId: c.rollout.runId, step: -1 };
      if (c.dry) {
        const plan = c.shifter!.plan(step, c.originalSplit);
        for (const f of plan.files) c.dry.add(f.where, `${f.path}: ${plan.detail}\n${f.diff.replace(/\n$/, '').split('\n').map((l) => `      ${l}`).join('\n')}`);
        return;
      }
      const r = await c.shifter!.apply(step, c.signal);
      c.events.add({ type: 'traffic', at: new Date().toISOString(), step: -1, percent: 0, realPercent: 0, detail: r.detail });
      t.title = `Load balancer: ${canary.map((h) => h.host.name).join(', ')} out of rotation (${afterReal(r.detail)}) in ${r.durationMs} ms`;
    }),
  };
}

/** A state-host read or write that failed while baking: said once per kind of trouble, and the bake goes on. */
function stateTrouble(ctx: CanaryCtx, what: string, err: Error): void {
  if (ctx.signal.aborted) throw err;
  const note = `could not ${what} ${ctx.state.host.name} at ${new Date().toISOString().slice(11, 19)}Z (${ctx.redact(oneLine(err.message))}); the bake went on and tried again at the next interval`;
  if (!ctx.notes.some((n) => n.startsWith(`could not ${what}`))) ctx.notes.push(note);
  ctx.events.add({ type: 'phase', at: new Date().toISOString(), step: ctx.rollout.stepIndex, phase: ctx.rollout.phase, why: note });
}

async function save(ctx: CanaryCtx): Promise<void> {
  if (ctx.dry) return;
  await writeCanary(ctx.state.runner, ctx.state.dir, ctx.rollout);
}

/** A deploy's tasks in a canary's list: the canary's context is a deploy's, with more (listr2's types are invariant in it). */
export const asCanary = (tasks: ListrTask<RunCtx>[]): ListrTask<CanaryCtx>[] => tasks as unknown as ListrTask<CanaryCtx>[];

/** Deploys `hosts` (the full procedure: backup once, fetch, checkout, install, migrations once, restart, verify). */
function deployHosts(ctx: CanaryCtx, hosts: HostRun[], first: boolean): ListrTask<CanaryCtx>[] {
  const view: RunCtx = Object.assign(Object.create(ctx) as RunCtx, { hosts }); // the same run, these hosts only
  return deployTasks(view, {
    migrate: first,
    backup: first ? backupStep : null, // one backup, before the first hosts change
  }).map((t) => asCanary([t])[0]!);
}

/** The hosts of `wanted` that do not run the release yet get it; they are the canary's from then on. */
export function moveHosts(ctx: CanaryCtx, wanted: HostRun[], title: string): ListrTask<CanaryCtx> {
  return {
    title,
    enabled: () => wanted.some((h) => !moved(ctx).includes(h)),
    task: (_c, task) => {
      const todo = wanted.filter((h) => !moved(ctx).includes(h));
      const first = moved(ctx).length === 0;
      ctx.rollout.phase = 'deploying';
      return task.newListr(
        [
          ...deployHosts(ctx, todo, first),
          {
            title: `${todo.map((h) => h.host.name).join(', ')} on ${ctx.tag}`,
            task: async () => {
              for (const h of todo) {
                const rec = ctx.rollout.hosts.find((x) => x.name === h.host.name)!;
                rec.moved = true;
                rec.from = h.from;
              }
              await save(ctx);
            },
          },
        ],
        { exitOnError: true },
      );
    },
  };
}

/** Keeps a decision that changed something (true), or nothing. */
function record(ctx: CanaryCtx, d: Omit<DecisionRecord, 'at' | 'step' | 'percent'>, step: number): boolean {
  const at = new Date().toISOString();
  const last = ctx.rollout.decisions.at(-1);
  // canary.json keeps the decisions that changed something; the event log keeps every one
  if (last && last.step === step && last.action === d.action && last.verdict === d.verdict) return false;
  ctx.rollout.decisions.push({ at, step, percent: ctx.rollout.percent, ...d });
  // days of bakes: memory stays flat (the event log on disk keeps every decision)
  if (ctx.rollout.decisions.length > 2 * KEPT_DECISIONS) ctx.rollout.decisions.splice(0, ctx.rollout.decisions.length - KEPT_DECISIONS);
  return true;
}

async function takeControl(ctx: CanaryCtx): Promise<{ action: ControlAction; by: string } | null> {
  if (await noControlRequest(ctx.state.host, ctx.state.dir)) return null;
  const r = await ctx.state.runner.exec(canaryFiles.take(ctx.state.dir), { signal: ctx.signal, timeoutMs: 30_000 });
  if (r.code !== 0 || !r.stdout.trim()) return null;
  try {
    const c = JSON.parse(r.stdout) as { action?: string; by?: string };
    return c.action === 'pause' || c.action === 'resume' || c.action === 'promote' || c.action === 'abort' ? { action: c.action, by: c.by ?? 'someone' } : null;
  } catch {
    return null;
  }
}

/** Bakes step `i` until a decision moves on: promote (returns), roll back (throws CanaryRollback). */
async function bake(ctx: CanaryCtx, i: number, task: T): Promise<void> {
  const percent = ctx.percents[i]!;
  const bakeMs = bakeOf(ctx.canary, Math.min(i, ctx.percents.length - 1));
  const maxHoldMs = ctx.canary.maxHold ?? 2 * bakeMs;
  const canaryHosts = moved(ctx);
  const stableHosts = notMoved(ctx);
  // flags mode: every host runs the release, so its tag would put every record in both cohorts
  const tagged = ctx.canary.mode !== 'flags';
  const keys =
    ctx.canary.mode === 'instances'
      ? instanceKeys(ctx, percent === 100)
      : {
          canary: keysOf(canaryHosts.map((h) => ({ host: h.host, tag: tagged ? ctx.tag : undefined })), (h) => appPortOf(ctx, h)),
          stable: keysOf(stableHosts.map((h) => ({ host: h.host, tag: tagged ? h.from.tag : undefined })), (h) => appPortOf(ctx, h)),
        };
  const resumed = ctx.rollout.stepIndex === i && ctx.rollout.monitor !== null;
  ctx.rollout.stepIndex = i;
  if (!ctx.shifter) {
    // subset: the share of hosts on the release is the canary's share (a load balancer spreading evenly)
    ctx.rollout.percent = percent;
    ctx.rollout.realPercent = Math.round((canaryHosts.length * 1000) / ctx.hosts.length) / 10;
  }
  ctx.rollout.phase = ctx.rollout.phase === 'paused' || ctx.rollout.phase === 'waiting' ? ctx.rollout.phase : 'baking';
  if (!resumed || ctx.rollout.stepStartedAt === null) {
    ctx.rollout.stepStartedAt = Date.now();
    ctx.rollout.passingSince = null;
  }
  ctx.monitor = stepMonitor({
    signals: ctx.signals,
    ...(ctx.canary.gates ? { gates: ctx.canary.gates } : {}),
    keys,
    hosts: ctx.hosts.map((h) => h.host),
    runnerFor: (h) => ctx.hosts.find((x) => x.host.name === h.name)?.runner ?? ctx.state.runner,
    state: resumed ? (ctx.rollout.monitor as never) : null,
    // a new step reads on from where the step before kept its window (its clocks are its own)
    ...(!resumed && ctx.monitor ? { positions: ctx.monitor.state().positions } : {}),
    signal: ctx.signal,
    notBefore: ctx.rollout.stepStartedAt!,
  });
  await save(ctx);
  let savedAt = Date.now();
  let unsaved = false; // a change anyone sees whose write failed: written at the next interval
  // a notification at every step (a failed one only warns, and never delays the bake)
  const { notify } = await import('../notify/webhook.ts');
  void notify(ctx.env, stepEvent(ctx, i, `${canaryHosts.map((h) => h.host.name).join(', ')} on ${ctx.tag}; bake ${hmsText(Math.round(bakeMs / 1000))}`), { signal: ctx.signal }).then((r) => {
    if (r.warning) ctx.notes.push(r.warning);
  });

  for (;;) {
    const began = Date.now();
    // a connection drop (hours into a day-long bake) is not a verdict: the step goes on, and the
    // state is written again at the next interval; the lock's renewal decides when it is too long
    const control = await takeControl(ctx).catch((err: Error) => (stateTrouble(ctx, 'read the control requests on', err), null));
    const now = Date.now();
    const j = await judgeNow(ctx.monitor, now);
    const d = decide({
      verdict: j.verdict,
      notPassing: j.notPassing,
      unreadable: j.unreadable ?? false,
      clock: { startedAt: ctx.rollout.stepStartedAt!, passingSince: ctx.rollout.passingSince },
      now,
      bakeMs,
      maxHoldMs,
      onMaxHold: ctx.canary.onMaxHold,
      control: control?.action ?? null,
      paused: ctx.rollout.phase === 'paused' || ctx.rollout.phase === 'waiting' ? ctx.rollout.phase : null,
    });
    const why = control ? `${d.why} — asked by ${control.by}` : d.why;
    ctx.events.add({ type: 'decision', at: new Date(now).toISOString(), step: i, percent, action: d.action, verdict: j.verdict, why, evaluations: j.evaluations });
    const before: Pick<CanaryCtx['rollout'], 'phase' | 'passingSince'> = { phase: ctx.rollout.phase, passingSince: ctx.rollout.passingSince };
    const kept = record(ctx, { action: d.action, verdict: j.verdict, why }, i);
    ctx.rollout.passingSince = d.clock.passingSince;
    ctx.rollout.monitor = ctx.monitor.state();
    if (d.action === 'paused') ctx.rollout.phase = 'paused';
    else if (d.action === 'wait') ctx.rollout.phase = 'waiting';
    else if (d.action === 'hold' || d.action === 'promote') ctx.rollout.phase = 'baking';
    task.output = ctx.redact(`${j.verdict.toUpperCase()} -> ${d.action}: ${why}`);
    if (d.action === 'rollback') {
      ctx.rollout.reason = why;
      await save(ctx).catch((err: Error) => stateTrouble(ctx, 'write the canary state on', err));
      throw new CanaryRollback(why);
    }
    unsaved ||= kept || before.phase !== ctx.rollout.phase || before.passingSince !== ctx.rollout.passingSince;
    if (stateWriteDue({ changed: unsaved, action: d.action, sinceWrittenMs: Date.now() - savedAt })) {
      const ok = await save(ctx).then(
        () => true,
        (err: Error) => (stateTrouble(ctx, 'write the canary state on', err), false),
      );
      if (ok) [savedAt, unsaved] = [Date.now(), false];
    }
    if (d.action === 'promote') {
      task.title = `Bake ${hmsText(Math.round(bakeMs / 1000))}: ${why}`;
      return;
    }
    const next = nextJudgement({ began, now: Date.now(), intervalMs: ctx.canary.interval, bakeMs, clock: d.clock });
    await sleep(Math.max(0, next - Date.now()), undefined, { signal: ctx.signal });
  }
}

/** Step `i`: smoke checks, the hosts that must run the release by now, the traffic split, the bake. */
export function stepTask(ctx: CanaryCtx, i: number): ListrTask<CanaryCtx> {
  const percent = ctx.percents[i]!;
  const last = i === ctx.percents.length - 1;
  const mode = ctx.canary.mode;
  return {
    title: `Step ${i + 1}/${ctx.percents.length}: ${percentText(percent)} of the traffic on ${ctx.tag}`,
    task: (_c, task) =>
      task.newListr(
        [
          {
            title: 'Smoke checks',
            task: timed<CanaryCtx>(`smoke ${i + 1}`, async (c, t) => {
              // the step is recorded as begun before anything of it changes: a resume goes on from
              // here, never back to the step before (with a fresh monitor: this step's cohorts)
              if (c.rollout.stepIndex !== i) {
                Object.assign(c.rollout, { stepIndex: i, monitor: null, stepStartedAt: null, passingSince: null });
                await save(c);
              }
              const r = await runSmoke(c, moved(c), (line) => (t.output = line));
              c.events.add({ type: 'smoke', at: new Date().toISOString(), step: i, ok: r.ok, returncode: r.returncode, detail: r.lines.join('; ') });
              if (!c.dry) c.rollout.smoke.push({ at: new Date().toISOString(), step: i, ok: r.ok, returncode: r.returncode, detail: r.lines.join('; ') });
              t.title = `Smoke checks: ${c.dry ? 'listed below' : r.lines.join('; ')}`;
              if (!r.ok) {
                c.rollout.reason = `smoke checks failed before ${percentText(percent)}: ${r.lines.join('; ')}`;
                throw new CanaryRollback(c.rollout.reason);
              }
            }),
          },
          // subset: ceil(p% x N) hosts run the release; nginx and flags: at 100%, every host
          ...(mode === 'subset' ? [moveHosts(ctx, ctx.hosts.slice(0, subsetCount(percent, ctx.hosts.length)), `Hosts on ${ctx.tag}: ${subsetCount(percent, ctx.hosts.length)} of ${ctx.hosts.length}`)] : []),
          ...(mode === 'nginx' && last ? [rollRestTask(ctx)] : []),
          // flags: ceil(p% x N) hosts get the flags on (they run the release already)
          ...(mode === 'flags' ? [flagHosts(ctx, subsetCount(percent, ctx.hosts.length))] : []),
          trafficTask(ctx, i, percent, last),
          {
            title: `Bake ${hmsText(Math.round(bakeOf(ctx.canary, i) / 1000))}, judged every ${hmsText(Math.round(ctx.canary.interval / 1000))}`,
            task: async (c: CanaryCtx, t: T) => {
              if (c.dry) {
                const two = c.canary.mode === 'instances' ? instanceRefs(c) : null;
                const canaryText = two ? `${two.canary.name}, port ${two.canary.port}` : moved(c).map((h) => h.host.name).join(', ') || 'the hosts above';
                const stableText = two ? (last ? '' : `${two.stable.name}, port ${two.stable.port}`) : notMoved(c).map((h) => h.host.name).join(', ');
                c.dry.add('gates', `every ${hmsText(Math.round(c.canary.interval / 1000))} for ${hmsText(Math.round(bakeOf(c.canary, i) / 1000))}: ${gateNames(c, last).join(', ')} — canary (${canaryText}) against stable (${stableText || 'none: absolute gates only'})`);
                return;
              }
              c.signal.throwIfAborted();
              await bake(c, i, t);
            },
          },
          // instances: 100% baked on the second instance; the stable one takes the release over
          ...(mode === 'instances' && last ? [takeoverTask(ctx)] : []),
        ],
        { exitOnError: true },
      ),
  };
}

/**
 * flags mode: the first `count` hosts are the canary from now on, the others not (the traffic task
 * turns their flags on, and off): a canary resumed at a step its controller had gone past has exactly that step's hosts on.
 */
function flagHosts(ctx: CanaryCtx, count: number): ListrTask<CanaryCtx> {
  return {
    title: `Flags on ${count} of ${ctx.hosts.length} hosts`,
    task: async (_c, t) => {
      const on = ctx.hosts.slice(0, count);
      for (const h of ctx.hosts) ctx.rollout.hosts.find((x) => x.name === h.host.name)!.moved = on.includes(h);
      t.title = `Flags on: ${on.map((h) => h.host.name).join(', ')}`;
      await save(ctx);
    },
  };
}

function gateNames(ctx: CanaryCtx, alone: boolean): string[] {
  return ctx.signals.gates.filter((g) => (!ctx.canary.gates || ctx.canary.gates.includes(g.name)) && (!alone || !('maxIncreasePct' in g || 'maxIncrease' in g || 'withinPct' in g))).map((g) => g.name);
}

/** The split for step `i`: nginx weights or flags; subset mode moves no traffic of its own. */
function trafficTask(ctx: CanaryCtx, i: number, percent: number, last: boolean): ListrTask<CanaryCtx> {
  return {
    title: last && ctx.canary.mode === 'nginx' ? 'Load balancer: every host, as before the canary' : `Traffic: ${percentText(percent)} to the canary`,
    enabled: () => ctx.shifter !== null,
    task: timed<CanaryCtx>(`traffic ${i + 1}`, async (c, t) => {
      const shifter = c.shifter!;
      const step = shiftStep(c, percent, i);
      if (c.dry) {
        const plan = shifter.plan(step, c.originalSplit);
        const flags = c.canary.mode === 'flags';
        // flags: only the hosts whose file this step changes, then what runs after the write (restart, reload)
        for (const f of plan.files.filter((x) => !flags || x.after !== x.before)) c.dry.add(f.where, `${f.path}: ${plan.detail}\n${f.diff.replace(/\n$/, '').split('\n').map((l) => `      ${l}`).join('\n')}`);
        if (flags) for (const a of plan.actions ?? []) c.dry.add('flags', a);
        return;
      }
      // nginx at 100%: every host runs the release, the file goes back to what it was (every host, as weighted before)
      const r = last && c.canary.mode === 'nginx' ? await shifter.restore(c.originalSplit, c.signal) : await shifter.apply(step, c.signal);
      const real = last && c.canary.mode === 'nginx' ? 100 : r.realPercent; // every host runs the release now
      c.rollout.percent = percent;
      c.rollout.realPercent = real;
      c.events.add({ type: 'traffic', at: new Date().toISOString(), step: i, percent, realPercent: real, detail: r.detail });
      await save(c);
      t.title = `Traffic: ${last && c.canary.mode === 'nginx' ? 'every host, as before the canary' : r.detail} in ${r.durationMs} ms`;
    }),
  };
}
