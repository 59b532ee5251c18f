/** Bounded, masked text for probe reports: nothing huge is kept, no secret or PII is shown. */
import { redact } from '../commands/shell.ts';
import { redactText } from '../reports/redact.ts';

/** Display excerpt length of a body or a journal message. */
export const EXCERPT_CHARS = 300;

/** Mask the given secrets, secret-looking fields, tokens and PII a service echoes (see ../reports/redact.ts). */
export function mask(text: string, secrets: readonly string[] = []): string {
  return redactText(text, secrets);
}

/** One line, masked, at most `max` characters (an ellipsis says it was cut). */
export function excerpt(text: string, secrets: readonly string[] = [], max = EXCERPT_CHARS): string {
  const flat = mask(text, secrets).replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A URL as it may be shown: a password in it is masked. */
export function maskUrl(url: string, secrets: readonly string[] = []): string {
  let shown = url;
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = '***';
      shown = u.toString();
    }
  } catch {
    // not a URL: shown as is, masked below
  }
  return redact(shown, secrets);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
