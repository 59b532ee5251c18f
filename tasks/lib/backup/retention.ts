/**
 * What backups there are, and keeping only the newest N without ever losing the way back. Only
 * dumps with a valid manifest are listed or pruned: a file cutover did not describe is never
 * deleted (apart from its own `.partial` leftovers older than an hour, from a run that died
 * mid-dump). Protected dumps (protection.ts: the rollback chain's, the one a run is about to
 * restore, the newest verified) are never deleted: they are kept beyond the newest N.
 *
 * A manifest whose dump is missing (an orphan) takes no place among the newest N and protects
 * nothing; prune removes it unless the rollback chain names its dump (then the manifest stays, and
 * `backup list` shows the dump MISSING with the reason, so someone can put it back).
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { CutoverError } from '../base/errors.ts';
import { parseHistory } from '../state/history.ts';
import { HISTORY_FILE } from '../state/paths.ts';
import { readManifest, type BackupEntry } from './manifest.ts';
import { MANIFEST_EXT, PARTIAL_SUFFIX, STALE_PARTIAL_MS } from './names.ts';
import { protectedDumps, type Protection } from './protection.ts';

export type { BackupEntry } from './manifest.ts';
export { newestVerified } from './protection.ts';

export interface Selection {
  /** Backups kept, newest first. */
  readonly kept: readonly BackupEntry[];
  /** Dump + manifest pairs to delete, newest first. */
  readonly removed: readonly BackupEntry[];
  /** Manifests to delete whose dump is already gone (not protected). */
  readonly orphans: readonly BackupEntry[];
  /** The kept ones that only their protection keeps (older than the newest N, or their dump missing). */
  readonly keptForProtection: readonly BackupEntry[];
}

export interface PruneResult extends Selection {
  /** Stale `.partial` files deleted. */
  readonly partials: readonly string[];
  /** What was protected, and why (dumpPath -> reasons). */
  readonly protection: Protection;
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

/** Which entries' dump files are there (a regular file), as a predicate. */
export async function presence(entries: readonly BackupEntry[]): Promise<(e: BackupEntry) => boolean> {
  const there = new Set<string>();
  await Promise.all(entries.map((e) => stat(e.dumpPath).then((s) => s.isFile() && there.add(e.dumpPath), () => undefined)));
  return (e) => there.has(e.dumpPath);
}

/**
 * Pure: which of `entries` (newest first) are kept and deleted. Kept: the newest `keep` whose
 * dump is there, and every protected one. Orphans (dump missing) take no place among the newest
 * and are deleted unless protected.
 */
export function pruneSelection(entries: readonly BackupEntry[], keep: number, o: { protect: Protection; present: (e: BackupEntry) => boolean }): Selection {
  if (!Number.isInteger(keep) || keep < 1) throw new CutoverError(`backups.keep must be a whole number of at least 1, not ${keep}`);
  const kept: BackupEntry[] = [];
  const removed: BackupEntry[] = [];
  const orphans: BackupEntry[] = [];
  const keptForProtection: BackupEntry[] = [];
  let newest = 0;
  for (const e of entries) {
    const isProtected = o.protect.has(e.dumpPath);
    const inNewest = o.present(e) && newest++ < keep;
    if (inNewest) kept.push(e);
    else if (isProtected) {
      kept.push(e);
      keptForProtection.push(e);
    } else (o.present(e) ? removed : orphans).push(e);
  }
  return { kept, removed, orphans, keptForProtection };
}

export interface PruneOptions {
  readonly now?: Date;
  /**
   * What must never be deleted (protectedDumps, from the history on the host). Without it, the
   * history mirrored in `dir` (this machine's runs only) is used: pruneAfterRun and `backup prune`
   * always pass the host's.
   */
  readonly protect?: Protection;
}

/** Deletes what pruneSelection says, and `.partial` files older than an hour. */
export async function pruneBackups(dir: string, keep: number, opts: PruneOptions = {}): Promise<PruneResult> {
  const entries = await listBackups(dir);
  const present = await presence(entries);
  const protect = opts.protect ?? protectedDumps({ events: await mirroredEvents(dir), entries, present });
  const sel = pruneSelection(entries, keep, { protect, present });
  for (const e of sel.removed) {
    await rm(e.dumpPath, { force: true });
    await rm(e.manifestPath, { force: true }); // the manifest last: a dump is never left without its description
  }
  for (const e of sel.orphans) await rm(e.manifestPath, { force: true });
  const partials = await removeStalePartials(dir, (opts.now ?? new Date()).getTime());
  return { ...sel, partials, protection: protect };
}

async function mirroredEvents(dir: string) {
  const text = await readFile(path.join(dir, HISTORY_FILE), 'utf8').catch(() => '');
  return parseHistory(text).events;
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
