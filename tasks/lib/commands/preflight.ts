/**
 * The host preflight as ONE command: every fact a deploy, a rollback or doctor reads from a host,
 * in one round trip (sections.ts frames each answer). Which sections run depends on what the
 * caller asks; each is the command cutover ran on its own before, so every check stays the same:
 *
 *   which      the commands cutover needs
 *   unit:N     `[sudo -n] systemctl cat -- UNIT` (exists, and sudo answers without a password)
 *   active     `systemctl is-active -- UNITS`
 *   status:N   a custom service's own status command
 *   deployed   commit, exact tag, release folder, tracked files changed by hand (hostReads.deployed)
 *   remote-tag `git ls-remote --exit-code --tags` for the tag being deployed
 *   fetch      git fetch of the tags (in place) or the releases' mirror: touches nothing live; real runs only
 *   log        the commits from what runs to the tag (count, the first 20), after the fetch
 *   changed    migration files the tag adds or changes
 *   releases   the release folders (releases strategy)
 *   tags       the tags the host's repository has (rollback: its target is fetched only where missing)
 *   lock       the deploy lock (state host)
 *   history    whether the state folder holds a history, or the whole history (state host)
 *   db         pg_database_size (last: the password read from standard input just before, then forgotten)
 *
 * Read-only unless it fetches: --dry-run runs the read-only form for real.
 */
import { tagRef } from './git.ts';
import { hostReads } from './host-reads.ts';
import { whichCommands } from './host.ts';
import { lockStatusBody, statePreamble } from './lock.ts';
import type { PgTarget } from './pg.ts';
import { noMarkers, sectioned, type Section } from './sections.ts';
import { command, raw, sh, type Command, type Fragment } from './shell.ts';

export interface PreflightSpec {
  readonly commands?: readonly string[];
  /** systemd units, each with its `sudo` setting (the same check as the restart's). */
  readonly units?: readonly { readonly unit: string; readonly sudo: boolean }[];
  /** Custom services' status commands (the environment's own shell text). */
  readonly statusCommands?: readonly string[];
  readonly deployed?: { readonly workTree: string; readonly currentLink?: string; readonly dirty: boolean };
  /** Does the remote have the tag: asked in the working copy (`origin`), or of the repository URL (releases). */
  readonly remoteTag?: { readonly tag: string } & ({ readonly dir: string } | { readonly repo: string });
  /** A command that fetches the tags (not read-only: real runs only). */
  readonly fetch?: Command;
  /** The plan's git data, read after the fetch: from the commit `workTree` runs to the tag, in `gitDir`. */
  readonly plan?: { readonly workTree: string; readonly gitDir: string; readonly tag: string; readonly migrationsDir?: string };
  readonly releasesDir?: string;
  /** The repository whose tags to list (the working copy, or the releases' mirror). */
  readonly localTags?: string;
  /** The state folder: the lock's status, and the history's presence (`exists`) or its text (`read`). */
  readonly state?: { readonly dir: string; readonly history: 'exists' | 'read' };
  readonly db?: { readonly target: PgTarget; readonly password?: string };
}

/** How many commits the plan lists (the rest is counted). */
export const PLAN_COMMITS = 20;

function dbSection(db: PgTarget): Section {
  const conn = sh`-h ${db.host} -p ${db.port} -U ${db.user} -d ${db.name}`;
  return { name: 'db', body: sh`if [ -n "$pw" ]; then export PGPASSWORD="$pw"; fi\npsql -X -w -v ON_ERROR_STOP=1 ${conn} -Atc ${'select pg_database_size(current_database())'} 2>&1` };
}

