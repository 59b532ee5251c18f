/** Which checks a verify run makes: every one the environment configures, or the ones asked for. */
import type { LoadedEnvironment } from '../config/load.ts';
import { UsageError } from '../base/errors.ts';
import { CHECK_KINDS, type CheckKind } from './types.ts';

/** Why a check cannot run with this environment, or null when it can. */
export function missingConfig(env: LoadedEnvironment, kind: CheckKind): string | null {
  const { verify, services, database } = env.config;
  const h = verify.hardening;
  switch (kind) {
    case 'readiness':
      return verify.readiness ? null : 'needs verify.readiness';
    case 'chat':
      return verify.chat ? null : 'needs verify.chat';
    case 'journal':
      if (!verify.journal) return 'needs verify.journal';
      return (verify.journal.units ?? services.filter((s) => s.unit)).length ? null : 'needs systemd units (services[].unit) or verify.journal.units';
    case 'backup':
      return database ? null : 'needs a database (backups are of the database)';
    case 'oversized-body':
      return h?.oversizedBody ? null : 'is opt-in: set verify.hardening.oversizedBody: true';
    case 'rate-limit':
      return h?.rateLimit ? null : 'is opt-in: set verify.hardening.rateLimit: { requests, userId }';
    case 'readiness-deps':
      return h?.readinessDependencies ? null : 'is opt-in: set verify.hardening.readinessDependencies';
    default:
      return null;
  }
}

export function selectChecks(env: LoadedEnvironment, only?: readonly CheckKind[]): CheckKind[] {
  if (!only?.length) return CHECK_KINDS.filter((k) => missingConfig(env, k) === null);
  const bad = only.flatMap((k) => {
    const why = missingConfig(env, k);
    return why ? [`--check ${k} ${why} in ${env.file}`] : [];
  });
  if (bad.length) throw new UsageError(bad.join('; '));
  return CHECK_KINDS.filter((k) => only.includes(k));
}

/** `--check` values -> kinds; an unknown name is refused with the list. */
export function parseCheckNames(values: readonly string[]): CheckKind[] {
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(CHECK_KINDS as readonly string[]).includes(n));
  if (unknown.length) throw new UsageError(`--check ${unknown.join(', ')}: unknown check. Checks: ${CHECK_KINDS.join(', ')}.`);
  return names as CheckKind[];
}
