/**
 * The deploy and rollback task lists, as data: read top to bottom like the runbook they replace
 * (seed plan T4.5-T4.7). The fleet goes in batches (rollout.ts); inside a batch each step runs on
 * every host still standing, a host that fails is set aside, and the gate after the batch decides:
 * go on (rolling back the failed hosts), or stop (the orchestrator rolls back every moved host).
 */
import type { ListrTask, ListrTaskWrapper } from 'listr2';
import { label, type Deployed, type HostRun, type RunCtx } from './context.ts';
import { checkout, codeDir, install, migrate, prepare, pruneReleases, switchRelease, type Out } from './host-steps.ts';
import { restartHosts, usesSsm } from './restart-step.ts';
import { gate, planBatches } from './rollout.ts';
import { verifyHost } from './verify-host.ts';

// listr2's wrapper type is generic over renderers; tasks only use title/output/skip/newListr
type Task = ListrTaskWrapper<RunCtx, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A step failed on some hosts: every failing host, each with its own message. */
export class HostsFailed extends Error {
  constructor(readonly failures: readonly string[]) {
    super(failures.join('\n'));
  }
}

/** Wrap a task body so its duration and result land in ctx.steps. */
export function timed(name: string, body: (ctx: RunCtx, task: Task) => Promise<unknown> | unknown): ListrTask<RunCtx>['task'] {
  return async (ctx, task) => {
    const t0 = performance.now();
    let ok = false;
    try {
      const r = await body(ctx, task as Task);
      ok = true;
      return r;
    } finally {
      ctx.steps.push({ name, durationMs: Math.round(performance.now() - t0), ok });
    }
  };
}

const out = (task: Task): Out => (line) => {
  task.output = line;
};

const failure = (h: HostRun, err: unknown) => {
  const message = (err as Error).message;
  return message.startsWith(`${h.host.name}: `) || message.startsWith(`${h.host.name} (`) ? message : `${h.host.name}: ${message}`;
};

/**
 * One subtask per host, all at once. `throws`: any host failing fails the step, naming every
 * failing host (the others still finish). Otherwise a failing host is only set aside
 * (`h.failed`) and the step goes on: the batch gate decides what that means.
 */
function perHost(
  hosts: () => HostRun[],
  title: (h: HostRun) => string,
  body: (h: HostRun, task: Task) => Promise<void>,
  opts: { throws: boolean },
) {
  return async (_: RunCtx, task: Task) => {
    const failures: string[] = [];
    const subtasks = hosts().map((h) => ({
      title: title(h),
      task: async (_c: RunCtx, t: Task) => {
        try {
          await body(h, t);
        } catch (err) {
          failures.push(failure(h, err));
          h.problem ??= (err as Error).message;
          if (!opts.throws) h.failed ??= (err as Error).message;
          throw err;
        }
      },
    }));
    await task.newListr(subtasks, { concurrent: true, exitOnError: false }).run().catch(() => undefined);
    if (failures.length && opts.throws) throw new HostsFailed(failures);
  };
}

export interface DeployHooks {
  /** Takes and verifies the backup (or records why it was skipped). */
  backup: (ctx: RunCtx, task: Task) => Promise<void>;
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
            { title: 'Backup of the database', task: timed('backup', (c, t) => hooks.backup(c, t)) },
            {
              title: releasesMode ? `New release folders for ${ctx.tag}, installed` : `Fetch ${ctx.tag}`,
              task: timed(
                'prepare',
                perHost(
                  () => ctx.hosts,
                  (h) => h.host.name,
                  async (h, t) => {
                    const reused = await prepare(ctx, h, out(t), { reuseRelease: hooks.reuseRelease ?? false });
                    if (releasesMode && !reused) await install(ctx, h, codeDir(ctx, h), out(t));
                    if (reused) t.title = `${h.host.name}: reusing release ${h.newRelease} (no reinstall)`;
                  },
                  { throws: true },
                ),
              ),
            },
          ],
          { concurrent: true, exitOnError: true },
        ),
    },
    ...(batches.length === 1
      ? batchTasks(ctx, hooks, batches[0]!, 0)
      : batches.map((batch, i) => ({
          title: `Batch ${i + 1}/${batches.length}: ${batch.map((h) => h.host.name).join(', ')}`,
          task: (_: RunCtx, task: Task) => task.newListr(batchTasks(ctx, hooks, batch, i), { exitOnError: true }),
        }))),
    {
      title: 'Prune old releases',
      enabled: () => releasesMode,
      task: timed(
        'prune-releases',
        perHost(
          () => ctx.hosts.filter((h) => h.stage === 'verified'),
          (h) => h.host.name,
          async (h, t) => {
            const gone = await pruneReleases(ctx, h);
            t.title = `${h.host.name}: ${gone.length ? `removed ${gone.join(', ')}` : 'nothing to remove'}`;
          },
          { throws: false },
        ),
      ),
    },
  ];
}

