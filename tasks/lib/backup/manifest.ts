/**
 * The manifest written beside every dump: what was dumped, from where, between which tags, its
 * size and sha256, exact row counts, and how it was verified. Read back with the same schema.
 */
import { readFile } from 'node:fs/promises';
import { z } from '../base/zod.ts';
import { writePrivateFile } from '../base/private-file.ts';
import { PARTIAL_SUFFIX } from './names.ts';

export const VERIFIED_BY = { custom: 'pg_restore -f /dev/null', plain: 'pg_dump completion comment' } as const;

export const BackupManifest = z
  .object({
    manifestVersion: z.literal(1),
    /** The dump's file name, in the manifest's folder. */
    file: z.string().regex(/^[^/\\]+\.(dump|sql)$/, 'must be a .dump or .sql file name in the same folder'),
    envName: z.string(),
    database: z.string(),
    /** The host pg_dump ran on (the runner's host name: an app host, or `local`). */
    host: z.string(),
    /** The PostgreSQL server as seen from that host. */
    dbAddress: z.string(),
    dbUser: z.string(),
    serverVersion: z.string(),
    format: z.enum(['custom', 'plain']),
    /**
     * pg_dump's options besides the connection (DUMP_OPTIONS: plain SQL with `--clean --if-exists`).
     * Absent in manifests written before it was recorded: such plain dumps have no DROP statements.
     */
    dumpOptions: z.array(z.string()).optional(),
    sizeBytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    durationMs: z.number().int().nonnegative(),
    fromTag: z.string().nullable(),
    toTag: z.string(),
    runId: z.string(),
    createdAt: z.iso.datetime(),
    /** Exact `count(*)` per `schema.table`. */
    rowCounts: z.record(z.string(), z.number().int().nonnegative()),
    /**
     * 'dump-snapshot': counted in the snapshot pg_dump read, so they are exactly the dump's rows.
     * Absent in older manifests: counted beside the dump in a transaction of their own (on a busy
     * database they may differ from the dump by the rows written in between).
     */
    rowCountsFrom: z.literal('dump-snapshot').optional(),
    verified: z
      .object({ at: z.iso.datetime(), by: z.enum([VERIFIED_BY.custom, VERIFIED_BY.plain]), ok: z.boolean(), problems: z.array(z.string()).optional() })
      .nullable(),
  })
  .strict();
export type BackupManifest = z.infer<typeof BackupManifest>;

/** A backup in a folder: its dump (which may be missing) and its manifest. */
export interface BackupEntry {
  readonly dumpPath: string;
  readonly manifestPath: string;
  readonly manifest: BackupManifest;
}

/** Writes `<path>.partial` (mode 0600, synced), then renames it: a reader never sees half a manifest. */
export async function writeManifest(path: string, manifest: BackupManifest): Promise<void> {
  await writePrivateFile(path, `${JSON.stringify(manifest, null, 2)}\n`, PARTIAL_SUFFIX);
}

/** The manifest at `path`, or why it cannot be used. */
export async function readManifest(path: string): Promise<{ ok: true; manifest: BackupManifest } | { ok: false; problem: string }> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    return { ok: false, problem: `cannot read ${path}: ${(err as Error).message}` };
  }
  const parsed = BackupManifest.safeParse(data);
  if (!parsed.success) return { ok: false, problem: `${path} is not a backup manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  return { ok: true, manifest: parsed.data };
}
