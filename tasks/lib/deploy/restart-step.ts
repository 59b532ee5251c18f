/**
 * Restarting a set of hosts, after a deploy's release or a rollback's: services with
 * `restart: 'ssm'` through ONE SSM SendCommand for all of them (SSM's own fleet engine), the
 * others over SSH host by host. A host whose restart fails is set aside with the reason.
 */
import type { ListrTaskWrapper } from 'listr2';
import { allowedFailures } from './rollout.ts';
import { restart, type Out } from './host-steps.ts';
import { hostNow } from '../probes/journal.ts';
import type { HostRun, RunCtx } from './context.ts';

type Task = ListrTaskWrapper<RunCtx, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function usesSsm(ctx: RunCtx): boolean {
  return ctx.env.config.services.some((s) => s.restart === 'ssm');
}

/** SSM restarts for `hosts`: the SendCommand's record goes into ctx.ssmCommands (history, --json). */
async function restartViaSsm(ctx: RunCtx, hosts: HostRun[], task: Task): Promise<string[]> {
  const services = ctx.env.config.services.filter((s) => s.restart === 'ssm');
  const [{ ssmRestart }, { ssmRestartOptions }] = await Promise.all([import('../aws/ssm-restart.ts'), import('../aws/restart-options.ts')]);
  // the journal scan reads from the host's clock just before the restart
  await Promise.all(hosts.map(async (h) => (h.restartedAt = await hostNow(h.runner, ctx.signal))));
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
  const result = await ssmRestart({ ...options, signal: ctx.signal, onUpdate: (u) => (task.output = `${u.hostName} (${u.instanceId}): ${u.status} ${u.statusDetails} [SSM ${u.commandId}]`) });
  const failures: string[] = [];
  for (const r of result.hosts) {
    const h = hosts.find((x) => x.host.name === r.hostName)!;
    ctx.ssmCommands.push({ host: r.hostName, instanceId: r.instanceId, commandId: r.commandId, status: r.statusDetails || r.status, durationMs: r.durationMs });
    if (r.ok) h.stage = 'restarted';
    else {
      h.failed ??= r.message;
      h.problem = r.message;
      failures.push(r.message); // SSM's messages start with the host's name
    }
  }
  task.title = `Restart through SSM: command ${result.commandId}, ${result.hosts.filter((r) => r.ok).length}/${result.hosts.length} ok`;
  return failures;
}

/**
 * Restart `hosts`. `throws`: a failure fails the step (rollbacks); otherwise failed hosts are set
 * aside (`h.failed`) for the batch gate.
 */
export async function restartHosts(ctx: RunCtx, hosts: HostRun[], task: Task, opts: { throws: boolean; out: (t: Task) => Out; perHostSsh: (fn: (h: HostRun, t: Task) => Promise<void>) => Promise<void> }): Promise<void> {
  if (usesSsm(ctx)) {
    for (const h of hosts) h.stage = h.stage === 'untouched' ? 'code-changed' : h.stage;
    const failures = await restartViaSsm(ctx, hosts, task);
    if (failures.length && opts.throws) throw new Error(failures.join('\n'));
  }
  // services restarted over SSH (all of them without SSM; the others with it)
  const ssm = usesSsm(ctx);
  // with SSM, the host's clock was read before the SendCommand: keep it; without, restart() reads it
  if (ctx.env.config.services.some((s) => s.restart !== 'ssm')) await opts.perHostSsh((h, t) => restart(ctx, h, opts.out(t), ssm ? { only: 'ssh' } : {}));
}
