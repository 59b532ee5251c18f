/**
 * canary `instances` mode (one host, the seeds' own setup): the release runs as a second instance
 * beside the stable one, from a release folder of its own, and nginx splits the traffic between
 * the two ports. The stable instance is not touched until 100%; then it takes the release over
 * (current switched, restarted while the second instance serves every request, verified), the
 * traffic goes back to it, and the second instance stops. A rollback before that only moves the
 * traffic back and stops the second instance: the stable instance never restarted.
 */
import type { ListrTask } from 'listr2';
import { CutoverError, UsageError } from '../base/errors.ts';
import { label } from '../base/run.ts';
import { instance, parseInstance, type InstanceSpec } from '../commands/instance.ts';
import { releasePaths } from '../commands/releases.ts';
import { backupStep } from '../deploy/backup-step.ts';
import type { HostRun, RunCtx } from '../deploy/context.ts';
import { out, rollbackTasks, verifyTask } from '../deploy/graph.ts';
import { codeDir, migrate, prepare, pruneReleases, switchRelease } from '../deploy/host-steps.ts';
import { restartHosts } from '../deploy/restart-step.ts';
import { verifyHost } from '../deploy/verify-host.ts';
import { timed, type ListMaker, type Task } from '../kernel/listr.ts';
import type { Outcome } from '../kernel/procedure.ts';
import { withPort } from '../probes/http.ts';
import { hostNowAndPids } from '../probes/journal.ts';
import { oneLine } from '../base/format.ts';
import { lastLines } from '../runners/run.ts';
import type { Signals } from '../config/signals.ts';
import type { CanaryCtx } from './context.ts';
import type { HostRef } from './shifter.ts';
import { writeCanary } from './state.ts';

type T = Task<CanaryCtx>;

/** The one host of an instances canary. */
export const theHost = (ctx: CanaryCtx): HostRun => ctx.hosts[0]!;

export function instanceSpec(ctx: CanaryCtx): InstanceSpec {
  const i = ctx.canary.instance!;
  return { root: ctx.env.config.app.path, link: i.link, unit: i.unit, sudo: i.sudo };
}

/** The two upstream servers nginx splits between: the second instance (canary) and the stable one. */
export function instanceRefs(ctx: CanaryCtx): { canary: HostRef; stable: HostRef } {
  const h = theHost(ctx).host;
  return {
    canary: { name: `${h.name}.${ctx.canary.instance!.link}`, address: h.address, port: ctx.canary.instance!.port },
    stable: { name: h.name, address: h.address, port: ctx.canary.nginx!.appPort },
  };
}

/**
 * The cohorts' keys: each instance's upstream address (nginx's log) and the release it runs (a
 * version field). Never the host's name: both instances write under it. At 100% no stable cohort.
 */
export function instanceKeys(ctx: CanaryCtx, alone: boolean): { canary: string[]; stable: string[] } {
  const { canary, stable } = instanceRefs(ctx);
  const from = theHost(ctx).from.tag;
  return {
    canary: [`${canary.address}:${canary.port}`, ctx.tag],
    stable: alone ? [] : [`${stable.address}:${stable.port}`, ...(from && from !== ctx.tag ? [from] : [])],
  };
}

/** The run as verify sees the second instance: its port in every URL, its unit as the only service. */
export function instanceView(ctx: CanaryCtx): RunCtx {
  const i = ctx.canary.instance!;
  const v = ctx.env.config.verify;
  const verify = {
    ...v,
    health: { ...v.health, url: withPort(v.health.url, i.port) },
    ...(v.readiness ? { readiness: { ...v.readiness, url: withPort(v.readiness.url, i.port) } } : {}),
    ...(v.chat ? { chat: { ...v.chat, url: withPort(v.chat.url, i.port) } } : {}),
  };
  const config = { ...ctx.env.config, verify, services: [{ unit: i.unit, name: i.unit, restart: 'ssh' as const, sudo: i.sudo }] };
  // a view: reads go through to the run's context; verify only reads
  return Object.assign(Object.create(ctx) as RunCtx, { env: { ...ctx.env, config } });
}

/**
 * Pure: the judging gates whose records cannot tell the two instances apart (a log source split
 * by host: both instances write under the same host). Such a gate never has data: refused up front.
 */
