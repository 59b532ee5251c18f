/** The body of tasks/backup.ts list, verify and prune (create is a kernel procedure: create.ts). Returns the exit code. */
import path from 'node:path';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment, type LoadedEnvironment } from '../config/load.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { ageText, sizeText } from '../base/format.ts';
import { runnerFor } from '../runners/for-host.ts';
import type { Runner } from '../runners/types.ts';
import { chooseStateHost } from '../kernel/state-host.ts';
import { historyFileIn, stateDirOf } from '../state/paths.ts';
import { onInterrupt } from '../kernel/interrupt.ts';
import { backupRows, protectionLines, recordVerification, renderBackupTable, resolveBackup, type BackupRow } from '../backup/catalog.ts';
import { readProtection } from '../backup/prune-after-run.ts';
import type { Protection } from '../backup/protection.ts';
import { listBackups, presence, pruneBackups, pruneSelection, type BackupEntry } from '../backup/retention.ts';
import { verifyBackup } from '../backup/integrity.ts';

const ACTIONS = ['list', 'create', 'verify', 'prune'] as const;
type Action = (typeof ACTIONS)[number];

interface Io {
  readonly json: boolean;
  /** Human lines: stdout, or stderr with --json (stdout then holds only the JSON document). */
  say(text: string): void;
}

