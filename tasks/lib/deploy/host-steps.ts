/**
 * What each deploy step does on one host. Plain async functions over a runner (no listr here):
 * the graph (graph.ts) decides order, parallelism and what a failure means.
 */
import { appCommand, pgEnv } from '../commands/app.ts';
import { git } from '../commands/git.ts';
import { releaseDirName, releasePaths, releases, releasesToPrune, tagOfRelease } from '../commands/releases.ts';
import { parseHostNow } from '../commands/journal.ts';
import { restartScript, restartUnitsLines } from '../commands/restart.ts';
import { RS } from '../commands/sections.ts';
import { command, display, raw, type Command } from '../commands/shell.ts';
import type { StagedStep } from '../commands/staged.ts';
import { secret, secretValues } from '../config/load.ts';
import { CommandFailedError, CutoverError } from '../base/errors.ts';
import { hostNowAndPids } from '../probes/journal.ts';
import { lineRedactor } from '../reports/redact-lines.ts';
import { lastLines, run } from '../runners/run.ts';
import type { ExecOptions } from '../runners/types.ts';
import type { Deployed } from '../base/run.ts';
import type { HostRun, RunCtx } from './context.ts';
import { StagedRun } from './staged.ts';

export type Out = (line: string) => void;

/**
 * Command output streamed into the task's output line, whole lines only, each masked (a secret cut
 * in two by the chunking is still one line when it is masked).
 */
function streaming(ctx: RunCtx, out: Out): ExecOptions & { secrets: string[] } {
  const secrets = secretValues(ctx.env);
  const lines = (text: string) => text.split('\n').filter((l) => l.trim()).forEach(out);
  const stdout = lineRedactor(secrets, lines);
  const stderr = lineRedactor(secrets, lines);
  return { onStdout: (c) => stdout.push(c), onStderr: (c) => stderr.push(c), signal: ctx.signal, secrets };
}

/** The folder the new code lives in on this host (where install and migrate run). */
export function codeDir(ctx: RunCtx, h: HostRun): string {
  const { app } = ctx.env.config;
  return app.strategy === 'releases' ? `${releasePaths(app.path).releases}/${h.newRelease}` : app.path;
}

/**
 * Touches nothing live: fetch tags (in-place, unless the preflight did), or mirror + new release
 * folder (releases), installed in the same command. With `reuseRelease`, an existing release folder
 * of the tag is used as it is (no reinstall): returns true then.
 */
export async function prepare(ctx: RunCtx, h: HostRun, out: Out, opts: { reuseRelease: boolean } = { reuseRelease: false }): Promise<boolean> {
  const { app } = ctx.env.config;
  if (app.strategy === 'in-place') {
    if (!h.fetched) await run(h.runner, git.fetchTags(app.path), streaming(ctx, out));
    h.fetched = true;
    return false;
  }
  const p = releasePaths(app.path);
  if (opts.reuseRelease) {
    // the release folders came with the preflight's facts
    const listed = h.facts?.releases ?? (await run(h.runner, releases.list(p))).stdout.split('\n');
    const existing = listed.filter((d) => d && tagOfRelease(d) === ctx.tag);
    if (existing.length) {
      h.newRelease = existing.sort().at(-1)!;
      return true;
    }
  }
  if (!h.fetched) await run(h.runner, releases.prepareRepo(p, app.repo), streaming(ctx, out));
  h.fetched = true;
  h.newRelease = releaseDirName(ctx.tag, new Date());
  const steps: StagedStep[] = [{ name: 'prepare', commands: [releases.add(p, h.newRelease, ctx.tag)] }];
  if (app.install.length) steps.push({ name: 'install', commands: installCommands(ctx, codeDir(ctx, h)) });
  await new StagedRun(h.runner, steps, { signal: ctx.signal, secrets: secretValues(ctx.env) }).until(steps.at(-1)!.name, out);
  return false;
}

const installCommands = (ctx: RunCtx, dir: string): Command[] => ctx.env.config.app.install.map((c) => appCommand(dir, c, ctx.env.config.app.env));

function migrateCommands(ctx: RunCtx, dir: string): Command[] {
  const { app, database } = ctx.env.config;
  const vars = { ...app.env, ...(database ? pgEnv(database) : {}) };
  const password = database ? secret(ctx.env, database.password) : undefined;
  return app.migrate.map((c) => appCommand(dir, c, vars, password));
}

/**
 * in-place: check out (the tag, or back to the exact commit a host ran: a revision read from a host
 * is never used as a name), install and, on the host that runs them, the migrations: ONE command
 * (staged.ts), started at once; the graph's steps wait for their parts (`h.code.until(step)`).
 * Live from here on.
 */
export function startCode(ctx: RunCtx, h: HostRun, to: Deployed | { tag: string }, o: { migrate: boolean }): StagedRun {
  const { app } = ctx.env.config;
  if (h.stage === 'untouched') h.stage = 'code-changed';
  const steps: StagedStep[] = [{ name: 'checkout', commands: ['commit' in to ? git.checkoutCommit(app.path, to.commit) : git.checkoutTag(app.path, to.tag)] }];
  if (app.install.length) steps.push({ name: 'install', commands: installCommands(ctx, app.path) });
  if (o.migrate && app.migrate.length) steps.push({ name: 'migrate', commands: migrateCommands(ctx, app.path) });
  h.code = new StagedRun(h.runner, steps, { signal: ctx.signal, secrets: secretValues(ctx.env) }).start();
  return h.code;
}

