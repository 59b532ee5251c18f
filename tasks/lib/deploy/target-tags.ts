/**
 * A rollback's target on each host, without the git host when it can: the target went live here
 * before, so its tag (or, with releases, its release folder) is normally on every host already, as
 * Capistrano and Kamal roll back without their remote. The preflight lists the host's tags instead
 * of fetching; only a host that lacks the target fetches, before the lock. A fetch that fails, or a
 * remote without the tag, refuses the run (exit 2) with nothing changed.
 */
import { git } from '../commands/git.ts';
import { releasePaths, releases, tagOfRelease } from '../commands/releases.ts';
import { display } from '../commands/shell.ts';
import { gitFailure } from '../probes/host-facts.ts';
import type { HostRun, RunCtx } from './context.ts';

/** Does this host have the target already (the preflight's listing)? */
function hasTarget(ctx: RunCtx, h: HostRun): boolean {
  const releasesMode = ctx.env.config.app.strategy === 'releases';
  // releases: a folder of the target is reused as it is, without the repository
  if (releasesMode && (h.facts?.releases ?? []).some((d) => tagOfRelease(d) === ctx.tag)) return true;
  return (h.facts?.localTags ?? []).includes(ctx.tag);
}

/** Fetches on the hosts that lack the target: the plan's lines, and the problems that refuse the run. */
export async function fetchWhereMissing(ctx: RunCtx): Promise<{ lines: string[]; problems: string[] }> {
  const { app } = ctx.env.config;
  const lines: string[] = [];
  const problems: string[] = [];
  await Promise.all(
    ctx.hosts.map(async (h) => {
      if (hasTarget(ctx, h)) {
        h.fetched = true; // nothing to fetch: the work uses what the host has
        return;
      }
      const lacks = `${ctx.tag} is not on the host`;
      if (ctx.dryRun) return void lines.push(`  ${h.host.name}: ${lacks}: it would be fetched from ${app.repo}`);
      const dir = app.strategy === 'releases' ? releasePaths(app.path).repo : app.path;
      const fetch = app.strategy === 'releases' ? releases.prepareRepo(releasePaths(app.path), app.repo) : git.fetchTags(app.path);
      const f = await h.runner.exec(fetch, { signal: ctx.signal, timeoutMs: 120_000 });
      if (f.code !== 0) {
        const why = f.error ?? gitFailure({ out: `${f.stdout}\n${f.stderr}`, code: f.code ?? 1 });
        return void problems.push(`${h.host.name}: ${lacks}, and the tags could not be fetched from ${app.repo} (${why}): bring the remote back, or roll back to a tag the host has (git -C ${dir} tag)`);
      }
      h.fetched = true;
      const check = git.hasTag(dir, ctx.tag);
      const r = await h.runner.exec(check, { signal: ctx.signal, timeoutMs: 30_000 });
      if (r.code === 0) lines.push(`  ${h.host.name}: ${lacks}: fetched from ${app.repo}`);
      else problems.push(`${h.host.name}: ${lacks}, nor on ${app.repo} (fetched; \`${display(check)}\` ${r.error ?? `exited ${r.code}`})`);
    }),
  );
  return { lines: lines.sort(), problems: problems.sort() };
}
