/**
 * The deploy and rollback task lists, as data: read top to bottom like the runbook they replace.
 * The fleet goes in batches (rollout.ts); inside a batch each step runs on every host still
 * standing, a host that fails is set aside (✖ under the step, with its reason), and the gate after
 * the batch decides: go on (rolling back the failed hosts), or stop (the procedure's undo then
 * rolls back every moved host).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListrTask } from 'listr2';
import { label } from '../base/run.ts';
import { hostStep, timed, type Task } from '../kernel/listr.ts';
import type { HostRun, RunCtx } from './context.ts';
import { codeDir, migrate, prepare, pruneReleases, startCode, switchRelease, type Out } from './host-steps.ts';
import { restartHosts, usesSsm } from './restart-step.ts';
import { gate, planBatches } from './rollout.ts';
import { verifyHost } from './verify-host.ts';

type T = Task<RunCtx>;

/** A host's task output: the last line of what it printed, masked. */
export const out =
  (ctx: RunCtx, task: T): Out =>
  (line) => {
    task.output = ctx.redact(line);
  };

/** Set a host aside in this run's rollout: the gate counts it, the summary says why. */
const setAside = (h: HostRun, err: Error) => {
  h.problem = err.message;
  h.failed ??= err.message;
};

export interface DeployHooks {
  /** Takes and verifies the backup (or records why it was skipped); null: no backup step (a canary's later hosts, after its backup). */
  backup: ((ctx: RunCtx, task: T) => Promise<void>) | null;
  /** Run the environment's migrations (deploy: yes; rollback: never, they are not undone). */
  migrate: boolean;
  /** releases strategy: switch to an existing release folder of the tag when there is one (rollback). */
  reuseRelease?: boolean;
  /** Steps between install and restart (rollback --restore-db: the database restore). */
  beforeRestart?: ListrTask<RunCtx>[];
}

export function deployTasks(ctx: RunCtx, hooks: DeployHooks): ListrTask<RunCtx>[] {
  const { app } = ctx.env.config;
  const releasesMode = app.strategy === 'releases';
  const batches = planBatches(ctx.hosts, ctx.env.config.rollout);
  return [
    {
      title: 'Backup and preparation (nothing live changes)',
      task: (_, task) =>
        task.newListr(
          [
            ...(hooks.backup ? [{ title: 'Backup of the database', task: timed('backup', (c: RunCtx, t: T) => hooks.backup!(c, t)) }] : []),
            hostStep<RunCtx, HostRun>({
              // in place the preflight fetched already (a rollback: listed what the hosts have); the step fetches only where it did not
              title: releasesMode ? `New release folders for ${ctx.tag}, installed` : `${ctx.tag} on every host`,
              step: 'prepare',
              hosts: () => ctx.hosts,
              hostTitle: (h) => h.host.name,
              body: async (h, t) => {
                // releases: the new folder and its install in one command
                const reused = await prepare(ctx, h, out(ctx, t), { reuseRelease: hooks.reuseRelease ?? false });
                if (reused) t.title = `${h.host.name}: reusing release ${h.newRelease} (no reinstall)`;
              },
              onFail: (h, e) => (h.problem = e.message),
              throws: true,
            }),
          ],
          { concurrent: true, exitOnError: true },
        ),
    },
    ...(batches.length === 1
      ? batchTasks(ctx, hooks, batches[0]!, 0)
      : batches.map((batch, i) => ({
          title: `Batch ${i + 1}/${batches.length}: ${batch.map((h) => h.host.name).join(', ')}`,
          task: (_: RunCtx, task: T) => task.newListr(batchTasks(ctx, hooks, batch, i), { exitOnError: true }),
        }))),
    hostStep<RunCtx, HostRun>({
      title: 'Prune old releases',
      step: 'prune-releases',
      enabled: () => releasesMode,
      hosts: () => ctx.hosts.filter((h) => h.stage === 'verified'),
      hostTitle: (h) => h.host.name,
      body: async (h, t) => {
        const gone = await pruneReleases(ctx, h);
        t.title = `${h.host.name}: ${gone.length ? `removed ${gone.join(', ')}` : 'nothing to remove'}`;
      },
      throws: false, // a leftover folder is not a failed deploy: said under the step, and the run goes on
    }),
  ];
}

