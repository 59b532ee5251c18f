/**
 * The one masker for everything cutover shows or writes (command output, error tails, summaries,
 * --json, probe excerpts, reports, notifications): the environment's secrets, secret-looking
 * fields and assignments, credentials in URLs, webhook URLs, tokens and keys (AWS, PEM private
 * keys), and the PII a service may echo back (emails, phone numbers), as the seeds check for
 * `[EMAIL]` and `[PHONE]`.
 *
 * Linear on any input: no pattern has two unbounded quantifiers that can share characters, names
 * are read with a bounded length and checked by code, and each pattern can start only where its
 * first run of characters starts. A 256 KB adversarial input takes milliseconds (bench/redact.ts).
 *
 * Left alone on purpose: IP addresses (IPv4 and IPv6 are host addresses, needed in every report),
 * versions (v1.2.3), timestamps, sha256 hashes, commit ids, run ids, `user@machine` without a domain.
 */
import { redact } from '../commands/shell.ts';

/** What a known secret value (and a secret-named field) becomes: the same mark as commands and history use. */
export const SECRET_MARK = '***';
export const REDACTED = '[REDACTED]';
export const EMAIL = '[EMAIL]';
export const PHONE = '[PHONE]';
export const TOKEN = '[TOKEN]';

const SECRET_WORDS = ['password', 'passwd', 'secret', 'token', 'api_key', 'api-key', 'apikey', 'authorization'];
/** Only as a whole parameter name (`?sig=...`, `pwd=...`): as parts of words they mean other things. */
const PARAM_ONLY = new Set(['pwd', 'sig', 'signature']);

// "name": "value" (JSON); the name is read with a bounded length and judged by isSecretName
const JSON_FIELD = /"([\w-]{1,128})"(\s{0,64}:\s{0,64})"((?:[^"\\]|\\.)*)"/g;
// name=value, name: value, name = 'value' (env files, YAML, logs, query strings): the name starts a word
const ASSIGNMENT =
  /(?<![\w-])([A-Za-z_][\w-]{0,127})([ \t]{0,64}[:=][ \t]{0,64})((?:Bearer|Basic|Token|Digest)[ \t]+[^\s"'<>,;&]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"'<>,;&]+)/gi;
const SCHEME_VALUE = /^(Bearer|Basic|Token|Digest)[ \t]+(.*)$/i;
// words that say something about a secret without being one (`AWS_SECRET_ACCESS_KEY: not set`)
const NOT_A_VALUE = /^(?:set|unset|not|none|null|nil|true|false|yes|no|required|missing|empty|given|\*+|\[[A-Z]+\])$/i;
// scheme://user:password@host: the password runs to the LAST @ of the authority (a password may hold @)
const URL_CREDENTIALS = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/?#@]{0,256}):([^\s/?#]*)@/gi;
const SLACK_HOOK = /(https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/)[\w/-]+/gi;
const DISCORD_HOOK = /(https:\/\/(?:(?:ptb|canary)\.)?discord(?:app)?\.com\/api(?:\/v\d{1,2})?\/webhooks\/)[^\s"'<>]+/gi;
const TEAMS_HOOK = /(https:\/\/(?:[a-z0-9-]{1,63}\.webhook\.office\.com\/webhookb2\/|outlook\.office(?:365)?\.com\/webhook\/))[^\s"'<>]+/gi;
// the body of a PEM private key, to its END line (or to the end of the text when cut off)
const PEM_KEY = /(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----)[\s\S]*?(-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|$)/g;
// an AWS secret access key after its name, in env files, YAML, JSON, XML (STS answers), CLI output
const AWS_SECRET = /(aws_secret_access_key|secret_access_key|secretaccesskey)([\s"':=>]{1,16})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/gi;
// a credential after the scheme: 16+ characters, or 8+ with a digit ("Bearer authentication" stays)
const BEARER = /\b(Bearer|bearer|BEARER|Basic)\s+(?:[A-Za-z0-9._~+/-]{16,}|(?=[A-Za-z._~+/-]{0,256}\d)[A-Za-z0-9._~+/-]{8,})=*/g;
const JWT = /(?<![\w-])eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/g;
// well-known key formats: OpenAI/Stripe sk-, GitHub, Slack, AWS access key ids (long-term AKIA, temporary ASIA), Google API keys
const API_KEY =
  /(?<![\w-])(?:sk-(?:proj-)?[A-Za-z0-9_-]{16,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|A(?:KIA|SIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})(?![\w-])/g;
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

function assignment(m: string, name: string, sep: string, value: string): string {
  const paramOnly = PARAM_ONLY.has(name.toLowerCase()) && sep.trim() === '=';
  if (!paramOnly && !isSecretName(name)) return m;
  const scheme = SCHEME_VALUE.exec(value);
  if (scheme) return `${name}${sep}${scheme[1]} ${scheme[2] === TOKEN ? TOKEN : REDACTED}`;
  if (NOT_A_VALUE.test(value)) return m;
  return `${name}${sep}${REDACTED}`;
}

/** Mask secrets (to `***`), secret fields and assignments, URL credentials, webhooks, keys and tokens, emails and phone numbers. Idempotent. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  const masked = redact(text, secretForms(secrets))
    .replace(PEM_KEY, `$1${REDACTED}$2`)
    .replace(SLACK_HOOK, `$1${REDACTED}`)
    .replace(DISCORD_HOOK, `$1${REDACTED}`)
    .replace(TEAMS_HOOK, `$1${REDACTED}`)
    .replace(URL_CREDENTIALS, (m: string, head: string, pw: string) => (pw === SECRET_MARK || pw === REDACTED ? m : `${head}:${REDACTED}@`))
    .replace(AWS_SECRET, `$1$2${TOKEN}`)
    .replace(JSON_FIELD, (m: string, name: string, sep: string) => (isSecretName(name) ? `"${name}"${sep}"${SECRET_MARK}"` : m))
    .replace(JWT, TOKEN)
    .replace(BEARER, `$1 ${TOKEN}`)
    .replace(API_KEY, TOKEN)
    .replace(ASSIGNMENT, assignment);
  return emails(masked).replace(PHONE_INTL, PHONE).replace(PHONE_FR, PHONE);
}

/** Is this field name one whose value is always a secret (`password`, `apiKey`, `Authorization`, `PGPASSWORD`...)? */
export function isSecretName(name: string): boolean {
  if (name.length > 128 || !/^[\w-]+$/.test(name)) return false;
  const n = name.toLowerCase().replaceAll('tokens', ''); // max_tokens, total_tokens: counts, not secrets
  return SECRET_WORDS.some((w) => n.includes(w));
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
