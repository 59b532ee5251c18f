/**
 * The one masker for everything cutover shows or writes (probe excerpts, reports, notifications):
 * the environment's secrets, secret-looking fields, credentials in URLs, tokens, and the PII a
 * service may echo back (emails, phone numbers), as the seeds check for `[EMAIL]` and `[PHONE]`.
 *
 * Left alone on purpose: IP addresses (IPv4 and IPv6 are host addresses, needed in every report),
 * versions (v1.2.3), timestamps, sha256 hashes, run ids, `user@machine` without a domain.
 */
import { redact } from '../commands/shell.ts';

/** What a known secret value (and a secret-named field) becomes: the same mark as commands and history use. */
export const SECRET_MARK = '***';
export const REDACTED = '[REDACTED]';
export const EMAIL = '[EMAIL]';
export const PHONE = '[PHONE]';
export const TOKEN = '[TOKEN]';

// names whose values are secrets whatever they hold: "password", "api_key", "accessToken", "Authorization"
const SECRET_NAME = '[\\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization)[\\w-]*';
const SECRET_NAME_RE = new RegExp(`^${SECRET_NAME}$`, 'i');
// JSON fields: "password": "..."
const SECRET_FIELD = new RegExp(`("${SECRET_NAME}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');
// query strings and key=value text: ?token=abc&x=1, password=hunter2
const SECRET_PARAM = /([?&;\s]|^)((?:access[_-]?token|refresh[_-]?token|id[_-]?token|token|api[_-]?key|apikey|secret|client[_-]?secret|password|passwd|pwd|sig|signature)=)[^&\s"'<>]+/gi;
// scheme://user:password@host -> scheme://user:[REDACTED]@host (a known secret there is already `***`: left so)
// (every pattern starts only where its first run of characters starts: a 64 KB run is scanned once, not once per character)
const URL_CREDENTIALS = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):(?!\*\*\*@)[^\s/?#@]+@/gi;
const SLACK_HOOK = /(https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/)[\w/-]+/gi;
// a credential after the scheme: 16+ characters, or 8+ with a digit ("Bearer authentication" stays)
const BEARER = /\b(Bearer|bearer|BEARER|Basic)\s+(?:[A-Za-z0-9._~+/-]{16,}|(?=[A-Za-z._~+/-]*\d)[A-Za-z0-9._~+/-]{8,})=*/g;
const JWT = /\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/g;
// well-known key formats: OpenAI/Stripe sk-, GitHub, Slack, AWS access key ids, Google API keys
const API_KEY = /\b(?:sk-(?:proj-)?[A-Za-z0-9_-]{16,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})\b/g;
// not `git@github.com:org/repo` (an scp-like git address); the user part of a URL is skipped in emails()
const EMAIL_RE = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b(?![\w-]|\.[\w-]|:[\w~/])/g;
// +33 6 12 34 56 78, +33612345678, 0033 6 12 34 56 78, +1 415 555 0100: a country code, then 7 to 13 digits
const PHONE_INTL = /(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d\)?){7,13}(?![\w])(?!\.\d)/g;
// French national numbers: 06 12 34 56 78, 06.12.34.56.78, 0612345678 (one separator throughout: 01-02-2026 12:30 is a date)
const PHONE_FR = /(?<![\w.+:-])0[1-9]([ .-]?)\d{2}(?:\1\d{2}){3}(?![\w:])(?!\.\d)/g;

/** Emails, except the user of a URL (`ssh://git@github.com/x`): looked back at over a bounded stretch. */
function emails(text: string): string {
  return text.replace(EMAIL_RE, (m: string, offset: number) => {
    const before = text.slice(Math.max(0, offset - 256), offset);
    return /:\/\/[^\s/@]*$/.test(before) ? m : EMAIL;
  });
}

/** Every form a secret can take in text: as is, JSON-escaped, URL-encoded. Longest first, so a secret holding another is masked whole. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 3) continue; // too short to mask without mangling ordinary text
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
    forms.add(encodeURIComponent(s));
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Mask secrets (to `***`), secret fields and parameters, URL credentials, tokens, emails and phone numbers. Idempotent. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  const masked = redact(text, secretForms(secrets))
    .replace(SLACK_HOOK, `$1${REDACTED}`)
    .replace(URL_CREDENTIALS, `$1:${REDACTED}@`)
    .replace(SECRET_FIELD, `$1"${SECRET_MARK}"`)
    .replace(SECRET_PARAM, `$1$2${REDACTED}`)
    .replace(JWT, TOKEN)
    .replace(BEARER, `$1 ${TOKEN}`)
    .replace(API_KEY, TOKEN);
  return emails(masked).replace(PHONE_INTL, PHONE).replace(PHONE_FR, PHONE);
}

/** Is this field name one whose value is always a secret (`password`, `apiKey`, `Authorization`...)? */
export function isSecretName(name: string): boolean {
  return SECRET_NAME_RE.test(name);
}

/**
 * A copy of `value` with every string redacted (redactText), and the string values of secret-named
 * fields replaced by `***`. Numbers, booleans and null stay; keys stay; Dates become ISO strings.
 */
export function redactDeep<T>(value: T, secrets: readonly string[] = []): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, secrets);
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = typeof x === 'string' && isSecretName(k) ? SECRET_MARK : walk(x);
    return out;
  };
  return walk(value) as T;
}
