/** canary <tag>, canary resume, canary abort: as changing tasks of the kernel (their flags, context and procedure). */
import { UsageError } from '../base/errors.ts';
import type { CanaryConfig } from '../config/canary.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { runFlags } from '../deploy/targets.ts';
import { validateTag } from '../deploy/tag.ts';
import type { KernelCtx, RunHosts } from '../kernel/procedure.ts';
import type { ChangingTask } from '../kernel/run.ts';
import type { CanaryCtx, CanaryFlags } from './context.ts';
import { EventLog } from './events.ts';
import { canaryProcedure } from './procedure.ts';

/** `--steps 10,20,50,75,100`: increasing whole percentages ending at 100. */
export function parseSteps(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const steps = text.split(',').map((s) => Number(s.trim()));
  const bad = (why: string) => new UsageError(`--steps ${JSON.stringify(text)}: ${why}; write increasing percentages ending at 100, e.g. --steps 10,20,50,75,100`);
  if (!steps.length || steps.some((p) => !Number.isInteger(p) || p < 1 || p > 100)) throw bad('each step is a whole percentage from 1 to 100');
  if (steps.some((p, i) => i > 0 && p <= steps[i - 1]!)) throw bad('the steps must increase');
  if (steps.at(-1) !== 100) throw bad('the last step must be 100');
  return steps;
}

/**
 * The run's steps: --steps, else canary.steps. A bake given per step must have one per step of
 * the run: --steps with another count is refused (step 4 of 5 would otherwise bake for no time, and never end).
 */
export function runSteps(canary: CanaryConfig, steps: readonly number[] | undefined, file: string): readonly number[] {
  if (!steps) return canary.steps;
  if (Array.isArray(canary.bake) && canary.bake.length !== steps.length)
    throw new UsageError(
      `--steps ${steps.join(',')}: ${file} gives canary.bake one duration per step (${canary.bake.length}: ${canary.steps.join(',')}); ` +
        `give ${canary.bake.length} steps, or make canary.bake one duration for every step`,
    );
  return steps;
}

function canaryCtx(args: ParsedArgs, base: KernelCtx, hosts: RunHosts, cflags: CanaryFlags, tag: string): CanaryCtx {
  const { canary, signals } = base.env.config;
  if (!canary) throw new UsageError(`${base.env.file} has no canary section: add one (mode, steps, bake...) to run a canary; see docs/canary.md`);
  if (!signals) throw new UsageError(`${base.env.file} has no signals section: the canary's steps are judged by its gates; see docs/signals.md`);
  const percents = runSteps(canary, cflags.steps, base.env.file);
  const ctx: CanaryCtx = {
    ...base,
    task: 'deploy', // the deploy's steps run in it; the kernel's task is the procedure's ('canary')
    tag,
    flags: runFlags(args),
    hosts: hosts.selected.map(({ host, runner }) => ({ host, runner, from: { commit: '' }, stage: 'untouched', checks: [] })),
    filtered: hosts.selected.length < hosts.all.length,
    ssmCommands: [],
    canary,
    signals,
    cflags,
    percents,
    rollout: {
      version: 1, runId: base.runId, controllerRunId: base.runId, env: base.env.name, tag, mode: canary.mode, steps: [...percents], stepIndex: -1, phase: 'deploying',
      percent: 0, realPercent: 0, hosts: [], stepStartedAt: null, passingSince: null, monitor: null, decisions: [], smoke: [], reason: null, originalSplit: null,
      startedAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
    },
    shifter: null,
    monitor: null,
    events: new EventLog(base.env.backupDir, base.runId, base.redact, !base.dryRun),
    previousController: null,
    originalSplit: null,
    synthetic: null,
  };
  if (cflags.traffic && !signals.traffic)
    throw new UsageError(`--traffic sends the environment's synthetic traffic, and ${base.env.file} has no signals.traffic: add one (docs/signals.md), or send traffic yourself`);
  return ctx;
}

export const canaryTask: ChangingTask<CanaryCtx> = {
  task: 'canary',
  build: async (args, base, hosts) => {
    const tag = validateTag(args.positionals[0]!);
    return { procedure: canaryProcedure, ctx: canaryCtx(args, base, hosts, { steps: parseSteps(str(args, 'steps')), resume: false, abort: false, traffic: flag(args, 'traffic') }, tag) };
  },
};

/** resume and abort: the canary recorded on the state host (its tag and run id come from there, in preflight). */
export function takeOverTask(what: 'resume' | 'abort'): ChangingTask<CanaryCtx> {
  return {
    task: 'canary',
    build: async (args, base, hosts) => {
      const ctx = canaryCtx(args, base, hosts, { resume: what === 'resume', abort: what === 'abort', traffic: what === 'resume' && flag(args, 'traffic') }, '');
      // the event log of the canary being resumed (its run id is known once the record is read)
      const adoptLog = ctx.events;
      return { procedure: { ...canaryProcedure, preflight: async (c, list) => {
        const lines = await canaryProcedure.preflight(c, list);
        c.events = new EventLog(c.env.backupDir, c.rollout.runId, c.redact, adoptLog !== null && !c.dryRun);
        return lines;
      } }, ctx };
    },
  };
}