/** One batch: release, install, (migrate once), switch, restart, verify, then the gate. */
function batchTasks(ctx: RunCtx, hooks: DeployHooks, batch: HostRun[], index: number): ListrTask<RunCtx>[] {
  const { app, services, rollout } = ctx.env.config;
  const releasesMode = app.strategy === 'releases';
  const alive = () => batch.filter((h) => !h.failed);
  const migrates = index === 0 && hooks.migrate && app.migrate.length > 0;
  // in place: check out, install and (on the batch's first host) migrate go as one command per host
  const code = (h: HostRun) => startCode(ctx, h, { tag: ctx.tag }, { migrate: migrates && h === alive()[0] });
  const each = (title: string, step: string, hostTitle: (h: HostRun) => string, body: (h: HostRun, t: T) => Promise<void>, enabled?: () => boolean) =>
    hostStep<RunCtx, HostRun>({ title, step, hosts: alive, hostTitle, body, onFail: setAside, throws: false, ...(enabled ? { enabled } : {}) });
  return [
    ...(releasesMode
      ? []
      : [
          each(`Check out ${ctx.tag}`, 'checkout', (h) => `${h.host.name}: ${label(h.from)} -> ${ctx.tag}`, (h, t) => code(h).until('checkout', out(ctx, t))),
          each('Install', 'install', (h) => h.host.name, (h, t) => h.code!.until('install', out(ctx, t)), () => app.install.length > 0),
        ]),
    {
      // once per deploy (the database is shared); a failure stops everything: the schema is the fleet's
      title: `Migrate the database (on ${batch[0]!.host.name})`,
      enabled: () => migrates,
      task: timed('migrate', (c, t) => {
        const on = alive()[0];
        if (!on) throw new Error('no host of the first batch is left to run the migrations');
        // in place, its check-out command runs them (unless that host was set aside: then here, alone)
        if (on.code?.has('migrate')) return on.code.until('migrate', out(c, t));
        return migrate(c, on, codeDir(c, on), out(c, t));
      }),
    },
    ...(releasesMode ? [each(`Switch current to ${ctx.tag}`, 'switch', (h) => `${h.host.name}: ${h.from.release ?? '(none)'} -> ${h.newRelease}`, (h) => switchRelease(ctx, h, h.newRelease!))] : []),
    ...(index === 0 ? (hooks.beforeRestart ?? []) : []),
    restartHosts(ctx, { title: `Restart ${services.map((s) => s.name).join(', ')}${usesSsm(ctx) ? ' (SSM)' : ''}`, step: 'restart', hosts: alive, onFail: setAside, throws: false }),
    verifyTask(ctx, { title: `Verify ${ctx.tag}`, step: 'verify', hosts: alive, tagOf: () => ctx.tag, okStage: 'verified', onFail: setAside, throws: false }),
    {
      title: 'Gate',
      task: async (c: RunCtx, task: T) => {
        const failedHere = batch.filter((h) => h.failed);
        const failedSoFar = c.hosts.filter((h) => h.failed).length;
        const decision = gate({ rollout, total: c.hosts.length, batchIndex: index, failedInBatch: failedHere.length, failedSoFar });
        // the hosts' reasons are on screen under their steps and in the summary: the gate says only its rule
        if (!decision.go) {
          task.title = `Gate: batch ${index + 1} stopped`;
          throw new Error(`stopped: ${decision.why}`);
        }
        if (!failedHere.length) {
          task.title = `Gate: batch ${index + 1} verified`;
          if (rollout.pause > 0 && c.hosts.some((h) => h.stage === 'untouched')) await sleep(rollout.pause, undefined, { signal: c.signal });
          return;
        }
        c.notes.push(`${failedHere.map((h) => h.host.name).join(', ')} failed and were rolled back; within rollout.maxFailures, the deploy went on`);
        task.title = `Gate: ${failedHere.length} host(s) failed, within rollout.maxFailures: rolling them back, then on`;
        return task.newListr(rollbackTasks(c, () => failedHere), { exitOnError: true });
      },
    },
  ];
}

