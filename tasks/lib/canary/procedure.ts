/**
 * canary <tag>: a kernel procedure that holds the lock for the whole rollout (renewed: hours or
 * days), moves traffic to the release in steps, judges every step with the signals' gates, and
 * promotes or rolls back by itself. A rollback puts the traffic on the stable hosts first
 * (seconds), then the moved hosts back to what they ran, verified. Ctrl-C (or a lost lock) stops
 * the controller and leaves the split as it is: `canary resume` or `canary abort` from any machine.
 */
import type { ListrTask } from 'listr2';
import { UsageError } from '../base/errors.ts';
import { label } from '../base/run.ts';
import { rollbackTasks } from '../deploy/graph.ts';
import { checkHosts, movingParts } from '../deploy/moving.ts';
import type { RunCtx } from '../deploy/context.ts';
import type { ListMaker } from '../kernel/listr.ts';
import type { Outcome, Procedure } from '../kernel/procedure.ts';
import { pruneAfterRun } from '../backup/prune-after-run.ts';
import type { LockHolder } from '../state/lock.ts';
import type { CanaryCtx } from './context.ts';
import { canaryJson, canaryReport, canarySummary, canaryEndEvent, canaryStartEvent } from './summary.ts';
import { moved, percentText, servingStable } from './split.ts';
import { asCanary, CanaryRollback, drainTask, moveHosts, shiftStep, stepTask } from './steps.ts';
import { FINISHED, SETTLED, readCanary, writeCanary, type CanaryState } from './state.ts';
import { bakeOf } from '../config/canary.ts';
import { instancePlanLines, instancePreflight, instanceRecover, startInstanceTask } from './instance.ts';
import { hmsText, oneLine } from '../base/format.ts';

function freshState(ctx: CanaryCtx): CanaryState {
  const now = new Date().toISOString();
  return {
    version: 1, runId: ctx.runId, controllerRunId: ctx.runId, env: ctx.env.name, tag: ctx.tag, mode: ctx.canary.mode, steps: [...ctx.percents], stepIndex: -1,
    phase: 'deploying', percent: 0, realPercent: 0, hosts: ctx.hosts.map((h) => ({ name: h.host.name, from: h.from, moved: false })),
    stepStartedAt: null, passingSince: null, monitor: null, decisions: [], smoke: [], reason: null, originalSplit: null, startedAt: now, updatedAt: now,
  };
}

/** Resume and abort: the canary recorded on the state host takes over this run's context. */
function adopt(ctx: CanaryCtx, recorded: CanaryState): void {
  ctx.previousController = recorded.controllerRunId;
  ctx.rollout = { ...recorded, controllerRunId: ctx.runId };
  for (const h of ctx.hosts) {
    const rec = recorded.hosts.find((x) => x.name === h.host.name);
    if (!rec) continue;
    if (ctx.canary.mode === 'instances') {
      // the stable instance changed only if the take-over had begun: current no longer what it ran
      const live = h.from;
      h.from = { ...rec.from };
      if (rec.release) h.newRelease = rec.release;
      if (live.release !== rec.from.release) h.stage = 'verified';
    } else if (rec.moved) {
      h.from = { ...rec.from };
      h.stage = 'verified'; // it ran the release when the controller stopped: verified again before anything else
    }
  }
}

