/** Who is the canary and how much traffic it gets: the words the controller, its summary and status share. */
import type { CanaryCtx } from './context.ts';

/** `10%`, `9.1%`. */
export const percentText = (p: number) => `${Number.isInteger(p) ? p : p.toFixed(1)}%`;

/** The hosts that run the canary's release now (deployed, or their flags on). */
export const moved = (ctx: CanaryCtx) => ctx.hosts.filter((h) => ctx.rollout.hosts.find((x) => x.name === h.host.name)?.moved);
export const notMoved = (ctx: CanaryCtx) => ctx.hosts.filter((h) => !ctx.rollout.hosts.find((x) => x.name === h.host.name)?.moved);
/** The stable hosts that may take traffic: not moved, and untouched (not one whose deploy failed half-way). */
export const servingStable = (ctx: CanaryCtx) => notMoved(ctx).filter((h) => h.stage === 'untouched');

/** How many hosts run the release at `percent` in subset mode: ceil(p% x N), at least one. */
export function subsetCount(percent: number, total: number): number {
  return Math.min(total, Math.max(1, Math.ceil((percent * total) / 100)));
}
