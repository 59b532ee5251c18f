/**
 * The demo service's "GitHub": a bare repo with one annotated tag per release of sandbox/demo-app.
 * Commits use a fixed author, committer and date, so the same releases always give the same SHAs.
 */
import { cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';

export interface DemoRelease {
  tag: string;
  mode: 'ok' | 'unhealthy' | 'crash' | 'journal-errors' | 'slow-chat' | 'degraded';
  /** degraded mode: how (default 8% 5xx and +300 ms on 10% of chats, after 30 chats). */
  degraded?: { errorRate?: number; extraLatencyMs?: number; slowShare?: number; after?: number };
  /** degraded mode: degraded only while this flag (a JSON pointer into the service's DEMO_FLAGS_FILE) is true. */
  degradedFlag?: string;
  /** file name (NNN_name.sql) → SQL, added in this release; earlier releases' migrations stay */
  migrations?: Record<string, string>;
}

export const DEMO_APP_SOURCE = fileURLToPath(new URL('./demo-app', import.meta.url));

export const DEFAULT_RELEASES: DemoRelease[] = [
  // 001_create_messages.sql ships inside sandbox/demo-app, so every release has it
  { tag: 'v1.0.0', mode: 'ok' },
  { tag: 'v1.1.0', mode: 'ok', migrations: { '002_add_message_channel.sql': "alter table messages add column channel text default 'web';\n" } },
  { tag: 'v1.2.0', mode: 'unhealthy' },
  // passes deploy verification, then under traffic answers 8% of chats 500 and slows 10% by 300 ms (canary tests).
  // v1.6.0, not v1.3.0: the test fleets add v1.3.0-v1.5.0 of their own
  { tag: 'v1.6.0', mode: 'degraded' },
];

const MIGRATION_NAME = /^\d{3}_[a-z0-9_]+\.sql$/;
const TAG_NAME = /^v\d+\.\d+\.\d+[a-z0-9.-]*$/;

// no system/global git config: a user's hooks, signing or default branch cannot change the result
function gitEnv(date: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Demo Release Bot',
    GIT_AUTHOR_EMAIL: 'releases@demo-chat.invalid',
    GIT_COMMITTER_NAME: 'Demo Release Bot',
    GIT_COMMITTER_EMAIL: 'releases@demo-chat.invalid',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Builds `<dir>/origin.git` (bare, branch main, one annotated tag per release) and returns its path. */
export async function createOrigin(dir: string, releases: DemoRelease[] = DEFAULT_RELEASES): Promise<string> {
  const root = resolve(dir);
  const bare = join(root, 'origin.git');
  const work = join(root, 'origin.work');
  if (await exists(bare)) throw new Error(`createOrigin: ${bare} already exists; remove it to build it again`);
  for (const r of releases) {
    if (!TAG_NAME.test(r.tag)) throw new Error(`createOrigin: bad tag ${JSON.stringify(r.tag)} (expected vX.Y.Z)`);
    for (const name of Object.keys(r.migrations ?? {})) {
      if (!MIGRATION_NAME.test(name)) throw new Error(`createOrigin: bad migration name ${JSON.stringify(name)} in ${r.tag} (expected NNN_name.sql)`);
    }
  }
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const git = (date: string) => $({ quiet: true, cwd: work, env: gitEnv(date) });
    await git('2025-01-01T00:00:00Z')`git init --quiet -b main`;
    for (const [i, r] of releases.entries()) {
      // one day per release, so `git log` reads like a release history
      const date = new Date(Date.UTC(2025, 0, 1 + i, 12)).toISOString();
      await cp(DEMO_APP_SOURCE, work, { recursive: true, filter: (src) => !['.installed', 'node_modules'].includes(basename(src)) });
      await writeFile(join(work, 'release.json'), `${JSON.stringify({ version: r.tag, mode: r.mode, ...(r.degraded ? { degraded: r.degraded } : {}), ...(r.degradedFlag ? { degradedFlag: r.degradedFlag } : {}) })}\n`);
      for (const [name, sql] of Object.entries(r.migrations ?? {})) await writeFile(join(work, 'migrations', name), sql);
      await git(date)`git add --all`;
      await git(date)`git commit --quiet --allow-empty -m ${`Release ${r.tag} (${r.mode})`}`;
      await git(date)`git tag -a ${r.tag} -m ${`demo-chat ${r.tag}`}`;
    }
    await $({ quiet: true, env: gitEnv('2025-01-01T00:00:00Z') })`git init --quiet --bare -b main ${bare}`;
    await git('2025-01-01T00:00:00Z')`git push --quiet ${bare} refs/heads/main:refs/heads/main ${'refs/tags/*:refs/tags/*'}`;
  } catch (e) {
    await rm(bare, { recursive: true, force: true });
    throw e;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return bare;
}
