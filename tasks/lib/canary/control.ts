/**
 * canary status | pause | resume | promote | abort, from any terminal on any machine, through the
 * state host. A running controller takes a request within one interval (canary-control.json);
 * when no controller runs (it died with its laptop, or was stopped), `resume` continues the canary
 * from its recorded step here, and `abort` rolls it back here (both take over its stale lock).
 */
import { ExitCode, UsageError } from '../base/errors.ts';
import { ageText } from '../base/format.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { canaryFiles } from '../commands/canary.ts';
import { chooseEnvironment, loadEnvironment, type LoadedEnvironment } from '../config/load.ts';
import { chooseStateHost } from '../kernel/state-host.ts';
import { runnerFor } from '../runners/for-host.ts';
import { run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { lockStatus, whoAmI, type LockHolder } from '../state/lock.ts';
import { stateDirOf } from '../state/paths.ts';
import { FINISHED, readCanary, type CanaryState } from './state.ts';
import { percentText } from './split.ts';

export const CONTROLS = ['status', 'pause', 'resume', 'promote', 'abort'] as const;
export type Control = (typeof CONTROLS)[number];

interface Seen {
  readonly env: LoadedEnvironment;
  readonly runner: Runner;
  readonly dir: string;
  readonly where: string;
  readonly canary: CanaryState | null;
  readonly lock: LockHolder | null;
}

/** Is the canary's controller running now: the lock is held by it, and renewed (not stale)? */
export function controllerAlive(s: Pick<Seen, 'canary' | 'lock'>): boolean {
  const r = s.lock?.record;
  return !!s.canary && !!r && r.task === 'canary' && r.runId === s.canary.controllerRunId && !s.lock!.stale;
}

async function look(args: ParsedArgs): Promise<Seen> {
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const { resolveHosts } = await import('../aws/hosts.ts');
  const host = chooseStateHost(env, await resolveHosts(env));
  const runner = runnerFor(env, host);
  const dir = stateDirOf(env.config.app);
  const [canary, lock] = await Promise.all([readCanary(runner, dir), lockStatus(runner, dir)]);
  return { env, runner, dir, where: `${host.name}:${dir}`, canary, lock };
}

export function statusLines(s: Pick<Seen, 'canary' | 'lock' | 'where' | 'env'>, nowMs = Date.now()): string[] {
  const c = s.canary;
  if (!c) return [`no canary has run on ${s.env.name} (no canary.json in ${s.where})`];
  const alive = controllerAlive(s);
  const lines = [
    `canary of ${c.tag} on ${c.env} (run ${c.runId}): ${c.phase}, ${percentText(c.realPercent)} of the traffic${c.stepIndex >= 0 ? `, step ${c.stepIndex + 1} of ${c.steps.length} (${c.steps.map((p) => percentText(p)).join(' -> ')})` : ''}`,
    `  mode ${c.mode}; ${c.mode === 'flags' ? 'flags on' : c.mode === 'instances' ? `second instance on ${c.tag}` : `hosts on ${c.tag}`}: ${c.hosts.filter((h) => h.moved).map((h) => h.name).join(', ') || 'none'}; others: ${c.hosts.filter((h) => !h.moved).map((h) => h.name).join(', ') || 'none'}`,
    FINISHED.includes(c.phase)
      ? `  finished${c.reason ? `: ${c.reason}` : ''}${c.phase === 'failed' ? `\n  its rollback did not complete: npx tsx tasks/canary.ts abort --env ${c.env} retries it` : ''}`
      : alive
        ? `  controller: run ${c.controllerRunId} by ${s.lock!.record!.owner}, lock renewed ${ageText(s.lock!.ageSec * 1000)} ago`
        : `  controller: NOT running (${s.lock ? `its lock is ${s.lock.stale ? `stale: ${s.lock.staleReason}` : `held by ${s.lock.record?.owner ?? 'someone'} for run ${s.lock.record?.runId}`}` : 'no lock held'}): resume or abort it`,
  ];
  if (c.stepStartedAt && !FINISHED.includes(c.phase)) lines.push(`  this step started ${ageText(nowMs - c.stepStartedAt)} ago; ${c.passingSince ? `every gate passing for ${ageText(nowMs - c.passingSince)}` : 'not passing every gate now'}`);
  for (const d of c.decisions.slice(-5)) lines.push(`  ${d.at.slice(0, 19)}Z step ${d.step + 1} (${percentText(d.percent)}): ${d.action} (${d.verdict}): ${d.why}`);
  const smoke = c.smoke.at(-1);
  if (smoke) lines.push(`  last smoke checks: ${smoke.ok ? 'passed' : 'FAILED'}: ${smoke.detail}`);
  return lines;
}

/**
 * status, pause, promote, and resume/abort while a controller runs: answered here. resume or abort
 * without a running controller: null (the caller runs the kernel procedure that takes over).
 */
export async function control(what: Control, args: ParsedArgs): Promise<ExitCode | null> {
  const json = flag(args, 'json');
  const s = await look(args);
  try {
    const say = (t: string) => (json ? process.stderr : process.stdout).write(`${t}\n`);
    if (what === 'status') {
      statusLines(s).forEach((l) => say(l));
      if (json) process.stdout.write(`${JSON.stringify({ canary: s.canary, controllerRunning: controllerAlive(s), lock: s.lock?.record ?? null }, null, 2)}\n`);
      return ExitCode.ok;
    }
    const c = s.canary;
    // a failed canary (its rollback did not complete) has no controller; abort retries the rollback
    if (what === 'abort' && c?.phase === 'failed') return null;
    if (!c || FINISHED.includes(c.phase)) throw new UsageError(`there is no canary in progress on ${s.env.name}${c ? ` (the last one, of ${c.tag}, is ${c.phase})` : ''}: nothing to ${what}`);
    const alive = controllerAlive(s);
    if (!alive) {
      if (what === 'resume' || what === 'abort') return null; // taken over here, by the kernel
      throw new UsageError(`the canary of ${c.tag} has no running controller (it is ${c.phase}): ${what} needs one. Continue it with: npx tsx tasks/canary.ts resume --env ${s.env.name} (or abort)`);
    }
    if (what === 'resume' && c.phase !== 'paused' && c.phase !== 'waiting') throw new UsageError(`the canary of ${c.tag} is ${c.phase}, not paused: nothing to resume`);
    await run(s.runner, canaryFiles.request(s.dir, JSON.stringify({ action: what, by: whoAmI(), at: new Date().toISOString() })));
    say(`asked the controller of the canary of ${c.tag} (run ${c.controllerRunId}, ${s.lock!.record!.owner}) to ${what}: it acts within one interval. Follow it: npx tsx tasks/canary.ts status --env ${s.env.name}`);
    if (json) process.stdout.write(`${JSON.stringify({ asked: what, runId: c.runId, controllerRunId: c.controllerRunId })}\n`);
    return ExitCode.ok;
  } finally {
    await s.runner.close();
  }
}
