/** The built-in sandboxes (one local host, or the canary fleet): created on first use, reused afterwards. */
import path from 'node:path';
import type { LoadedEnvironment } from '../config/load.ts';
import { row, type CheckRow } from '../base/check.ts';
import { CutoverError } from '../base/errors.ts';
import { THIS_MACHINE } from '../runners/types.ts';

export async function prepareSandbox(env: LoadedEnvironment): Promise<CheckRow[]> {
  const sb = env.config.sandbox!;
  const started = performance.now();
  let skipped: string[];
  if (sb.kind === 'fleet') {
    const hosts = Array.isArray(env.config.hosts) ? env.config.hosts : [];
    const unmounted = hosts.filter((h) => h.transport !== 'local' || !h.mount).map((h) => h.name);
    if (unmounted.length) throw new CutoverError(`${env.file}: a sandbox fleet needs local hosts with \`mount\`; not so: ${unmounted.join(', ')}`);
    const { ensureFleetSandbox } = await import('../../../sandbox/fleet.ts');
    const box = await ensureFleetSandbox({
      root: sb.root, hosts: hosts.map((h) => ({ name: h.name, address: h.address, ...(h.mount ? { mount: h.mount } : {}) })), appPort: sb.appPort, pgPort: sb.pgPort,
      pgDir: sb.pgDir ?? path.join(sb.root, 'pg'), nginxPort: sb.nginxPort ?? null, envName: env.name, unit: env.config.services[0]?.unit,
    });
    skipped = box.skipped;
  } else {
    const { ensureLocalSandbox } = await import('../../../sandbox/provision.ts');
    skipped = (await ensureLocalSandbox({ root: sb.root, appPort: sb.appPort, pgPort: sb.pgPort, envName: env.name })).skipped;
  }
  const ms = Math.round(performance.now() - started);
  const rows: CheckRow[] = [row(THIS_MACHINE, 'sandbox', 'ok', `${sb.root} ready (${ms} ms)`)];
  for (const s of skipped) rows.push(row(THIS_MACHINE, 'sandbox', 'warn', s));
  return rows;
}