async function plan(ctx: CanaryCtx): Promise<string[]> {
  const c = ctx.canary;
  const lines = ['', `Plan: canary of ${ctx.tag} on ${ctx.env.name} (${ctx.env.file}), mode ${c.mode}, run ${ctx.rollout.runId}${ctx.cflags.resume ? ` (resumed by run ${ctx.runId})` : ''} by ${ctx.who}`];
  for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)}${moved(ctx).includes(h) ? ` -> ${ctx.tag} (moved)` : ''}`);
  const first = c.mode === 'nginx' ? ctx.hosts.slice(0, c.canaryHosts).map((h) => h.host.name).join(', ') : null;
  if (c.mode === 'nginx') lines.push(`  canary hosts: ${first} (the full deploy procedure first: backup, migrations, verification); the others at 100%, rolling`);
  if (c.mode === 'subset') lines.push(`  subset: ceil(p% x ${ctx.hosts.length}) hosts run ${ctx.tag} at each step (the full deploy procedure), a load balancer cutover does not drive spreads the traffic`);
  if (c.mode === 'instances') lines.push(...instancePlanLines(ctx));
  if (c.mode === 'flags') lines.push(`  flags: ${c.flags!.flags.map((f) => f.pointer).join(', ')} in ${c.flags!.file}, turned on host by host; reverted on a breach`);
  lines.push(`  steps: ${ctx.percents.map((p, i) => `${percentText(p)} for ${hmsText(Math.round(bakeOf(c, i) / 1000))}`).join(' -> ')}, judged every ${hmsText(Math.round(c.interval / 1000))}`);
  lines.push(`  gates: ${ctx.signals.gates.filter((g) => !c.gates || c.gates.includes(g.name)).map((g) => g.name).join(', ')} (canary cohort against the stable one; a failed gate rolls back, warn or inconclusive holds up to ${c.maxHold ? hmsText(Math.round(c.maxHold / 1000)) : 'twice the bake'}, then ${c.onMaxHold})`);
  const smoke = [c.smoke.command && `command \`${c.smoke.command}\``, c.smoke.validate && 'the validation suite', c.smoke.verify && "verify's checks"].filter(Boolean);
  lines.push(`  before every increase: ${smoke.length ? smoke.join(', ') : 'no smoke checks'}`);
  if (c.mode === 'flags') lines.push(`  on a failure: every flag off again on every host (the hosts keep running ${ctx.tag}: nothing is redeployed)`, '');
  else if (c.mode === 'instances') lines.push(`  on a failure: traffic back to the stable instance first, then the second instance stopped (the stable one rolled back too if it had begun the take-over; applied migrations are NOT undone)`, '');
  else lines.push(`  on a failure: traffic back to the stable hosts first, then the moved hosts back to what they ran, verified (applied migrations are NOT undone)`, '');
  return lines;
}

function syntheticTask(ctx: CanaryCtx): ListrTask<CanaryCtx> {
  return {
    title: 'Synthetic traffic (signals.traffic) until the canary ends',
    task: async (_c, t) => {
      const { startSynthetic } = await import('./synthetic.ts');
      ctx.synthetic = startSynthetic(ctx.env.name);
      t.title = `Synthetic traffic: tasks/traffic.ts --env ${ctx.env.name} (pid ${ctx.synthetic.pid}, ${ctx.signals.traffic!.rate}) until the canary ends`;
    },
  };
}