/** One batch: release, install, (migrate once), switch, restart, verify, then the gate. */
function batchTasks(ctx: RunCtx, hooks: DeployHooks, batch: HostRun[], index: number): ListrTask<RunCtx>[] {
  const { app, services, rollout } = ctx.env.config;
  const releasesMode = app.strategy === 'releases';
  const alive = () => batch.filter((h) => !h.failed);
  const each = (step: string, title: (h: HostRun) => string, body: (h: HostRun, t: Task) => Promise<void>) =>
    timed(step, perHost(alive, title, body, { throws: false }));
  return [
    ...(releasesMode
      ? []
      : [
          { title: `Check out ${ctx.tag}`, task: each('checkout', (h) => `${h.host.name}: ${label(h.from)} -> ${ctx.tag}`, (h) => checkout(ctx, h, { tag: ctx.tag })) },
          { title: 'Install', enabled: () => app.install.length > 0, task: each('install', (h) => h.host.name, (h, t) => install(ctx, h, app.path, out(t))) },
        ]),
    {
      // once per deploy (the database is shared); a failure stops everything: the schema is the fleet's
      title: `Migrate the database (on ${batch[0]!.host.name})`,
      enabled: () => index === 0 && hooks.migrate && app.migrate.length > 0,
      task: timed('migrate', (c, t) => {
        const on = alive()[0];
        if (!on) throw new Error('no host of the first batch is left to run the migrations');
        return migrate(c, on, codeDir(c, on), out(t));
      }),
    },
    ...(releasesMode
      ? [{ title: `Switch current to ${ctx.tag}`, task: each('switch', (h) => `${h.host.name}: ${h.from.release ?? '(none)'} -> ${h.newRelease}`, (h) => switchRelease(ctx, h, h.newRelease!)) }]
      : []),
    ...(index === 0 ? (hooks.beforeRestart ?? []) : []),
    {
      title: `Restart ${services.map((s) => s.name).join(', ')}${usesSsm(ctx) ? ' (SSM)' : ''}`,
      task: timed('restart', (c, t) =>
        restartHosts(c, alive(), t, { throws: false, out, perHostSsh: (fn) => perHost(alive, (h) => h.host.name, fn, { throws: false })(c, t) }),
      ),
    },
    verifyTask(ctx, { title: `Verify ${ctx.tag}`, step: 'verify', hosts: alive, tagOf: () => ctx.tag, okStage: 'verified', throws: false }),
    {
      title: 'Gate',
      task: async (c: RunCtx, task: Task) => {
        const failedHere = batch.filter((h) => h.failed);
        const failedSoFar = c.hosts.filter((h) => h.failed).length;
        const decision = gate({ rollout, total: c.hosts.length, batchIndex: index, failedInBatch: failedHere.length, failedSoFar });
        if (!decision.go) throw new HostsFailed([...c.hosts.filter((h) => h.failed).map((h) => failure(h, new Error(h.failed))), `stopped: ${decision.why}`]);
        if (!failedHere.length) {
          task.title = `Gate: batch ${index + 1} verified`;
          if (rollout.pause > 0 && c.hosts.some((h) => h.stage === 'untouched')) await new Promise((r) => setTimeout(r, rollout.pause));
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
  o: { title: string; step: string; hosts: () => HostRun[]; tagOf: (h: HostRun) => string | undefined; okStage: 'verified' | 'rolled-back'; throws: boolean },
): ListrTask<RunCtx> {
  return {
    title: o.title,
    task: timed(
      o.step,
      perHost(
        o.hosts,
        (h) => `${h.host.name} on ${o.tagOf(h) ?? label(h.from)}`,
        async (h, t) => {
          const results = o.okStage === 'verified' ? h.checks : (h.rollbackChecks = []);
          const ok = await verifyHost(ctx, h, o.tagOf(h), (r) => {
            results.push(r);
            t.output = `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}`;
          });
          if (!ok) {
            h.problem = results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`).join('; ');
            throw new Error(h.problem);
          }
          h.stage = o.okStage;
        },
        { throws: o.throws },
      ),
    ),
  };
}

/**
 * Back to what ran before, on the given hosts (default: every host this run moved and did not
 * already roll back): the previous revision (in-place: check out and reinstall; releases: switch
 * `current` back, no reinstall), restart, verify the same way. Migrations are NOT undone.
 */
export function rollbackTasks(ctx: RunCtx, which?: () => HostRun[]): ListrTask<RunCtx>[] {
  const { app, services } = ctx.env.config;
  const hosts = which ?? (() => ctx.hosts.filter((h) => h.stage !== 'untouched' && h.stage !== 'rolled-back'));
  const back = (h: HostRun): Deployed => h.from;
  const sub = (step: string, body: (h: HostRun, t: Task) => Promise<void>) =>
    timed(step, perHost(hosts, (h) => `${h.host.name} -> ${label(back(h))}`, body, { throws: true }));
  return [
    ...(app.strategy === 'releases'
      ? [{ title: 'Switch current back', task: sub('rollback-switch', (h) => switchRelease(ctx, h, h.from.release!)) }]
      : [
          { title: 'Check out the previous revision', task: sub('rollback-checkout', (h) => checkout(ctx, h, back(h))) },
          { title: 'Install', enabled: () => app.install.length > 0, task: sub('rollback-install', (h, t) => install(ctx, h, app.path, out(t))) },
        ]),
    {
      title: `Restart ${services.map((s) => s.name).join(', ')}${usesSsm(ctx) ? ' (SSM)' : ''}`,
      task: timed('rollback-restart', (c, t) =>
        restartHosts(c, hosts(), t, { throws: true, out, perHostSsh: (fn) => perHost(hosts, (h) => `${h.host.name} -> ${label(back(h))}`, fn, { throws: true })(c, t) }),
      ),
    },
    verifyTask(ctx, { title: 'Verify the previous revision', step: 'rollback-verify', hosts, tagOf: (h) => h.from.tag, okStage: 'rolled-back', throws: true }),
  ];
}
