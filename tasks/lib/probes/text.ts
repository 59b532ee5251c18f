/** Bounded, masked text for probe reports: nothing huge is kept, no secret is shown. */
import { redact } from '../commands/shell.ts';

/** Display excerpt length of a body or a journal message. */
export const EXCERPT_CHARS = 300;

// JSON fields whose values are secrets whatever they are: "password": "...", "api_key": "..."
const SECRET_FIELD = /("(?:[\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization)[\w-]*)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/** Mask the given secrets and secret-looking JSON fields. */
export function mask(text: string, secrets: readonly string[] = []): string {
  return redact(text, secrets).replace(SECRET_FIELD, '$1"***"');
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