export function blindGates(signals: Signals, chosen: readonly string[] | undefined): string[] {
  return signals.gates
    .filter((g) => !chosen || chosen.includes(g.name))
    .flatMap((g) => {
      const source = signals.metrics[g.metric]?.source;
      const src = source ? signals.sources[source] : undefined;
      return src && src.kind !== 'prometheus' && src.cohortBy === 'host' ? [`${g.name} (metric ${g.metric}, source ${source}: cohortBy 'host')`] : [];
    });
}

/** Read-only, in preflight: the host, the strategy, the second instance's unit, and nothing of an earlier canary left running. */
export async function instancePreflight(ctx: CanaryCtx): Promise<void> {
  const { app } = ctx.env.config;
  if (ctx.hosts.length !== 1)
    throw new UsageError(`canary mode 'instances' runs on one host, and ${ctx.env.name} has ${ctx.hosts.length} here (${ctx.hosts.map((h) => h.host.name).join(', ')}): pick one with --hosts NAME, or use mode 'nginx' for a fleet`);
  if (app.strategy !== 'releases') throw new UsageError(`canary mode 'instances' needs app.strategy 'releases' (the second instance runs from its own release folder); ${ctx.env.file} has '${app.strategy}'`);
  const blind = blindGates(ctx.signals, ctx.canary.gates);
  if (blind.length)
    throw new UsageError(
      `in canary mode 'instances' both instances write under one host, so a source split by host cannot tell them apart; these gates would never have data: ${blind.join(', ')}. ` +
        `Judge by nginx's access log (cohortBy: { field: 'upstream' }) or a version field in the records (cohortBy: { field: 'version' }), or leave them out with canary.gates`,
    );
  const h = theHost(ctx);
  const spec = instanceSpec(ctx);
  const r = await h.runner.exec(instance.facts(spec), { signal: ctx.signal, timeoutMs: 30_000 });
  if (r.code === 5) throw new UsageError(`${h.host.name}: the second instance's unit ${spec.unit} does not exist (canary.instance.unit): install it with WorkingDirectory ${spec.root}/${spec.link} and listening on port ${ctx.canary.instance!.port}; see docs/canary.md`);
  if (r.code !== 0) throw new UsageError(`${h.host.name}: could not read the second instance ${spec.unit}: ${lastLines(r.stderr || r.stdout || r.error || '', 3)}`);
  const facts = parseInstance(r.stdout);
  if (facts.state === 'active' && !ctx.cflags.resume && !ctx.cflags.abort)
    throw new UsageError(
      `${h.host.name}: the second instance ${spec.unit} is already running${facts.link ? ` (from ${facts.link})` : ''}: an earlier canary left it, or someone started it. ` +
        `Stop it first (systemctl stop ${spec.unit}) once no traffic goes to port ${ctx.canary.instance!.port}. Nothing was changed.`,
    );
}

async function save(ctx: CanaryCtx): Promise<void> {
  if (!ctx.dry) await writeCanary(ctx.state.runner, ctx.state.dir, ctx.rollout);
}

const record = (ctx: CanaryCtx) => ctx.rollout.hosts.find((x) => x.name === theHost(ctx).host.name)!;

