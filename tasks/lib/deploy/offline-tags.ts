/**
 * A rollback while the git host does not answer: the target was deployed here before, so its tag
 * (or, with releases, its folder) is normally on every host already, as Capistrano and Kamal roll
 * back without their remote. Checked before the lock, per host whose fetch failed: present, the
 * plan says so and the run goes on; missing, the run is refused (exit 2) naming both reasons.
 */
import { oneLine } from '../base/format.ts';
import { label } from '../base/run.ts';
import { git } from '../commands/git.ts';
import { releasePaths, tagOfRelease } from '../commands/releases.ts';
import { display } from '../commands/shell.ts';
import type { RunCtx } from './context.ts';

/** The plan's lines for the hosts that could not fetch, and the problems of those missing the tag. */
export async function offlineTags(ctx: RunCtx): Promise<{ lines: string[]; problems: string[] }> {
  const { app } = ctx.env.config;
  const offline = ctx.hosts.filter((h) => h.unfetched !== undefined);
  const lines: string[] = [];
  const problems: string[] = [];
  await Promise.all(
    offline.map(async (h) => {
      const why = `the tags could not be fetched from ${app.repo} (${oneLine(h.unfetched!)})`;
      // releases: a folder of the target is reused as it is, without the repository
      if (app.strategy === 'releases' && (h.facts?.releases ?? []).some((d) => tagOfRelease(d) === ctx.tag)) {
        lines.push(`  ${h.host.name}: ${why}; ${ctx.tag}'s release folder is there: no fetch needed`);
        return;
      }
      const dir = app.strategy === 'releases' ? releasePaths(app.path).repo : app.path;
      const cmd = git.hasTag(dir, ctx.tag);
      const r = await h.runner.exec(cmd, { signal: ctx.signal, timeoutMs: 30_000 });
      if (r.code === 0) lines.push(`  ${h.host.name}: ${why}; ${ctx.tag} is on the host already: rolling back without the remote`);
      else if (r.code === 1)
        problems.push(`${h.host.name}: ${why}, and ${ctx.tag} is not on the host (${display(cmd)} found nothing): bring the remote back, or roll back to a tag the host has (git -C ${dir} tag; it runs ${label(h.from)})`);
      else problems.push(`${h.host.name}: ${why}, and the host's own tags could not be read: \`${display(cmd)}\` ${r.error ?? `exited ${r.code}`}`);
    }),
  );
  return { lines: lines.sort(), problems: problems.sort() };
}
