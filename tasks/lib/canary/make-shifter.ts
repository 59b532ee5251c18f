/**
 * The traffic shifter of the environment's canary mode, as the controller drives it: nginx weights
 * on the load balancer, or feature flags on the hosts (./shift/); none for subset mode (the hosts
 * that run the release are the canary). Adapts the shift library's steps and plans to the
 * controller's (dry-run plans are chained: each step's diff is against the step before).
 */
import type { Host } from '../config/schema.ts';
import type { Runner } from '../runners/types.ts';
import type { CanaryCtx } from './context.ts';
import type { ShiftPlan as ControllerPlan, ShiftResult as ControllerResult, ShiftStep as ControllerStep, TrafficShifter } from './shifter.ts';
import { instanceRefs } from './instance.ts';
import { createShifter, lbRunnerFor, type NginxShifter, type ShiftPlan, type ShiftResult, type ShiftStep, type TrafficShifter as Library } from './shift/index.ts';

function toLibrary(ctx: CanaryCtx, s: ControllerStep): ShiftStep {
  return { percent: s.percent, canary: s.canary, stable: s.stable, runId: s.runId, index: Math.max(0, s.step), steps: ctx.percents.length };
}

const planOf = (p: ShiftPlan): ControllerPlan => ({
  realPercent: p.real,
  detail: p.summary,
  files: p.files.map((f) => ({ where: f.host, path: f.path, before: f.before, after: f.after, diff: f.diff })),
  actions: p.actions,
});

const resultOf = (r: ShiftResult): ControllerResult => ({ realPercent: r.real, detail: r.summary, durationMs: r.durationMs });

class Adapted implements TrafficShifter {
  private last: ShiftPlan | undefined;
  constructor(
    private readonly ctx: CanaryCtx,
    private readonly lib: Library,
    private readonly lb: Runner | null,
  ) {}

  async close(): Promise<void> {
    await this.lb?.close();
  }

  get mode(): 'nginx' | 'flags' {
    return this.lib.mode;
  }

  preflight(signal?: AbortSignal): Promise<string[]> {
    return this.lib.preflight(signal);
  }

  async current(signal?: AbortSignal): Promise<string | null> {
    return this.lib.mode === 'nginx' ? (this.lib as NginxShifter).read(signal) : null;
  }

  plan(step: ControllerStep): ControllerPlan {
    this.last = this.lib.plan(toLibrary(this.ctx, step), this.last);
    return planOf(this.last);
  }

  async apply(step: ControllerStep, signal?: AbortSignal): Promise<ControllerResult> {
    return resultOf(await this.lib.apply(toLibrary(this.ctx, step), signal));
  }

  async restore(previous: string | null, signal?: AbortSignal): Promise<ControllerResult> {
    if (this.lib.mode === 'flags') return resultOf(await this.lib.reset(signal)); // every flag off: as before the canary
    if (previous === null) {
      // there was no file before the canary: every host listed, as the stable set, equally
      const all = this.ctx.hosts.map((h) => ({ name: h.host.name, address: h.host.address }));
      return resultOf(await this.lib.apply({ percent: 0, canary: [], stable: all, runId: this.ctx.rollout.runId, index: 0, steps: this.ctx.percents.length }, signal));
    }
    const r = await (this.lib as NginxShifter).restore(previous, signal);
    return { realPercent: 0, detail: r.file.changed ? `${r.file.path} as it was before the canary` : `${r.file.path} unchanged`, durationMs: r.durationMs };
  }
}

export async function makeShifter(ctx: CanaryCtx): Promise<TrafficShifter | null> {
  const { canary } = ctx;
  if (canary.mode === 'subset') return null;
  const ref = (h: Host) => ({ name: h.name, address: h.address });
  const first = canary.mode === 'nginx' ? ctx.hosts.slice(0, canary.canaryHosts) : [];
  const lb = canary.mode === 'nginx' || canary.mode === 'instances' ? lbRunnerFor(ctx.env, canary) : null;
  const two = canary.mode === 'instances' ? instanceRefs(ctx) : null; // one host, two ports
  const lib = createShifter({
    canary,
    runId: ctx.rollout.runId,
    canaryHosts: two ? [two.canary] : first.map((h) => ref(h.host)),
    stableHosts: two ? [two.stable] : ctx.hosts.filter((h) => !first.includes(h)).map((h) => ref(h.host)),
    services: ctx.env.config.services,
    runnerOf: (h) => ctx.hosts.find((x) => x.host.name === h.name)!.runner,
    ...(lb ? { lbRunner: ctx.dry ? ctx.dry.runner(lb) : lb } : {}),
  });
  return new Adapted(ctx, lib, lb);
}
