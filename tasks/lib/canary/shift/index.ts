/**
 * Traffic shifting for the canary controller (docs/canary-shifting.md): one interface, two
 * implementations (nginx weights on a load balancer, feature flags on the hosts).
 */
import type { CanaryConfig } from '../../config/canary.ts';
import type { LoadedEnvironment } from '../../config/load.ts';
import type { Host, Service } from '../../config/schema.ts';
import { runnerFor } from '../../runners/for-host.ts';
import type { Runner } from '../../runners/types.ts';
import { FlagsShifter } from './flags.ts';
import { lbHost, NginxShifter } from './nginx.ts';
import type { ShiftHost, TrafficShifter } from './types.ts';

export { FlagsShifter, type Flags, type FlagsShifterOptions } from './flags.ts';
export { lbHost, NginxShifter, nginxPlan, type NginxShifterOptions } from './nginx.ts';
export { upstreamFileText, unifiedDiff, serverProblems } from './nginx-file.ts';
export { MAX_TOTAL, percentText, splitText, weightsFor, weightsText, type Weights } from './weights.ts';
export { ShiftError, SignoffMissingError, stepLabel, type FileChange, type ShiftHost, type ShiftPlan, type ShiftResult, type ShiftStep, type TrafficShifter } from './types.ts';

/** A configured host as the shifter names it (nginx reaches it at `address`: an IP or a name the load balancer resolves). */
export function shiftHost(h: Pick<Host, 'name' | 'address'>): ShiftHost {
  return { name: h.name, address: h.address };
}

/** The runner to `canary.nginx`'s load balancer (SSH, or this machine). */
export function lbRunnerFor(env: LoadedEnvironment, canary: CanaryConfig): Runner {
  if (!canary.nginx) throw new Error('lbRunnerFor: canary.nginx is not configured');
  return runnerFor(env, lbHost(canary.nginx));
}

/**
 * The shifter of `canary.mode`: nginx (the run's canary and stable hosts, reset = all to stable)
 * or flags (every host; reset = flags off everywhere). `subset` moves hosts, not traffic: none.
 */
export function createShifter(o: {
  canary: CanaryConfig;
  runId: string;
  canaryHosts: readonly ShiftHost[];
  stableHosts: readonly ShiftHost[];
  services: readonly Service[];
  runnerOf: (h: ShiftHost) => Runner;
  /** nginx mode: the load balancer's runner (lbRunnerFor). */
  lbRunner?: Runner;
  maxTotal?: number;
}): TrafficShifter {
  const { canary } = o;
  // instances: the same nginx weights, between two instances of one host (their own ports)
  if (canary.mode === 'nginx' || canary.mode === 'instances') {
    if (!canary.nginx || !o.lbRunner) throw new Error(`createShifter: mode '${canary.mode}' needs canary.nginx and the load balancer's runner`);
    return new NginxShifter({ lb: canary.nginx, runner: o.lbRunner, canary: o.canaryHosts, stable: o.stableHosts, runId: o.runId, maxTotal: o.maxTotal });
  }
  if (canary.mode === 'flags') {
    if (!canary.flags) throw new Error("createShifter: mode 'flags' needs canary.flags");
    return new FlagsShifter({ flags: canary.flags, hosts: [...o.canaryHosts, ...o.stableHosts], runnerOf: o.runnerOf, services: o.services });
  }
  throw new Error("createShifter: mode 'subset' moves hosts with the deploy procedure; it has no traffic shifter");
}
