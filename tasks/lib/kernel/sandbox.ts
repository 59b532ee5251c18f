/** The built-in local environment's sandbox host: created on first use, reused afterwards. */
import type { LoadedEnvironment } from '../config/load.ts';
import { row, type CheckRow } from '../base/check.ts';
import { THIS_MACHINE } from '../runners/types.ts';

export async function prepareSandbox(env: LoadedEnvironment): Promise<CheckRow[]> {
  const sb = env.config.sandbox!;
  const { ensureLocalSandbox } = await import('../../../sandbox/provision.ts');
  const started = performance.now();
  const box = await ensureLocalSandbox({ root: sb.root, appPort: sb.appPort, pgPort: sb.pgPort, envName: env.name });
  const ms = Math.round(performance.now() - started);
  const rows: CheckRow[] = [row(THIS_MACHINE, 'sandbox', 'ok', `${sb.root} ready (${ms} ms)`)];
  for (const s of box.skipped) rows.push(row(THIS_MACHINE, 'sandbox', 'warn', s));
  return rows;
}