/** Flags that belong to one action only are refused on the others (exit 2, nothing done). */
export function checkArgs(args: ParsedArgs): Action {
  const action = args.positionals[0] ?? '';
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}. See: npx tsx tasks/backup.ts --help`);
  const a = action as Action;
  if (args.positionals[1] !== undefined && a !== 'verify') throw new UsageError(`${a} takes no backup argument (got ${JSON.stringify(args.positionals[1])})`);
  if (flag(args, 'all') && a !== 'verify') throw new UsageError(`--all is for verify only`);
  if (flag(args, 'all') && args.positionals[1] !== undefined) throw new UsageError(`verify: give a backup or --all, not both`);
  if (flag(args, 'dry-run') && a !== 'prune' && a !== 'create') throw new UsageError(`--dry-run is for create and prune only`);
  for (const f of ['force-unlock', 'renderer']) if (args.values[f] !== undefined && a !== 'create') throw new UsageError(`--${f} is for create only`);
  return a;
}

export async function backupTask(args: ParsedArgs): Promise<ExitCode> {
  const action = checkArgs(args);
  const json = flag(args, 'json');
  const io: Io = { json, say: (t) => (json ? process.stderr : process.stdout).write(`${t}\n`) };
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const out = (doc: unknown) => json && process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  switch (action) {
    case 'list': {
      const chain = await protectionOf(env);
      const rows = await backupRows(env.backupDir, Date.now(), chain.ok ? chain.protection : null);
      listText(env, rows, chain).forEach((l) => io.say(l));
      const history = chain.ok ? { ok: true, where: chain.where } : { ok: false, where: chain.where, problem: chain.problem };
      out({ action, env: env.name, dir: env.backupDir, keep: env.config.backups.keep, history, backups: rows });
      return ExitCode.ok;
    }
    case 'create':
      throw new Error('backup create runs through the kernel (tasks/backup.ts, create.ts)');
    case 'verify':
      return verify(env, io, out, args.positionals[1], flag(args, 'all'));
    case 'prune':
      return prune(env, io, out, flag(args, 'dry-run'));
  }
}

type Chain = { ok: true; where: string; protection: Protection } | { ok: false; where: string; problem: string };

/**
 * What prune must never remove, from the history on the state host (the rollback chain). Read-only:
 * the sandbox is not started for it (a sandbox that is not there has no history).
 */
async function protectionOf(env: LoadedEnvironment): Promise<Chain> {
  const file = historyFileIn(stateDirOf(env.config.app));
  let where = `the state host:${file}`;
  let runner: Runner | null = null;
  try {
    const { resolveHosts } = await import('../aws/hosts.ts');
    const host = chooseStateHost(env, await resolveHosts(env));
    where = `${host.name}:${file}`;
    runner = runnerFor(env, host);
    return { ok: true, where, protection: await readProtection(env, runner) };
  } catch (err) {
    return { ok: false, where, problem: (err as Error).message.split('\n')[0]! };
  } finally {
    await runner?.close();
  }
}

function listText(env: LoadedEnvironment, rows: readonly BackupRow[], chain: Chain): string[] {
  if (!rows.length) return [`No backups of ${env.name} in ${env.backupDir}. Take one: npx tsx tasks/backup.ts create --env ${env.name}`];
  const lines = [`Backups of ${env.name} in ${env.backupDir}: ${rows.length}, newest first (keep: ${env.config.backups.keep})`, ...renderBackupTable(rows), ...protectionLines(rows)];
  if (!rows.some((r) => r.protectedBy.length && r.present && r.verified?.ok)) lines.push('  no verified backup: run npx tsx tasks/backup.ts verify --all');
  if (!chain.ok) lines.push(`  the history on ${chain.where} could not be read (${chain.problem}): the dumps rollback --restore-db needs are not marked, and prune refuses to run`);
  return lines;
}

async function verify(env: LoadedEnvironment, io: Io, out: (doc: unknown) => void, arg: string | undefined, all: boolean): Promise<ExitCode> {
  let entries: BackupEntry[];
  if (arg !== undefined) entries = [await resolveBackup(env, arg)];
  else {
    const list = await listBackups(env.backupDir);
    if (!list.length) throw new UsageError(`no backups of ${env.name} in ${env.backupDir} to verify`);
    entries = all ? list : [list[0]!];
  }
  const interrupt = onInterrupt(io.say);
  const results: { file: string; ok: boolean; sha256: string | null; sizeBytes: number | null; durationMs: number; problems: string[] }[] = [];
  try {
    for (const e of entries) {
      // a full read: sha256 of every byte against the manifest, and pg_restore reading the dump to its end
      const r = await verifyBackup(e.dumpPath, e.manifest, { signal: interrupt.signal });
      if (interrupt.signal.aborted) break; // an interrupted read says nothing: the manifest is left as it was
      await recordVerification(e, r);
      const problems = r.problems.map((p) => p.message);
      results.push({ file: e.manifest.file, ok: r.ok, sha256: r.sha256, sizeBytes: r.sizeBytes, durationMs: r.durationMs, problems });
      io.say(r.ok ? `ok      ${e.manifest.file}: ${sizeText(r.sizeBytes)} read completely in ${r.durationMs} ms, sha256 matches the manifest` : `FAILED  ${e.manifest.file}:`);
      for (const p of problems) io.say(`          ${p}`);
    }
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
  } finally {
    interrupt.dispose();
  }
  const failed = results.filter((r) => !r.ok);
  const code = interrupt.signal.aborted ? ExitCode.interrupted : failed.length ? ExitCode.rolledBack : ExitCode.ok;
  io.say(
    interrupt.signal.aborted
      ? `interrupted after ${results.length} of ${entries.length}`
      : failed.length
        ? `${failed.length} of ${results.length} backup(s) FAILED verification; their manifests say so (restore refuses them, prune no longer protects them)`
        : `${results.length} backup(s) verified`,
  );
  out({ action: 'verify', env: env.name, results, exitCode: code });
  return code;
}

async function prune(env: LoadedEnvironment, io: Io, out: (doc: unknown) => void, dryRun: boolean): Promise<ExitCode> {
  const keep = env.config.backups.keep;
  const now = Date.now();
  const chain = await protectionOf(env);
  if (!chain.ok)
    throw new CutoverError(`cannot read the history on ${chain.where} (${chain.problem}): without it prune cannot know which dumps rollback --restore-db still needs. Nothing was removed.`);
  const protect = chain.protection;
  const entries = await listBackups(env.backupDir);
  const present = await presence(entries); // before anything is removed
  const pruned = dryRun ? null : await pruneBackups(env.backupDir, keep, { protect });
  const sel = pruned ?? pruneSelection(entries, keep, { protect, present });
  const partials = (pruned?.partials ?? []).map((p) => path.basename(p));
  const name = (e: BackupEntry) => e.manifest.file;
  const verb = dryRun ? 'would remove' : 'removed';
  io.say(`${dryRun ? 'Dry run: ' : ''}keep ${keep} newest and every protected dump: ${verb} ${sel.removed.length}, kept ${sel.kept.length}`);
  for (const e of sel.removed) io.say(`  ${verb} ${name(e)} (${ageText(now - Date.parse(e.manifest.createdAt))} old)`);
  for (const e of sel.orphans) io.say(`  ${verb} the manifest ${path.basename(e.manifestPath)}: its dump ${name(e)} is missing`);
  for (const e of sel.keptForProtection) io.say(`  kept ${name(e)}${present(e) ? '' : ' (its dump is MISSING)'}: ${(protect.get(e.dumpPath) ?? []).join('; ')}`);
  for (const p of partials) io.say(`  removed the leftover ${p} (a dump that never finished)`);
  const newestVerified = [...protect.entries()].find(([, why]) => why.some((w) => w.startsWith('the newest verified')))?.[0];
  out({
    action: 'prune', env: env.name, dryRun, keep,
    removed: sel.removed.map(name), kept: sel.kept.map(name), orphans: sel.orphans.map(name),
    protected: Object.fromEntries([...protect.entries()].map(([p, why]) => [path.basename(p), why])),
    newestVerified: newestVerified ? path.basename(newestVerified) : null, partials,
  });
  return ExitCode.ok;
}
