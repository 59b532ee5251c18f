/**
 * The deploy and rollback task lists, as data: read top to bottom like the runbook they replace
 * (seed plan T4.5-T4.7). Each task records its duration; host stages say what is live.
 */
import type { ListrTask, ListrTaskWrapper } from 'listr2';
import { label, type Deployed, type HostRun, type RunCtx } from './context.ts';
import { checkout, codeDir, install, migrate, prepare, pruneReleases, restart, switchRelease, type Out } from './host-steps.ts';
import { verifyHost } from './verify-host.ts';

// listr2's wrapper type is generic over renderers; tasks only use title/output/skip/newListr
type Task = ListrTaskWrapper<RunCtx, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

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

/** A step failed on some hosts: every failing host, each with its own message. */
export class HostsFailed extends Error {
  constructor(readonly failures: readonly string[]) {
    super(failures.join('\n'));
  }
}

/**
 * One subtask per host, all at once (fleets in batches come with the SSM issue). Any host failing
 * fails the step, with every failing host named. `keepGoing`: the other hosts still finish (a
 * rollback or a verification must not stop at the first bad host).
 */
function perHost(
  hosts: () => HostRun[],
  title: (h: HostRun) => string,
  body: (h: HostRun, task: Task) => Promise<void>,
  opts: { keepGoing?: boolean } = {},
) {
  return async (_: RunCtx, task: Task) => {
    const failures: string[] = [];
    const subtasks = hosts().map((h) => ({
      title: title(h),
      task: async (_c: RunCtx, t: Task) => {
        try {
          await body(h, t);
        } catch (err) {
          const message = (err as Error).message;
          failures.push(message.startsWith(`${h.host.name}: `) ? message : `${h.host.name}: ${message}`);
          h.problem ??= message;
          throw err;
        }
      },
    }));
    await task.newListr(subtasks, { concurrent: true, exitOnError: !opts.keepGoing }).run().catch(() => undefined);
    if (failures.length) throw new HostsFailed(failures);
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
  const { app, services } = ctx.env.config;
  const releasesMode = app.strategy === 'releases';
  const first = ctx.hosts[0]!;
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
                perHost(() => ctx.hosts, (h) => h.host.name, async (h, t) => {
                  const reused = await prepare(ctx, h, out(t), { reuseRelease: hooks.reuseRelease ?? false });
                  if (releasesMode && !reused) await install(ctx, h, codeDir(ctx, h), out(t));
                  if (reused) t.title = `${h.host.name}: reusing release ${h.newRelease} (no reinstall)`;
                }),
              ),
            },
          ],
          { concurrent: true, exitOnError: true },
        ),
    },
    ...(releasesMode
      ? []
      : [
          {
            title: `Check out ${ctx.tag}`,
            task: timed('checkout', perHost(() => ctx.hosts, (h) => `${h.host.name}: ${label(h.from)} -> ${ctx.tag}`, (h) => checkout(ctx, h, { tag: ctx.tag }))),
          },
          {
            title: 'Install',
            enabled: () => app.install.length > 0,
            task: timed('install', perHost(() => ctx.hosts, (h) => h.host.name, (h, t) => install(ctx, h, app.path, out(t)))),
          },
        ]),
    {
      title: `Migrate the database (on ${first.host.name})`,
      enabled: () => hooks.migrate && app.migrate.length > 0,
      task: timed('migrate', (c, t) => migrate(c, first, codeDir(c, first), out(t))),
    },
    ...(releasesMode
      ? [
          {
            title: `Switch current to ${ctx.tag}`,
            task: timed('switch', perHost(() => ctx.hosts, (h) => `${h.host.name}: ${h.from.release ?? '(none)'} -> ${h.newRelease ?? ctx.tag}`, (h) => switchRelease(ctx, h, h.newRelease!))),
          },
        ]
      : []),
    ...(hooks.beforeRestart ?? []),
    {
      title: `Restart ${services.map((s) => s.name).join(', ')}`,
      task: timed('restart', perHost(() => ctx.hosts, (h) => h.host.name, (h, t) => restart(ctx, h, out(t)))),
    },
    verifyTask(ctx, { title: `Verify ${ctx.tag}`, step: 'verify', hosts: () => ctx.hosts, tagOf: () => ctx.tag, okStage: 'verified' }),
    {
      title: 'Prune old releases',
      enabled: () => releasesMode,
      task: timed('prune-releases', perHost(() => ctx.hosts, (h) => h.host.name, async (h, t) => {
        const gone = await pruneReleases(ctx, h);
        t.title = `${h.host.name}: ${gone.length ? `removed ${gone.join(', ')}` : 'nothing to remove'}`;
      })),
    },
  ];
}

/** Verify hosts; a host that passes moves to `okStage`. Fails naming every failing host. */
export function verifyTask(
  ctx: RunCtx,
  o: { title: string; step: string; hosts: () => HostRun[]; tagOf: (h: HostRun) => string | undefined; okStage: 'verified' | 'rolled-back' },
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
        { keepGoing: true },
      ),
    ),
  };
}

/**
 * Back to what ran before, on every host this run touched: the previous tag (in-place: check out
 * and reinstall; releases: switch `current` back, no reinstall), restart, verify the same way.
 * Migrations are NOT undone: the database keeps the new schema (the report says so).
 */
export function rollbackTasks(ctx: RunCtx): ListrTask<RunCtx>[] {
  const { app, services } = ctx.env.config;
  const touched = () => ctx.hosts.filter((h) => h.stage !== 'untouched');
  const back = (h: HostRun): Deployed => h.from;
  const sub = (step: string, body: (h: HostRun, t: Task) => Promise<void>) =>
    timed(step, perHost(touched, (h) => `${h.host.name} -> ${label(back(h))}`, body, { keepGoing: true }));
  return [
    ...(app.strategy === 'releases'
      ? [{ title: 'Switch current back', task: sub('rollback-switch', (h) => switchRelease(ctx, h, h.from.release!)) }]
      : [
          { title: 'Check out the previous revision', task: sub('rollback-checkout', (h) => checkout(ctx, h, back(h))) },
          { title: 'Install', enabled: () => app.install.length > 0, task: sub('rollback-install', (h, t) => install(ctx, h, app.path, out(t))) },
        ]),
    { title: `Restart ${services.map((s) => s.name).join(', ')}`, task: sub('rollback-restart', (h, t) => restart(ctx, h, out(t))) },
    verifyTask(ctx, { title: 'Verify the previous revision', step: 'rollback-verify', hosts: touched, tagOf: (h) => h.from.tag, okStage: 'rolled-back' }),
  ];
}
