/**
 * Durations and rates as the signals config writes them. Kept here (not imported from the
 * environment schema) because that schema imports this folder's config: no import cycle.
 */
import { z } from '../base/zod.ts';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** '250ms', '30s', '5m', '1h', '1d' -> milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** A duration in the config: '250ms', '30s', '5m', '1h', '1d', or milliseconds. */
export const SignalDuration = z
  .union([z.number().int().nonnegative(), z.string().regex(DURATION, "must be a duration such as '250ms', '30s', '5m', '1h'")])
  .transform((v) => (typeof v === 'number' ? v : parseDuration(v)!));

const RATE = /^(\d+(?:\.\d+)?)\/(s|sec|min|m|h)$/;

/** '20/min', '5/s', '600/h' -> events per minute; undefined when not a rate. */
export function parseRatePerMin(text: string): number | undefined {
  const m = RATE.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!;
  return unit === 's' || unit === 'sec' ? n * 60 : unit === 'h' ? n / 60 : n;
}

/** `6m12s`, `15m`, `1h 2m`, `850ms`: a clock or a window as people read it. */
export function clockText(ms: number): string {
  if (ms < 1000) return ms <= 0 ? '0s' : `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${m ? `${m}m` : ''}${sec ? `${sec}s` : ''}`;
  if (m > 0) return `${m}m${sec ? `${sec}s` : ''}`;
  return `${sec}s`;
}