export const canaryProcedure: Procedure<CanaryCtx> = {
  ...(movingParts as unknown as Omit<Procedure<CanaryCtx>, 'task' | 'preflight' | 'work' | 'recover'>),
  task: 'canary',

  async preflight(ctx, list) {
    const recorded = await readCanary(ctx.state.runner, ctx.state.dir, ctx.signal);
    if (ctx.cflags.resume || ctx.cflags.abort) {
      const verb = ctx.cflags.resume ? 'resume' : 'abort';
      if (!recorded) throw new UsageError(`there is no canary to ${verb} on ${ctx.env.name} (no canary.json on ${ctx.state.host.name})`);
      if (SETTLED.includes(recorded.phase) || (ctx.cflags.resume && FINISHED.includes(recorded.phase)))
        throw new UsageError(
          `the canary of ${recorded.tag} (run ${recorded.runId}) is ${recorded.phase}: there is nothing to ${verb}` +
            (recorded.phase === 'failed' ? ` (its rollback did not complete: npx tsx tasks/canary.ts abort --env ${ctx.env.name} retries it)` : ''),
        );
      ctx.tag = recorded.tag;
    } else {
      if (recorded && !SETTLED.includes(recorded.phase))
        throw new UsageError(
          `a canary of ${recorded.tag} (run ${recorded.runId}) is ${recorded.phase} at ${percentText(recorded.percent)} on ${ctx.env.name}: finish it first ` +
            `(npx tsx tasks/canary.ts status|resume|abort --env ${ctx.env.name}). Nothing was changed.`,
        );
    }
    await checkHosts(ctx, list as unknown as ListMaker<RunCtx>, { needTag: !ctx.cflags.abort, releases: true }); // the deploy's preflight, on a canary's context
    if (ctx.canary.mode === 'instances') await instancePreflight(ctx);
    // resume, abort: what the moved hosts ran before is the record's (they run the release now)
    if (recorded && (ctx.cflags.resume || ctx.cflags.abort)) adopt(ctx, recorded);
    else ctx.rollout = freshState(ctx);
    if (ctx.canary.mode === 'flags') {
      const off = ctx.hosts.filter((h) => h.from.tag !== ctx.tag).map((h) => `${h.host.name} (${label(h.from)})`);
      if (off.length && !ctx.cflags.abort)
        throw new UsageError(`flags mode turns flags on in a release the hosts already run; these do not run ${ctx.tag}: ${off.join(', ')}. Deploy it first (flags off): npx tsx tasks/deploy.ts ${ctx.tag} --env ${ctx.env.name}`);
      for (const r of ctx.rollout.hosts) r.from = { ...r.from }; // code stays: a flags rollback reverts flags only
    }
    const { makeShifter } = await import('./make-shifter.ts');
    ctx.shifter = await makeShifter(ctx);
    if (ctx.shifter) {
      const problems = await ctx.shifter.preflight(ctx.signal);
      if (problems.length) throw new UsageError(`the ${ctx.canary.mode} traffic cannot be moved, nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
      // resume, abort: the file as it was before the canary is the record's (this one is the canary's)
      if (recorded && (ctx.cflags.resume || ctx.cflags.abort)) ctx.originalSplit = recorded.originalSplit;
      else ctx.rollout.originalSplit = ctx.originalSplit = await ctx.shifter.current(ctx.signal);
    }
    return plan(ctx);
  },

  recheck: async (ctx) => {
    const recorded = await readCanary(ctx.state.runner, ctx.state.dir, ctx.signal);
    if (!ctx.cflags.resume && !ctx.cflags.abort && recorded && !SETTLED.includes(recorded.phase))
      throw new UsageError(`a canary of ${recorded.tag} (run ${recorded.runId}) started while this run waited for the lock. Nothing was changed.`);
  },

  takeOver(ctx, holder: LockHolder) {
    // a controller that died (laptop closed, SSH lost for good): its lock, once stale, is this canary's to take
    const r = holder.record;
    if ((ctx.cflags.resume || ctx.cflags.abort) && holder.stale && r?.task === 'canary' && r.runId === ctx.previousController)
      return `${ctx.cflags.resume ? 'resume' : 'abort'} of canary ${ctx.rollout.runId}: its controller (run ${r.runId}) stopped (${holder.staleReason})`;
    return null;
  },

  started: (ctx) => ({ from: ctx.hosts[0]!.from.tag ?? null, to: ctx.tag, ...(ctx.flags.skipBackup ? { skipBackupReason: ctx.flags.skipBackup } : {}) }),

  work(ctx) {
    if (ctx.cflags.abort) return [{ title: `Abort the canary of ${ctx.tag} at ${percentText(ctx.rollout.percent)}`, task: () => Promise.reject(new CanaryRollback(`aborted by ${ctx.who} (canary abort)`)) }];
    const from = ctx.cflags.resume ? Math.max(0, ctx.rollout.stepIndex) : 0;
    return [
      ...(ctx.cflags.traffic && !ctx.dry ? [syntheticTask(ctx)] : []),
      ...(ctx.canary.mode === 'instances' ? [startInstanceTask(ctx)] : []),
      ...(ctx.canary.mode === 'nginx' && from === 0 ? [drainTask(ctx, ctx.hosts.slice(0, ctx.canary.canaryHosts))] : []),
      ...(ctx.canary.mode === 'nginx' ? [moveHosts(ctx, ctx.hosts.slice(0, ctx.canary.canaryHosts), `Canary hosts on ${ctx.tag}: ${ctx.hosts.slice(0, ctx.canary.canaryHosts).map((h) => h.host.name).join(', ')}`)] : []),
      ...ctx.percents.map((_, i) => i).filter((i) => i >= from).map((i) => stepTask(ctx, i)),
    ];
  },

  async recover(ctx, list: ListMaker<CanaryCtx>, error) {
    const why = error instanceof CanaryRollback ? error.message : `the canary failed: ${ctx.redact(oneLine((error as Error).message))}`;
    ctx.rollout.reason ??= why;
    ctx.rollout.phase = 'rolling-back';
    await writeCanary(ctx.state.runner, ctx.state.dir, ctx.rollout).catch(() => undefined);
    ctx.events.add({ type: 'phase', at: new Date().toISOString(), step: ctx.rollout.stepIndex, phase: 'rolling-back', why });
    if (ctx.canary.mode === 'instances') return instanceRecover(ctx, list);
    const anyMoved = moved(ctx).length > 0;
    const stableLeft = servingStable(ctx).length > 0;
    // a load balancer that refuses the change (nginx -t failing for another reason) must not keep the
    // hosts on the bad release: the hosts go back anyway, and the run says what the load balancer kept
    const lbProblems: string[] = [];
    const onLb = (what: string, task: () => Promise<void>) => async () => {
      try {
        await task();
      } catch (err) {
        lbProblems.push(`${what}: ${ctx.redact(oneLine((err as Error).message))}`);
        throw err;
      }
    };
    try {
      await list([
        {
          // first, in seconds: every request to the stable hosts
          title: 'Traffic back to the stable hosts',
          enabled: () => ctx.shifter !== null && anyMoved && (stableLeft || ctx.canary.mode === 'flags'),
          exitOnError: ctx.canary.mode === 'flags',
          task: onLb('traffic back to the stable hosts', async () => {
            const r = ctx.canary.mode === 'flags' ? await ctx.shifter!.restore(ctx.originalSplit, ctx.signal) : await ctx.shifter!.apply(shiftStep(ctx, 0, -1), ctx.signal);
            ctx.rollout.percent = 0;
            ctx.rollout.realPercent = r.realPercent;
            ctx.events.add({ type: 'traffic', at: new Date().toISOString(), step: -1, percent: 0, realPercent: r.realPercent, detail: r.detail });
          }),
        },
        // then the moved hosts back to what they ran (flags mode changed no code)
        ...(ctx.canary.mode === 'flags' || !anyMoved ? [] : asCanary(rollbackTasks(ctx))),
        {
          title: 'Load balancer: as before the canary',
          // always (it changes nothing when the file is as it was): the canary may have drained hosts, or an earlier rollback failed here
          enabled: () => ctx.shifter !== null && ctx.canary.mode === 'nginx',
          exitOnError: false,
          task: onLb('the load balancer as before the canary', async () => void (await ctx.shifter!.restore(ctx.originalSplit, ctx.signal))),
        },
      ]).run();
    } catch (err) {
      ctx.notes.push(`the rollback did not complete: ${ctx.redact((err as Error).message.split('\n')[0] ?? '')}`);
      return 'needs-attention';
    }
    for (const r of ctx.rollout.hosts) r.moved = false;
    if (lbProblems.length) {
      ctx.notes.push(`the load balancer was not changed back (${lbProblems.join('; ')}); every host runs its previous release again, so whatever split nginx keeps serves it: fix nginx, then run npx tsx tasks/canary.ts abort --env ${ctx.env.name} to put the file back`);
      return 'needs-attention';
    }
    ctx.rollout.percent = 0; // subset mode has no shifter: the hosts moving back moved the traffic back
    ctx.rollout.realPercent = 0;
    return 'rolled-back';
  },

  // instances: a release folder made for the second instance is a change (its unit may have started)
  changedAnything: (ctx) => moved(ctx).length > 0 || ctx.rollout.percent > 0 || ctx.rollout.hosts.some((h) => h.release !== undefined),

  async settle(ctx, outcome: Outcome) {
    await ctx.synthetic?.stop();
    await ctx.shifter?.close();
    if (ctx.dry) return;
    const phase = ({ done: 'done', 'rolled-back': 'rolled-back', 'needs-attention': 'failed', refused: 'rolled-back', interrupted: 'stopped', 'dry-run': 'stopped' } as const)[outcome];
    // interrupted, or the lock lost: the controller stops, the split stays where it is (resume or abort)
    ctx.rollout.phase = outcome === 'needs-attention' && ctx.rollout.reason?.startsWith('this run lost') ? 'stopped' : phase;
    if (outcome === 'refused' && !moved(ctx).length && ctx.rollout.percent === 0) ctx.rollout.phase = 'rolled-back';
    ctx.events.add({ type: 'phase', at: new Date().toISOString(), step: ctx.rollout.stepIndex, phase: ctx.rollout.phase, why: ctx.rollout.reason ?? outcome });
    await writeCanary(ctx.state.runner, ctx.state.dir, ctx.rollout);
  },

  finished: (ctx, outcome) => ({
    live: outcome === 'done' ? ctx.tag : outcome === 'rolled-back' ? (ctx.hosts[0]!.from.tag ?? null) : null,
    ...(ctx.backup ? { backupFile: ctx.backup.file } : {}),
    ...(ctx.rollout.reason && outcome !== 'done' ? { error: ctx.rollout.reason } : {}),
  }),

  async afterSuccess(ctx) {
    if (!ctx.backup) return [];
    return [...(await pruneAfterRun(ctx.env, ctx.state.runner)).notes];
  },

  summary: canarySummary,
  json: canaryJson,
  report: canaryReport,
  startEvent: canaryStartEvent,
  endEvent: canaryEndEvent,
};

