/** doctor: is this environment ready for cutover? Validates, connects, checks; changes nothing. */
import { existsSync } from 'node:fs';
import { mkdir, access, constants } from 'node:fs/promises';
import { str, flag, type ParsedArgs } from '../cli/args.ts';
import { whichCommands, parseWhich } from '../commands/host.ts';
import { redact } from '../commands/shell.ts';
import { chooseEnvironment, loadEnvironment, secretValues, type LoadedEnvironment } from '../config/load.ts';
import { ExitCode } from '../base/errors.ts';
import { thisMachine } from '../runners/local.ts';
import type { Host } from '../config/schema.ts';
import { resolveHosts } from '../aws/hosts.ts';
import { runnerFor } from '../runners/for-host.ts';
import { filterHosts, hostFilterFrom } from '../cli/host-filter.ts';
import { THIS_MACHINE, type Runner } from '../runners/types.ts';
import { prepareSandbox } from '../kernel/sandbox.ts';
import { row as checkRow, type CheckRow } from '../base/check.ts';
import { checkDatabase, checkHost } from './checks.ts';
import { renderTable } from './table.ts';


export async function doctor(args: ParsedArgs): Promise<ExitCode> {
  const filter = hostFilterFrom(args);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const hosts = filterHosts(await resolveHosts(env), filter, env.file);
  const rows: CheckRow[] = [
    checkRow(THIS_MACHINE, 'environment', 'ok', `${env.file} is valid (${hosts.length} host(s), ${env.config.services.length} service(s))`),
  ];
  if (env.config.sandbox) rows.push(...(await prepareSandbox(env)));
  const runners = new Map<string, Runner>(hosts.map((h) => [h.name, runnerFor(env, h)]));
  try {
    const perHost = await Promise.all(hosts.map((h) => checkHost(env, h, runners.get(h.name)!)));
    rows.push(...perHost.flat());
    rows.push(...(await checkThisMachine(env)));
    rows.push(...(await checkEc2(env, hosts)));
    if (env.config.database) {
      const first = hosts[0]!;
      const reachable = !perHost[0]!.some((r) => r.check === 'connect' && r.verdict === 'fail') && perHost[0]!.length > 1;
      if (env.config.database.dumpOn === 'local') rows.push(await checkDatabase(env, THIS_MACHINE, thisMachine()));
      else if (reachable) rows.push(await checkDatabase(env, first.name, runners.get(first.name)!));
      else rows.push(checkRow(first.name, 'database', 'skip', 'host unreachable'));
    }
  } finally {
    await Promise.all([...runners.values()].map((r) => r.close()));
  }
  const safe = rows.map((r) => ({ ...r, why: redact(r.why, secretValues(env)) }));
  const failed = safe.filter((r) => r.verdict === 'fail');
  if (flag(args, 'json')) {
    process.stdout.write(`${JSON.stringify({ environment: env.name, ok: failed.length === 0, checks: safe }, null, 2)}\n`);
  } else {
    process.stdout.write(`${renderTable(safe)}\n\n`);
    process.stdout.write(
      failed.length === 0
        ? `${env.name}: ready for cutover.\n`
        : `${env.name}: ${failed.length} check(s) failed: ${failed.map((r) => `${r.host} ${r.check}`).join(', ')}. Fix them, then run doctor again.\n`,
    );
  }
  return failed.length === 0 ? ExitCode.ok : ExitCode.refused;
}

/** What this machine needs: pg_restore to verify dumps, a writable backup folder. */
async function checkThisMachine(env: LoadedEnvironment): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const row = (check: string, verdict: CheckRow['verdict'], why: string) => rows.push(checkRow(THIS_MACHINE, check, verdict, why));
  if (env.config.database) {
    const need = env.config.database.dumpOn === 'local' ? ['pg_restore', 'pg_dump'] : ['pg_restore'];
    const found = parseWhich((await thisMachine().exec(whichCommands(need))).stdout);
    const missing = need.filter((n) => !found.get(n));
    if (missing.length) row('commands', 'fail', `missing here: ${missing.join(', ')} (needed to take and verify backups; Debian: apt-get install postgresql-client)`);
    else row('commands', 'ok', `${need.join(', ')} (backups are verified here by reading them completely)`);
  }
  try {
    if (!existsSync(env.backupDir)) await mkdir(env.backupDir, { recursive: true, mode: 0o700 });
    await access(env.backupDir, constants.W_OK);
    row('backups', 'ok', `${env.backupDir} is writable`);
  } catch (err) {
    row('backups', 'fail', `${env.backupDir} is not writable: ${(err as Error).message}`);
  }
  return rows;
}

/** Hosts with an instance id: running, checks ok, SSM agent online (for SSM restarts) — as deploy's preflight asks. */
async function checkEc2(env: LoadedEnvironment, hosts: readonly Host[]): Promise<CheckRow[]> {
  const targets = hosts.filter((h) => h.instanceId).map((h) => ({ hostName: h.name, instanceId: h.instanceId! }));
  if (!env.config.aws || !targets.length) return [];
  const [{ ec2Preflight }, { awsSettings }] = await Promise.all([import('../aws/ec2-preflight.ts'), import('../aws/settings.ts')]);
  const ssm = env.config.services.some((s) => s.restart === 'ssm');
  const problems = await ec2Preflight(awsSettings(env), targets, { ssm }).catch((err: Error) => [err.message]);
  if (!problems.length) return [checkRow(THIS_MACHINE, 'ec2', 'ok', `${targets.length} instance(s) running, checks ok${ssm ? ', SSM agents online' : ''}`)];
  return problems.map((p) => checkRow(targets.find((t) => p.startsWith(`${t.hostName} `))?.hostName ?? THIS_MACHINE, 'ec2', 'fail', p));
}
