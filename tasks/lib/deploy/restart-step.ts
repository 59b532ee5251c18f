/**
 * The restart step of a deploy or a rollback: services with `restart: 'ssm'` through ONE SSM
 * SendCommand for all the step's hosts (SSM's own fleet engine), the others over SSH host by host.
 * Each host shows its own result under the step; a host whose restart fails is set aside with the
 * reason, and a host SSM never reached (Undeliverable, Delivery Timed Out, Terminated) is known to
 * still run the previous release.
 */
import type { ListrTask } from 'listr2';
import { hostStep, type Task } from '../kernel/listr.ts';
import type { HostRun, RunCtx } from './context.ts';
import { readClockAndPids, restart } from './host-steps.ts';
import { allowedFailures } from './rollout.ts';

export function usesSsm(ctx: RunCtx): boolean {
  return ctx.env.config.services.some((s) => s.restart === 'ssm');
}

/** SSM statuses that mean the command never ran on the instance. */
const NEVER_RAN = new Set(['Undeliverable', 'Delivery Timed Out', 'Terminated']);

export interface SsmOutcome {
  readonly ok: boolean;
  /** The restart ran on the host (even if it failed): the services may have changed. */
  readonly ran: boolean;
  readonly message: string;
}

/** SSM restarts for `hosts`: each SendCommand's record goes into ctx.ssmCommands (history, --json). */
async function restartViaSsm(ctx: RunCtx, hosts: HostRun[], progress: (h: string, line: string) => void): Promise<Map<string, SsmOutcome>> {
  const services = ctx.env.config.services.filter((s) => s.restart === 'ssm');
  const [{ ssmRestart }, { ssmRestartOptions }, { sendCommandRequest }] = await Promise.all([
    import('../aws/ssm-restart.ts'),
    import('../aws/restart-options.ts'),
    import('../aws/ssm-command.ts'),
  ]);
  // the journal scan reads from the host's clock just before the restart
  await Promise.all(hosts.map((h) => readClockAndPids(ctx, h)));
  const budget = allowedFailures(ctx.hosts.length, ctx.env.config.rollout.maxFailures) - ctx.hosts.filter((h) => h.failed).length;
  const options = ssmRestartOptions(
    ctx.env,
    hosts.map((h) => h.host),
    {
      units: services.map((s) => s.unit!),
      sudo: services.some((s) => s.sudo),
      maxConcurrency: String(hosts.length),
      maxErrors: String(Math.max(0, budget)),
      comment: `cutover ${ctx.task} ${ctx.tag} run ${ctx.runId}`.slice(0, 100),
    },
  );
  const results = new Map<string, SsmOutcome>();
  if (ctx.dry) {
    ctx.dry.add('AWS SSM', `SendCommand ${JSON.stringify(sendCommandRequest(options))}`);
    for (const h of hosts) results.set(h.host.name, { ok: true, ran: true, message: 'recorded (dry run)' });
    return results;
  }
  const run = await ssmRestart({ ...options, signal: ctx.signal, onUpdate: (u) => progress(u.hostName, `${u.status} ${u.statusDetails} [SSM ${u.commandId}]`) });
  for (const r of run.hosts) {
    ctx.ssmCommands.push({ host: r.hostName, instanceId: r.instanceId, commandId: r.commandId, status: r.statusDetails || r.status, durationMs: r.durationMs });
    results.set(r.hostName, { ok: r.ok, ran: !NEVER_RAN.has(r.statusDetails), message: r.message });
  }
  return results;
}

export interface RestartStep {
  readonly title: string;
  readonly step: string;
  readonly hosts: () => HostRun[];
  readonly onFail: (h: HostRun, e: Error) => void;
  readonly throws: boolean;
}

export function restartHosts(ctx: RunCtx, s: RestartStep): ListrTask<RunCtx> {
  const ssm = usesSsm(ctx);
  const overSsh = ctx.env.config.services.some((x) => x.restart !== 'ssm');
  let sent: Promise<Map<string, SsmOutcome>> | null = null;
  const lines = new Map<string, Task<RunCtx>>();
  return hostStep<RunCtx, HostRun>({
    title: s.title,
    step: s.step,
    hosts: s.hosts,
    hostTitle: (h) => h.host.name,
    onFail: s.onFail,
    throws: s.throws,
    body: async (h, t) => {
      if (ssm) {
        lines.set(h.host.name, t);
        // one SendCommand for every host of the step, sent by the first host's subtask
        sent ??= restartViaSsm(ctx, s.hosts(), (name, line) => {
          const task = lines.get(name);
          if (task) task.output = line;
        });
        const r = (await sent).get(h.host.name);
        if (!r) throw new Error('SSM gave no result for this host');
        if (r.ran) {
          h.restarted = true;
          h.stage = 'restarted';
        }
        if (!r.ok) throw new Error(r.message);
        t.title = `${h.host.name}: restarted through SSM`;
      }
      // services restarted over SSH (all of them without SSM; the others with it): with SSM, the
      // host's clock was read before the SendCommand, and restart() keeps it
      if (overSsh) await restart(ctx, h, (line) => (t.output = ctx.redact(line)), ssm ? { only: 'ssh' } : {});
    },
  });
}