/** Runs once per deploy (the database is shared), on the first host, in the new code's folder. */
export async function migrate(ctx: RunCtx, h: HostRun, dir: string, out: Out): Promise<void> {
  for (const cmd of migrateCommands(ctx, dir)) await run(h.runner, cmd, streaming(ctx, out));
}

/** releases: switch `current` atomically. Live from here on. */
export async function switchRelease(ctx: RunCtx, h: HostRun, dirName: string): Promise<void> {
  if (h.stage === 'untouched') h.stage = 'code-changed';
  await run(h.runner, releases.switchTo(releasePaths(ctx.env.config.app.path), dirName), { signal: ctx.signal });
}

/** Just before a restart: the host's clock (the journal scan starts there) and the services' processes (their last words are not the new release's). */
export async function readClockAndPids(ctx: RunCtx, h: HostRun): Promise<void> {
  const units = ctx.env.config.services.filter((s) => s.unit).map((s) => s.unit!);
  const r = await hostNowAndPids(h.runner, units, ctx.signal);
  h.restartedAt = r.now;
  h.pidsBefore = r.pids;
}

/**
 * Restart the services over SSH in ONE command (commands/restart.ts): the host's clock, every
 * restart, the custom status checks, and all the units waited for together until systemd says
 * active. `only: 'ssh'`: the services restarted through SSM were done already (and the host's clock
 * was read then).
 */
export async function restart(ctx: RunCtx, h: HostRun, out: Out, opts: { only?: 'ssh' } = {}): Promise<void> {
  const services = ctx.env.config.services.filter((s) => !opts.only || s.restart !== 'ssm');
  const custom = services.filter((s) => s.commands);
  const units = services.filter((s) => s.unit).map((s) => ({ unit: s.unit!, sudo: s.sudo }));
  const cmd = restartScript({ custom: custom.map((s) => s.commands!), units, waitSec: 10 });
  let head = '';
  let lines = '';
  const secrets = secretValues(ctx.env);
  let clock = true; // the first line out is the host's clock, not output to show
  const show = (text: string) => text.split('\n').filter((l) => l.trim() && !l.startsWith(RS)).forEach(out);
  const shownOut = lineRedactor(secrets, (text) => show(clock ? ((clock = false), text.slice(text.indexOf('\n') + 1)) : text));
  const shownErr = lineRedactor(secrets, show);
  h.restarted = true; // from the restart command on, the services may have changed
  const r = await h.runner.exec(cmd, {
    signal: ctx.signal,
    thenMore: true, // the verification's command follows: a session opens for it now
    onStdout: (c) => {
      if (!head.includes('\n')) head += c;
      lines = (lines + c).slice(-65_536);
      shownOut.push(c);
    },
    onStderr: (c) => shownErr.push(c),
  });
  const stdout = lines || r.stdout; // a runner that does not stream (the recorder) answers at the end
  if (!head) head = r.stdout;
  const marks = stdout.split('\n');
  if (!(opts.only && h.restartedAt) && !ctx.dry) {
    h.restartedAt = parseHostNow(head.split('\n')[0] ?? '');
    // the units' processes before the restart: their last words are not the new release's
    const pids = marks.find((l) => l.startsWith(`${RS}pids`));
    if (pids !== undefined) h.pidsBefore = pids.split(' ').slice(1).filter((p) => /^\d+$/.test(p) && p !== '0');
  }
  if (marks.includes(`${RS}restarted`)) h.stage = 'restarted';
  if (r.code === 0) return;
  const down = marks.findIndex((l) => l.startsWith(`${RS}down `));
  if (down >= 0) {
    const [, i, code] = marks[down]!.split(' ');
    const s = custom[Number(i)]!;
    throw new CutoverError(`${h.host.name}: ${s.name} is not running after the restart (status command exits ${code}); its logs end with:\n${lastLines(marks.slice(down + 1).join('\n'), 15)}`);
  }
  const at = marks.findIndex((l) => l.startsWith(`${RS}states`));
  if (at >= 0) {
    const states = marks[at]!.split(' ').slice(1);
    const names = units.map((u) => u.unit);
    const failed = names.filter((_, i) => states[i] === 'failed');
    throw new CutoverError(`${h.host.name}: ${names.map((u, i) => `${u} is ${states[i] || 'unknown'}`).join(', ')} after the restart; see: journalctl -u ${(failed[0] ?? names[0])!} -n 50`);
  }
  const what = [...custom.map((s) => s.commands!.restart), ...restartUnitsLines(units).map((l) => l.text)].join('; ');
  throw new CommandFailedError(h.host.name, display(command(raw(what)), secrets), r.code, lastLines(r.stderr || stdout, 20) + (r.error ? `\n(${r.error})` : ''), r.signal);
}

/** releases: delete old release folders beyond `keepReleases`, never `current` (one command, only when there is something to delete). */
export async function pruneReleases(ctx: RunCtx, h: HostRun): Promise<string[]> {
  const { app } = ctx.env.config;
  const p = releasePaths(app.path);
  // the folders the preflight listed, with the one this run switched to (`current` now): no round trip
  // (a folder another run made since is not known here, so it is kept: never one too many removed)
  const known = h.facts?.releases && h.newRelease ? [...new Set([...h.facts.releases, h.newRelease])] : null;
  const all = known ?? (await run(h.runner, releases.list(p))).stdout.split('\n').filter(Boolean);
  const current = known ? h.newRelease! : (await run(h.runner, releases.readCurrent(p))).stdout.trim();
  const doomed = releasesToPrune(all, current, app.keepReleases);
  if (doomed.length) await run(h.runner, releases.remove(p, doomed));
  return doomed;
}