function planSections(p: NonNullable<PreflightSpec['plan']>): Section[] {
  // the commit the host runs, read here again: a commit id, never a name read from the host
  const head = sh`r=${tagRef(p.tag)}\nc=$(git -C ${p.workTree} rev-parse --verify --end-of-options HEAD) || exit 1`;
  const log: Section = {
    name: 'log',
    body: sh`${head}\nn=$(git -C ${p.gitDir} rev-list --count --end-of-options "$c..$r" --) || exit 2\nprintf '%s\\n' "$n"\ngit -C ${p.gitDir} log --oneline --no-decorate -n ${PLAN_COMMITS} --end-of-options "$c..$r" -- | ${noMarkers}`,
  };
  if (!p.migrationsDir) return [log];
  const changed: Section = {
    name: 'changed',
    body: sh`${head}\ngit -C ${p.gitDir} diff --name-only --diff-filter=AM --end-of-options "$c" "$r" -- ${p.migrationsDir} | ${noMarkers}`,
  };
  return [log, changed];
}

export function preflightScript(spec: PreflightSpec): Command {
  const sections: Section[] = [];
  if (spec.commands?.length) sections.push({ name: 'which', body: raw(whichCommands(spec.commands).script) });
  spec.units?.forEach((u, i) => sections.push({ name: `unit:${i}`, body: sh`${u.sudo ? sh`sudo -n systemctl` : sh`systemctl`} cat -- ${u.unit} 2>&1 >/dev/null` }));
  if (spec.units?.length) sections.push({ name: 'active', body: sh`systemctl is-active -- ${spec.units.map((u) => u.unit)}` });
  spec.statusCommands?.forEach((c, i) => sections.push({ name: `status:${i}`, body: sh`{\n${raw(c)}\n} 2>&1 | ${noMarkers}` }));
  if (spec.deployed) {
    const d = spec.deployed;
    const read = hostReads.deployed(d.workTree, { ...(d.currentLink ? { currentLink: d.currentLink } : {}), dirty: d.dirty });
    sections.push({ name: 'deployed', body: sh`{\n${raw(read.script)}\n} 2>&1 | ${noMarkers}` });
  }
  if (spec.remoteTag) {
    const t = spec.remoteTag;
    const where = 'dir' in t ? sh`git -C ${t.dir} ls-remote --exit-code --tags origin` : sh`git ls-remote --exit-code --tags ${t.repo}`;
    sections.push({ name: 'remote-tag', body: sh`${where} ${tagRef(t.tag)} 2>&1 >/dev/null` });
  }
  if (spec.fetch) sections.push({ name: 'fetch', body: sh`{\n${raw(spec.fetch.script)}\n} 2>&1` });
  if (spec.plan) sections.push(...planSections(spec.plan));
  if (spec.releasesDir) sections.push({ name: 'releases', body: sh`if [ -d ${spec.releasesDir} ]; then ls -1 ${spec.releasesDir}; fi` });
  if (spec.localTags) sections.push({ name: 'tags', body: sh`if [ -d ${spec.localTags} ]; then git -C ${spec.localTags} tag -l | ${noMarkers}; fi` });
  if (spec.state) {
    const s = spec.state;
    sections.push({ name: 'lock', body: sh`${statePreamble(s.dir, false)}\n${lockStatusBody}` });
    const history: Fragment = s.history === 'read' ? sh`if [ -e "$h" ]; then ${noMarkers} < "$h"; fi` : sh`test -s "$h"`;
    sections.push({ name: 'history', body: sh`${statePreamble(s.dir, false)}\n${history}` });
  }
  const password = spec.db?.password;
  // the database last: its password is read just before it (it has arrived by then: no wait for
  // it) and forgotten after it, so nothing else sees it
  const db = spec.db ? sh`\npw=\nIFS= read -r pw || true\n${sectioned([dbSection(spec.db.target)])}\nunset pw` : sh``;
  const script = sh`${sectioned(sections)}${db}`;
  return command(script, {
    ...(password !== undefined ? { stdin: `${password}\n`, redact: [password] } : {}),
    ...(spec.fetch ? {} : { readOnly: true }),
  });
}