/** Verify hosts; a host that passes moves to `okStage`. */
export function verifyTask(
  ctx: RunCtx,
  o: { title: string; step: string; hosts: () => HostRun[]; tagOf: (h: HostRun) => string | undefined; okStage: 'verified' | 'rolled-back'; onFail: (h: HostRun, e: Error) => void; throws: boolean },
): ListrTask<RunCtx> {
  return hostStep<RunCtx, HostRun>({
    title: o.title,
    step: o.step,
    hosts: o.hosts,
    hostTitle: (h) => `${h.host.name} on ${o.tagOf(h) ?? label(h.from)}`,
    body: async (h, t) => {
      const results = o.okStage === 'verified' ? h.checks : (h.rollbackChecks = []);
      const ok = await verifyHost(ctx, h, o.tagOf(h), (r) => {
        results.push(r);
        t.output = ctx.redact(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}`);
      });
      if (!ok) throw new Error(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`).join('; '));
      h.stage = o.okStage;
    },
    onFail: o.onFail,
    throws: o.throws,
  });
}

/** A host whose rollback failed: a human must look at it. */
const rollbackFailed = (h: HostRun, e: Error) => {
  h.stage = 'rollback-failed';
  h.problem = e.message;
};

/**
 * Back to what ran before, on the given hosts (default: every host this run moved and did not
 * already roll back): the previous revision (in-place: check out and reinstall; releases: switch
 * `current` back, no reinstall), a restart where this run restarted the services (a host whose
 * restart never ran still runs the previous release), and the same verification as a deploy. A
 * host whose rollback fails is set aside (rollback-failed) and the others go on; the last step
 * fails when any host is not back. Migrations are NOT undone.
 */
export function rollbackTasks(ctx: RunCtx, which?: () => HostRun[]): ListrTask<RunCtx>[] {
  const { app, services } = ctx.env.config;
  const chosen = which ?? (() => ctx.hosts.filter((h) => h.stage !== 'untouched' && h.stage !== 'rolled-back'));
  let set: HostRun[] | null = null; // fixed at the first step: the stages change as it goes
  const hosts = () => (set ??= chosen());
  const going = () => hosts().filter((h) => h.stage !== 'rollback-failed');
  const back = (step: string, title: string, body: (h: HostRun, t: T) => Promise<void>, enabled?: () => boolean) =>
    hostStep<RunCtx, HostRun>({ title, step, hosts: going, hostTitle: (h) => `${h.host.name} -> ${label(h.from)}`, body, onFail: rollbackFailed, throws: false, ...(enabled ? { enabled } : {}) });
  return [
    ...(app.strategy === 'releases'
      ? [back('rollback-switch', 'Switch current back', (h) => switchRelease(ctx, h, h.from.release!))]
      : [
          back('rollback-checkout', 'Check out the previous revision', (h, t) => startCode(ctx, h, h.from, { migrate: false }).until('checkout', out(ctx, t))),
          back('rollback-install', 'Install', (h, t) => h.code!.until('install', out(ctx, t)), () => app.install.length > 0),
        ]),
    restartHosts(ctx, {
      title: `Restart ${services.map((s) => s.name).join(', ')}${usesSsm(ctx) ? ' (SSM)' : ''}`,
      step: 'rollback-restart',
      // a host whose restart never ran still runs the previous release: its code is back, nothing to restart
      hosts: () => going().filter((h) => h.restarted),
      onFail: rollbackFailed,
      throws: false,
    }),
    verifyTask(ctx, { title: 'Verify the previous revision', step: 'rollback-verify', hosts: going, tagOf: (h) => h.from.tag, okStage: 'rolled-back', onFail: rollbackFailed, throws: false }),
    {
      title: 'Rollback verified',
      task: (_c: RunCtx, task: T) => {
        for (const h of hosts()) if (h.stage !== 'rolled-back' && h.stage !== 'rollback-failed') rollbackFailed(h, new Error(h.problem ?? 'the rollback did not reach its verification'));
        const failed = hosts().filter((h) => h.stage === 'rollback-failed');
        if (failed.length) throw new Error(`the rollback did not verify on ${failed.map((h) => h.host.name).join(', ')}`);
        task.title = `Rollback verified on ${hosts().map((h) => h.host.name).join(', ')}`;
      },
    },
  ];
}