/** The release on the second instance: backup, release folder (installed), migrations, the instance started and verified. */
export function startInstanceTask(ctx: CanaryCtx): ListrTask<CanaryCtx> {
  const h = theHost(ctx);
  const spec = instanceSpec(ctx);
  return {
    title: `Second instance on ${h.host.name}: ${ctx.tag} (${spec.unit}, port ${ctx.canary.instance!.port}); the stable instance keeps ${label(h.from)}`,
    enabled: () => !record(ctx).moved,
    task: (_c, task) =>
      task.newListr<CanaryCtx>(
        [
          { title: 'Backup of the database', task: timed<CanaryCtx>('backup', (c, t) => backupStep(c, t as unknown as Task<RunCtx>)) },
          {
            title: `New release folder for ${ctx.tag}, installed`,
            task: timed<CanaryCtx>('prepare', async (c, t) => {
              await prepare(c, h, out(c, t as unknown as Task<RunCtx>));
              record(c).release = h.newRelease; // from here an abort knows which folder the instance may run
              await save(c);
              t.title = `New release folder ${h.newRelease}, installed`;
            }),
          },
          {
            title: 'Migrate the database (both instances run on it from now on)',
            enabled: () => ctx.env.config.app.migrate.length > 0,
            task: timed<CanaryCtx>('migrate', (c, t) => migrate(c, h, codeDir(c, h), out(c, t as unknown as Task<RunCtx>))),
          },
          {
            title: `Start ${spec.unit} on ${ctx.tag}`,
            task: timed<CanaryCtx>('start instance', async (c, t) => {
              if (!c.dry) {
                const r = await hostNowAndPids(h.runner, [spec.unit], c.signal); // the journal scan starts here, without the unit's older process
                h.restartedAt = r.now;
                h.pidsBefore = r.pids;
              }
              const res = await h.runner.exec(instance.start(spec, h.newRelease!, 15), { signal: c.signal, timeoutMs: 60_000 });
              if (res.code !== 0 && !c.dry) {
                const state = parseInstance(res.stdout).state;
                throw new CutoverError(`${h.host.name}: ${spec.unit} did not start${state ? ` (${state})` : ''}: ${c.redact(lastLines(res.stderr || res.stdout || res.error || '', 3))}; see: journalctl -u ${spec.unit} -n 50`);
              }
              t.title = `${spec.unit} started from ${spec.link} -> releases/${h.newRelease}`;
            }),
          },
          {
            title: `Verify the second instance (port ${ctx.canary.instance!.port})`,
            task: timed<CanaryCtx>('verify instance', async (c, t) => {
              const failed: string[] = [];
              const ok = await verifyHost(instanceView(c), h, c.tag, (r) => {
                if (!r.ok) failed.push(`${r.name}: ${r.detail}`);
                t.output = c.redact(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}`);
              });
              if (!ok) throw new CutoverError(`${h.host.name}: the second instance failed verification: ${c.redact(failed.join('; '))}`);
              record(c).moved = true;
              await save(c);
            }),
          },
        ],
        { exitOnError: true },
      ),
  };
}

/**
 * 100% passed its bake: the stable instance takes the release over while the second one serves
 * every request (current switched, restarted, verified), the traffic goes back to it, and the
 * second instance stops. A failure here rolls the stable instance back (recover).
 */
export function takeoverTask(ctx: CanaryCtx): ListrTask<CanaryCtx> {
  const h = theHost(ctx);
  const spec = instanceSpec(ctx);
  const view = ctx as unknown as RunCtx;
  const setAside = (x: HostRun, e: Error) => {
    x.problem = e.message;
    x.failed ??= e.message;
  };
  return {
    title: `The stable instance takes ${ctx.tag} over; ${spec.unit} stops`,
    task: (_c, task) => {
      ctx.rollout.phase = 'finishing';
      return task.newListr<CanaryCtx>(
        [
          {
            title: `Switch current to ${ctx.tag}`,
            task: timed<CanaryCtx>('switch', async (c, t) => {
              const release = record(c).release ?? h.newRelease;
              if (!release) throw new CutoverError(`the release folder of the second instance is not recorded: run npx tsx tasks/canary.ts abort --env ${c.env.name}`);
              h.newRelease = release;
              await switchRelease(c, h, release);
              t.title = `Switch current: ${h.from.release ?? '(none)'} -> ${release}`;
            }),
          },
          restartHosts(view, { title: `Restart ${ctx.env.config.services.map((s) => s.name).join(', ')} (no traffic: ${spec.unit} serves it)`, step: 'restart', hosts: () => [h], onFail: setAside, throws: true }) as unknown as ListrTask<CanaryCtx>,
          verifyTask(view, { title: `Verify ${ctx.tag} on the stable instance`, step: 'verify', hosts: () => [h], tagOf: () => ctx.tag, okStage: 'verified', onFail: setAside, throws: true }) as unknown as ListrTask<CanaryCtx>,
          {
            title: 'Traffic back to the stable instance (nginx as before the canary)',
            task: timed<CanaryCtx>('traffic stable', async (c, t) => {
              if (c.dry) return void c.dry.add(c.canary.nginx!.name, `${c.canary.nginx!.include}: as before the canary`);
              const r = await c.shifter!.restore(c.originalSplit, c.signal);
              c.events.add({ type: 'traffic', at: new Date().toISOString(), step: c.percents.length - 1, percent: 100, realPercent: 100, detail: `the stable instance on ${c.tag}: ${r.detail}` });
              t.title = `Traffic: the stable instance, on ${c.tag} (${r.detail}) in ${r.durationMs} ms`;
            }),
          },
          stopInstanceTask(ctx, `Stop ${spec.unit}`),
          {
            title: 'Prune old releases',
            enabled: () => !ctx.dry,
            task: async (c, t) => {
              // as after a deploy; a leftover folder is not a failed canary: said, and the run goes on
              const gone = await pruneReleases(c, h).catch((err: Error) => (c.notes.push(`old releases were not pruned on ${h.host.name}: ${c.redact(oneLine(err.message))}`), []));
              t.title = `Prune old releases: ${gone.length ? `removed ${gone.join(', ')}` : 'nothing to remove'}`;
            },
          },
        ],
        { exitOnError: true },
      );
    },
  };
}

/** The second instance stopped and its link removed (nothing to do when it does not run). */
export function stopInstanceTask(ctx: CanaryCtx, title: string): ListrTask<CanaryCtx> {
  const h = theHost(ctx);
  const spec = instanceSpec(ctx);
  return {
    title,
    task: timed<CanaryCtx>('stop instance', async (c, t: T) => {
      const r = await h.runner.exec(instance.stop(spec), { signal: c.signal, timeoutMs: 60_000 });
      if (r.code !== 0 && !c.dry) throw new CutoverError(`${h.host.name}: ${spec.unit} did not stop (${parseInstance(r.stdout).state ?? 'unknown'}): ${c.redact(lastLines(r.stderr || r.stdout || r.error || '', 3))}`);
      t.title = `${title}: ${c.dry ? 'listed' : parseInstance(r.stdout).state ?? 'stopped'}, ${spec.root}/${spec.link} removed`;
    }),
  };
}

/** The plan's lines for instances mode. */
export function instancePlanLines(ctx: CanaryCtx): string[] {
  const h = theHost(ctx);
  const spec = instanceSpec(ctx);
  const { canary, stable } = instanceRefs(ctx);
  const root = releasePaths(spec.root);
  return [
    `  instances: on ${h.host.name}, ${ctx.tag} runs as a second instance (${spec.unit}, ${canary.address}:${canary.port}, from ${spec.root}/${spec.link} -> ${root.releases}/<new folder>) beside the stable one (${stable.address}:${stable.port}, ${label(h.from)}); nginx ${ctx.canary.nginx!.include} splits between the two`,
    `  at 100%: current switched to the new folder, the stable instance restarted while ${spec.unit} serves every request, verified; then the traffic back to it and ${spec.unit} stopped`,
  ];
}

/**
 * The rollback of an instances canary: every request to the stable instance first (seconds), then
 * the second instance stopped. Had the take-over begun (current switched), the stable instance
 * goes back first, verified, while the traffic is still where it was.
 */
export async function instanceRecover(ctx: CanaryCtx, list: ListMaker<CanaryCtx>): Promise<Outcome> {
  const h = theHost(ctx);
  const touched = h.stage !== 'untouched' && h.stage !== 'rolled-back';
  const traffic: ListrTask<CanaryCtx> = {
    title: 'Traffic back to the stable instance',
    enabled: () => ctx.shifter !== null,
    task: timed<CanaryCtx>('traffic stable', async (c, t) => {
      if (c.dry) return void c.dry.add(c.canary.nginx!.name, `${c.canary.nginx!.include}: as before the canary`);
      const r = await c.shifter!.restore(c.originalSplit, c.signal);
      c.rollout.percent = 0;
      c.rollout.realPercent = 0;
      c.events.add({ type: 'traffic', at: new Date().toISOString(), step: -1, percent: 0, realPercent: 0, detail: r.detail });
      t.title = `Traffic back to the stable instance (${r.detail}) in ${r.durationMs} ms`;
    }),
  };
  try {
    await list([
      ...(touched ? (rollbackTasks(ctx as unknown as RunCtx, () => [h]) as unknown as ListrTask<CanaryCtx>[]) : []),
      traffic,
      stopInstanceTask(ctx, `Stop ${instanceSpec(ctx).unit}`),
    ]).run();
  } catch (err) {
    ctx.notes.push(
      `the rollback did not complete: ${ctx.redact(oneLine((err as Error).message))}; ` +
        `npx tsx tasks/canary.ts abort --env ${ctx.env.name} retries it (traffic to port ${ctx.canary.nginx!.appPort}, ${instanceSpec(ctx).unit} stopped)`,
    );
    return 'needs-attention';
  }
  record(ctx).moved = false;
  return 'rolled-back';
}
