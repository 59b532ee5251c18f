/** The overall verdict of a verify run, from its rows: GO only when every check is ok. */
import { ExitCode } from '../base/errors.ts';
import { THIS_MACHINE, type CheckRow, type HostVerdict } from './types.ts';

export interface Overall {
  readonly verdict: 'GO' | 'NO-GO';
  /** 0 GO; 1 degraded or failing; 2 cannot verify (a host could not be reached). */
  readonly exitCode: ExitCode;
  readonly failing: readonly CheckRow[];
  readonly warnings: readonly CheckRow[];
  /** Hosts that could not be verified. */
  readonly unreachable: readonly string[];
  readonly checks: number;
  readonly headline: string;
}

const names = (rows: readonly CheckRow[]) => rows.map((r) => `${r.host} ${r.check}`).join(', ');

export function overallVerdict(envName: string, hosts: readonly HostVerdict[]): Overall {
  const rows = hosts.flatMap((h) => h.rows);
  const failing = rows.filter((r) => r.verdict === 'fail');
  const warnings = rows.filter((r) => r.verdict === 'warn');
  const unreachable = hosts.filter((h) => !h.reachable).map((h) => h.name);
  const hostCount = hosts.filter((h) => h.name !== THIS_MACHINE).length;
  const parts: string[] = [];
  if (unreachable.length) parts.push(`cannot verify ${unreachable.join(', ')} (unreachable)`);
  const failingRest = failing.filter((r) => r.kind !== 'connect'); // said above as "cannot verify"
  if (failingRest.length) parts.push(`${failingRest.length} failing: ${names(failingRest)}`);
  if (warnings.length) parts.push(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}: ${names(warnings)}`);
  const go = parts.length === 0;
  const exitCode = unreachable.length ? ExitCode.refused : go ? ExitCode.ok : ExitCode.rolledBack;
  const headline = go
    ? `${envName}: GO: ${hostCount} host(s), all ${rows.length} checks ok (exit 0)`
    : `${envName}: NO-GO: ${parts.join('; ')} (exit ${exitCode})`;
  return { verdict: go ? 'GO' : 'NO-GO', exitCode, failing, warnings, unreachable, checks: rows.length, headline };
}
