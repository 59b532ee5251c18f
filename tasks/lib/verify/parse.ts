/** Pure readers of what hosts and services answer: systemctl show, df, a readiness body. */

/** `systemctl show -p A,B -- u1 u2`: one block of `Key=value` lines per unit, blank line between. */
export function parseSystemctlShow(stdout: string): Record<string, string>[] {
  const blocks: Record<string, string>[] = [];
  let cur: Record<string, string> | null = null;
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') {
      cur = null;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    if (!cur) blocks.push((cur = {}));
    cur[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return blocks;
}

/**
 * systemd's `Tue 2026-01-06 10:00:00 UTC` -> epoch ms; null when empty or in a zone name this
 * process cannot read (then the text is shown as it is).
 */
export function parseSystemdTimestamp(text: string): number | null {
  const t = text.trim().replace(/^[A-Z][a-z]{2} /, '');
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/.test(t)) return null;
  const ms = Date.parse(t.replace(/ (UTC|GMT)$/, 'Z').replace(' ', 'T'));
  return Number.isFinite(ms) ? ms : null;
}

export interface DiskUsage {
  readonly filesystem: string;
  readonly mountedOn: string;
  readonly totalKiB: number;
  readonly usedKiB: number;
  readonly availKiB: number;
  /** As df counts it: available / (used + available), so root's reserved blocks count as used. */
  readonly freePercent: number;
}

/** `df -P -k PATH` (POSIX format: one line per file system, never wrapped). */
export function parseDf(stdout: string): DiskUsage | null {
  const line = stdout.trim().split('\n')[1];
  if (!line) return null;
  const f = line.trim().split(/\s+/);
  if (f.length < 6) return null;
  const [total, used, avail] = [Number(f[1]), Number(f[2]), Number(f[3])];
  if (![total, used, avail].every(Number.isFinite)) return null;
  const freePercent = used + avail > 0 ? (avail / (used + avail)) * 100 : 0;
  return { filesystem: f[0]!, mountedOn: f.slice(5).join(' '), totalKiB: total, usedKiB: used, availKiB: avail, freePercent };
}

/** Where readiness answers put their dependency map: `{"dependencies": {...}}` (demo) or `{"services": {...}}` (the checklist). */
const DEPENDENCY_KEYS = ['dependencies', 'services', 'checks', 'components'];

/** The dependency map of a readiness body, values as text (`true`, `ok`, `{"status":"up"}` -> `up`); null when there is none. */
export function parseDependencies(body: string): Record<string, string> | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  for (const key of DEPENDENCY_KEYS) {
    const map = (json as Record<string, unknown>)[key];
    if (!map || typeof map !== 'object' || Array.isArray(map)) continue;
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(map as Record<string, unknown>)) out[name] = dependencyState(v);
    return out;
  }
  return null;
}

function dependencyState(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v && typeof v === 'object' && 'status' in v) return String((v as { status: unknown }).status);
  return JSON.stringify(v);
}

/** `database=ok, redis=down`, in the order the service gave them. */
export function formatDependencies(map: Readonly<Record<string, string>>): string {
  const entries = Object.entries(map);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : '(empty)';
}



