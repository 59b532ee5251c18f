/**
 * File names of backups: `<YYYYMMDDTHHMMSSZ>_<from>_to_<to>.dump` (`.sql` for plain format), its
 * manifest `<same name>.json` beside it, and a `.partial` suffix while either is being written.
 */
import type { DumpFormat } from '../commands/pg.ts';

export const PARTIAL_SUFFIX = '.partial';
export const MANIFEST_EXT = '.json';
/** Leftover `.partial` files older than this are from a run that died: retention removes them. */
export const STALE_PARTIAL_MS = 60 * 60 * 1000;

/** `2025-11-21T21:13:05.123Z` -> `20251121T211305Z` (UTC, second precision). */
export function compactTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** A tag as a file-name part: git ref names may hold `/`; anything outside [A-Za-z0-9._+-] becomes `-`. */
export function tagForFileName(tag: string | null): string {
  return tag === null ? 'none' : tag.replace(/[^A-Za-z0-9._+-]/g, '-');
}

export function dumpExtension(format: DumpFormat): '.dump' | '.sql' {
  return format === 'custom' ? '.dump' : '.sql';
}

/** The name without extension; `attempt` > 1 adds `-<attempt>` so a second backup in the same second never replaces the first. */
export function backupBaseName(at: Date, fromTag: string | null, toTag: string, attempt = 1): string {
  return `${compactTimestamp(at)}_${tagForFileName(fromTag)}_to_${tagForFileName(toTag)}${attempt > 1 ? `-${attempt}` : ''}`;
}

/** `.../x.dump` or `.../x.sql` -> `.../x.json`. */
export function manifestPathFor(dumpPath: string): string {
  return dumpPath.replace(/\.(dump|sql)$/, '') + MANIFEST_EXT;
}
