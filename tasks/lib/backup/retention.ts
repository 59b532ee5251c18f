/**
 * What backups there are, and keeping only the newest N. Only dumps with a valid manifest are
 * listed or pruned: a file cutover did not describe is never deleted (apart from its own
 * `.partial` leftovers older than an hour, from a run that died mid-dump).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { CutoverError } from '../base/errors.ts';
import { readManifest, type BackupManifest } from './manifest.ts';
import { MANIFEST_EXT, PARTIAL_SUFFIX, STALE_PARTIAL_MS } from './names.ts';

export interface BackupEntry {
  readonly dumpPath: string;
  readonly manifestPath: string;
  readonly manifest: BackupManifest;
}

export interface PruneResult {
  /** Dump + manifest pairs deleted, newest first. */
  readonly removed: readonly BackupEntry[];
  /** Stale `.partial` files deleted. */
  readonly partials: readonly string[];
  /** Backups kept, newest first. */
  readonly kept: readonly BackupEntry[];
}

/** Every backup in `dir` with a valid manifest, newest first (by createdAt, then name). A missing folder has none. */
export async function listBackups(dir: string): Promise<BackupEntry[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const entries: BackupEntry[] = [];
  for (const name of names.filter((n) => n.endsWith(MANIFEST_EXT))) {
    const manifestPath = path.join(dir, name);
    const m = await readManifest(manifestPath);
    if (!m.ok) continue; // not ours (or damaged): never listed, never pruned
    entries.push({ dumpPath: path.join(dir, m.manifest.file), manifestPath, manifest: m.manifest });
  }
  return entries.sort((a, b) => Date.parse(b.manifest.createdAt) - Date.parse(a.manifest.createdAt) || b.manifest.file.localeCompare(a.manifest.file));
}

/** The newest backup whose verification passed, if any. */
export function newestVerified(entries: readonly BackupEntry[]): BackupEntry | undefined {
  return entries.find((e) => e.manifest.verified?.ok === true);
}

/**
 * Keep the newest `keep` backups and the newest verified one (even when it is older); delete the
 * other dump + manifest pairs, and `.partial` files older than an hour.
 */
export async function pruneBackups(dir: string, keep: number, opts: { now?: Date } = {}): Promise<PruneResult> {
  const { kept, removed } = pruneSelection(await listBackups(dir), keep);
  for (const e of removed) {
    await rm(e.dumpPath, { force: true });
    await rm(e.manifestPath, { force: true }); // the manifest last: a dump is never left without its description
  }
  const partials = await removeStalePartials(dir, (opts.now ?? new Date()).getTime());
  return { removed, partials, kept };
}

/** Pure: which of `entries` (newest first) pruneBackups keeps and removes (also what `backup prune --dry-run` shows). */
export function pruneSelection(entries: readonly BackupEntry[], keep: number): { kept: BackupEntry[]; removed: BackupEntry[] } {
  if (!Number.isInteger(keep) || keep < 1) throw new CutoverError(`backups.keep must be a whole number of at least 1, not ${keep}`);
  const protectedOne = newestVerified(entries);
  const kept: BackupEntry[] = [];
  const removed: BackupEntry[] = [];
  entries.forEach((e, i) => (i < keep || e === protectedOne ? kept : removed).push(e));
  return { kept, removed };
}

async function removeStalePartials(dir: string, nowMs: number): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => n.endsWith(PARTIAL_SUFFIX)).sort()) {
    const p = path.join(dir, name);
    const st = await stat(p).catch(() => null);
    if (st?.isFile() && nowMs - st.mtimeMs > STALE_PARTIAL_MS) {
      await rm(p, { force: true });
      removed.push(p);
    }
  }
  return removed;
}
