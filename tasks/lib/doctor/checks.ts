/** doctor's rows for one host, from what inspectHost read. Read-only. */
import { row as checkRow, type CheckRow, type Verdict } from '../base/check.ts';
import type { Host } from '../config/schema.ts';
import { pg } from '../commands/pg.ts';
import { secret, type LoadedEnvironment } from '../config/load.ts';
import { label } from '../base/run.ts';
import { HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { inspectHost, workTreeOf, type HostFacts } from '../probes/host-facts.ts';
import { lastLines } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { settingsFor } from '../runners/for-host.ts';
import type { Sourced, SshSettings } from '../runners/ssh-settings.ts';

export type { CheckRow, Verdict } from '../base/check.ts';

const HINTS: Record<string, string> = {
  pg_dump: 'install the PostgreSQL client (Debian: apt-get install postgresql-client)',
  psql: 'install the PostgreSQL client (Debian: apt-get install postgresql-client)',
  git: 'install git',
  flock: 'install util-linux (the deploy lock needs flock)',
  systemctl: 'the host has no systemd: give the service `commands` (restart/status/logs) instead of `unit`',
  journalctl: 'the host has no journald: give the service `commands` instead of `unit`',
};

/** Each SSH value and where it came from: the environment, the ssh config file, or a default. */
export function sshSettingsText(s: SshSettings): string {
  const v = <T>(name: string, x: Sourced<T>, text: string) => `${name} ${text} [${x.from}]`;
  return [
    v('address', s.address, s.address.value),
    v('port', s.port, String(s.port.value)),
    v('user', s.user, s.user.value),
    s.agent ? v('agent', s.agent, s.agent.value) : '',
    s.keys.value.length ? v('key', s.keys, s.keys.value.join(' or ')) : '',
    v('jump', s.jump, s.jump.value.length ? s.jump.value.map((h) => `${h.user.value}@${h.address.value}:${h.port.value}`).join(' -> ') : 'none'),
    v('known_hosts', s.knownHosts, s.knownHosts.value.join(' ')),
  ]
    .filter(Boolean)
    .join('; ');
}

export async function checkHost(env: LoadedEnvironment, host: Host, runner: Runner): Promise<CheckRow[]> {
  const row = (check: string, verdict: Verdict, why: string): CheckRow => checkRow(host.name, check, verdict, why);
  const settings: CheckRow[] = [];
  if (host.transport === 'ssh') {
    try {
      settings.push(row('ssh settings', 'ok', sshSettingsText(settingsFor(env, host))));
    } catch (err) {
      return [row('ssh settings', 'fail', (err as Error).message)];
    }
  }
  let facts: HostFacts;
  try {
    facts = await inspectHost(env, runner);
  } catch (err) {
    if (err instanceof HostKeyError) return [...settings, row('host key', 'fail', err.detail)];
    if (err instanceof HostUnreachableError) return [...settings, row('connect', 'fail', `${err.detail}. Check the address, port, user and key, and that sshd runs.`)];
    throw err;
  }
  const t = runner.host;
  const rows: CheckRow[] = [
    ...settings,
    host.transport === 'local'
      ? row('connect', 'ok', 'local transport: bash on this machine')
      : row('connect', 'ok', `${t.user}@${t.address}:${t.port}, host key matches known_hosts`),
    facts.missing.length === 0
      ? row('commands', 'ok', facts.present.join(', '))
      : row('commands', 'fail', `missing on the host: ${facts.missing.map((m) => `${m}${HINTS[m] ? ` (${HINTS[m]})` : ''}`).join('; ')}`),
  ];
  const dir = workTreeOf(env);
  if (facts.workTreeProblem) rows.push(row('app path', 'fail', facts.workTreeProblem));
  else if (facts.dirty.length) rows.push(row('app path', 'fail', `${dir}: tracked files changed by hand: ${facts.dirty.join(', ')} (commit or discard them; a checkout would carry them)`));
  else if (facts.deployed?.tag) rows.push(row('app path', 'ok', `${dir}: git working copy on tag ${facts.deployed.tag}`));
  else rows.push(row('app path', 'warn', `${dir}: HEAD ${label(facts.deployed)} is on no tag: a rollback target is recorded by commit`));
  for (const s of facts.services) {
    const check = `service ${s.service.name}`;
    if (!s.exists) rows.push(row(check, 'fail', `unit ${s.service.unit} not found (${s.state}); check the unit name (journalctl accepts typos silently)`));
    else if (s.active) rows.push(row(check, 'ok', s.service.unit ? `unit ${s.service.unit} exists, ${s.state}` : 'status command exits 0'));
    else rows.push(row(check, 'warn', s.service.unit ? `unit ${s.service.unit} exists but is ${s.state}` : s.state));
  }
  return rows;
}

/** The database answers, from where pg_dump will run. */
export async function checkDatabase(env: LoadedEnvironment, hostName: string, runner: Runner): Promise<CheckRow> {
  const db = env.config.database!;
  const r = await runner.exec(pg.serverVersion(db, secret(env, db.password)));
  const where = `${db.user}@${db.host}:${db.port}/${db.name}`;
  return r.code === 0
    ? checkRow(hostName, 'database', 'ok', `${where} answers (PostgreSQL ${r.stdout.trim()})`)
    : checkRow(hostName, 'database', 'fail', `${where} does not answer: ${lastLines(r.stderr, 2) || `exit ${r.code}`}`);
}
