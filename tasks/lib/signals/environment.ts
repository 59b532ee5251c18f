/** The signals section of a loaded environment, and the built-in sandbox's existence checked. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LoadedEnvironment } from '../config/load.ts';
import { UsageError } from '../base/errors.ts';
import type { Signals } from '../config/signals.ts';

/** The environment's signals; for the built-in sandbox, it must exist (traffic needs the service, slo its log). */
export function signalsOf(env: LoadedEnvironment): Signals {
  const s = env.config.signals;
  if (!s) throw new UsageError(`${env.file} has no signals section: add sources, metrics and gates (see docs/signals.md)`);
  if (env.config.sandbox && !existsSync(path.join(env.config.sandbox.root, 'state.json')))
    throw new UsageError(`the local sandbox does not exist yet (${env.config.sandbox.root}); create it with: npx tsx tasks/deploy.ts v1.1.0`);
  return s;
}
