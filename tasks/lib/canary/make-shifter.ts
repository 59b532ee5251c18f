/** The traffic shifter of the environment's canary mode (nginx weights, feature flags), or null for subset mode. */
import { UsageError } from '../base/errors.ts';
import type { CanaryCtx } from './context.ts';
import type { TrafficShifter } from './shifter.ts';

export async function makeShifter(ctx: CanaryCtx): Promise<TrafficShifter | null> {
  if (ctx.canary.mode === 'subset') return null;
  throw new UsageError(`canary mode '${ctx.canary.mode}' is not available in this build of cutover; use mode 'subset'`);
}
