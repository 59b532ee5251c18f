import { describe, expect, it } from 'vitest';
import { isSecretName, redactDeep, redactText } from '../../tasks/lib/reports/redact.ts';
import { lineRedactor, MAX_LINE } from '../../tasks/lib/reports/redact-lines.ts';
import { excerpt, mask } from '../../tasks/lib/probes/text.ts';

describe('redactText: secrets of the environment', () => {
  it('every occurrence, JSON-escaped and URL-encoded forms too, longest first', () => {
    expect(redactText('pw=s3cr3t-Value and again s3cr3t-Value', ['s3cr3t-Value'])).toBe('pw=*** and again ***');
    expect(redactText('{"note":"a\\"b\\\\c"}', ['a"b\\c'])).toBe('{"note":"***"}');
    expect(redactText('https://h.invalid/x?k=p%40ss%2Fw0rd', ['p@ss/w0rd'])).toBe('https://h.invalid/x?k=***');
    expect(redactText('abc-long and abc', ['abc', 'abc-long'])).toBe('*** and ***');
  });
  it('secrets shorter than 3 characters are not masked (they would mangle ordinary text)', () => {
    expect(redactText('a 12 b', ['12'])).toBe('a 12 b');
  });
});

describe('redactText: credentials and tokens', () => {
  it('credentials in URLs keep the user, mask the password', () => {
    expect(redactText('DATABASE_URL=postgres://app:hunter2@db.internal:5432/prod')).toBe('DATABASE_URL=postgres://app:[REDACTED]@db.internal:5432/prod');
    expect(redactText('git clone https://deploy:ghx-123@git.example.com/org/r.git')).toBe('git clone https://deploy:[REDACTED]@git.example.com/org/r.git');
    expect(redactText('postgres://app@127.0.0.1:5432/prod')).toBe('postgres://app@127.0.0.1:5432/prod');
  });
  it('a known secret in a URL password is masked as every known secret is (***), the user stays readable', () => {
    expect(redactText('postgres://app:Pa55word@db/x', ['Pa55word'])).toBe('postgres://app:***@db/x');
  });
  it('secret-named JSON fields and parameters', () => {
    expect(redactText('{"user":"a","password":"p4ss","api_key":"k\\"y","accessToken":"z","Authorization":"Basic xyz"}')).toBe(
      '{"user":"a","password":"***","api_key":"***","accessToken":"***","Authorization":"***"}',
    );
    expect(redactText('GET /cb?code=1&access_token=abc.def&state=2')).toBe('GET /cb?code=1&access_token=[REDACTED]&state=2');
    expect(redactText('login failed password=hunter2 user=bob')).toBe('login failed password=[REDACTED] user=bob');
  });
  it('bearer tokens, JWTs, well-known API key formats', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(redactText(`Authorization: Bearer ${jwt}`)).toBe('Authorization: Bearer [TOKEN]');
    expect(redactText(`token ${jwt} expired`)).toBe('token [TOKEN] expired');
    expect(redactText('header: Bearer abc123def456')).toBe('header: Bearer [TOKEN]');
    expect(redactText('Basic dXNlcjpwYXNzd29yZA==')).toBe('Basic [TOKEN]');
    expect(redactText('key sk-proj-AbCdEfGh12345678IjKl and AKIAIOSFODNN7EXAMPLE')).toBe('key [TOKEN] and [TOKEN]');
    expect(redactText('gh: ghp_0123456789abcdefghijABCDEFGHIJ012345; slack xoxb-1234567890-abcdefghij')).toBe('gh: [TOKEN]; slack [TOKEN]');
    expect(redactText('https://hooks.slack.com/services/T000/B000/XXXXXXXX')).toBe('https://hooks.slack.com/services/[REDACTED]');
  });
  it('words near the schemes are not tokens', () => {
    expect(redactText('Bearer authentication failed; Basic auth disabled')).toBe('Bearer authentication failed; Basic auth disabled');
  });
});

describe('redactText: PII echoed by the service', () => {
  it('emails', () => {
    expect(redactText('{"response_text":"Écrivez à marie.dupont+banque@exemple.fr ou support@harena.io."}')).toBe(
      '{"response_text":"Écrivez à [EMAIL] ou [EMAIL]."}',
    );
  });
  it('phone numbers: international and French formats', () => {
    expect(redactText('appelez le +33 6 12 34 56 78 ou le 06 12 34 56 78')).toBe('appelez le [PHONE] ou le [PHONE]');
    expect(redactText('+33612345678, 0612345678, 06.12.34.56.78, 06-12-34-56-78, 0033 6 12 34 56 78')).toBe('[PHONE], [PHONE], [PHONE], [PHONE], [PHONE]');
    expect(redactText('US: +1 415 555 0100; UK: +44 20 7946 0958.')).toBe('US: [PHONE]; UK: [PHONE].');
  });
  it('idempotent: redacting twice changes nothing more', () => {
    const once = redactText('a@b.fr +33 6 12 34 56 78 postgres://u:p@h/d Bearer abc123def456 s3cret', ['s3cret']);
    expect(once).toBe('[EMAIL] [PHONE] postgres://u:[REDACTED]@h/d Bearer [TOKEN] ***');
    expect(redactText(once, ['s3cret'])).toBe(once);
  });
});

describe('redactText: ordinary values stay as they are', () => {
  it('versions, timestamps, hashes, run ids, durations, sizes', () => {
    const text = [
      'v1.2.3 -> v3.2.6.2 (tag v1.4.0-rc.1)',
      '2026-01-02T03:04:05.678Z 2026-01-02 03:04:05+01:00 01-02-2026 12:30',
      '20260101T000000Z_v1.0.0_to_v1.1.0.dump run 20261121T211305Z-a1b2c3',
      'sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'p95 1234 ms, 15.0 s, 1767225600000000 us, size 104857600 bytes, pid 4242',
      'commit 0123456789abcdef0123456789abcdef01234567, instance i-0147cf4bfd894e87d',
    ].join('\n');
    expect(redactText(text)).toBe(text);
  });
  it('IP addresses are host addresses, not PII: kept (IPv4 and IPv6)', () => {
    const text = 'http://127.0.0.1:8001/api/v1/health 10.0.1.12 52.210.228.191 [::1]:22 fe80::1 2001:db8::8a2e:370:7334';
    expect(redactText(text)).toBe(text);
  });
  it('user@machine (the deployer), ssh and scp-like git addresses are not emails', () => {
    const text = 'by root@build-7, repo git@github.com:org/app.git, ssh://git@github.com/org/app.git';
    expect(redactText(text)).toBe(text);
  });
});

describe('redactDeep', () => {
  it('every string, at any depth; secret-named fields whatever they hold; other types untouched', () => {
    const input = {
      title: 'deploy by ops@example.com',
      n: 3,
      ok: true,
      none: null,
      at: new Date('2026-01-02T03:04:05.000Z'),
      rows: [{ host: 'web-1', why: 'echoed 06 12 34 56 78' }, 'tok s3cret'],
      nested: { password: 'anything', apiKey: 'x', dbPassword: 12, url: 'postgres://u:pw@h/d' },
    };
    expect(redactDeep(input, ['s3cret'])).toEqual({
      title: 'deploy by [EMAIL]',
      n: 3,
      ok: true,
      none: null,
      at: '2026-01-02T03:04:05.000Z',
      rows: [{ host: 'web-1', why: 'echoed [PHONE]' }, 'tok ***'],
      nested: { password: '***', apiKey: '***', dbPassword: 12, url: 'postgres://u:[REDACTED]@h/d' },
    });
    expect(input.title).toBe('deploy by ops@example.com'); // a copy: the input is not changed
  });
  it('isSecretName', () => {
    expect(['password', 'DB_PASSWORD', 'apiKey', 'api-key', 'client_secret', 'Authorization', 'refreshToken'].map(isSecretName)).toEqual([true, true, true, true, true, true, true]);
    expect(['user', 'sha256', 'runId', 'commandId', 'host'].map(isSecretName)).toEqual([false, false, false, false, false]);
  });
});

describe('probe text goes through the same masker', () => {
  it('mask and excerpt mask PII in what the service answered', () => {
    expect(mask('{"response_text":"Contactez jean@exemple.fr au 06 12 34 56 78"}')).toBe('{"response_text":"Contactez [EMAIL] au [PHONE]"}');
    expect(excerpt('line 1 jean@exemple.fr\n  line 2 +33 6 12 34 56 78', [], 40)).toBe('line 1 [EMAIL] line 2 [PHONE]');
  });
});

describe('redactText: secrets in environment files, YAML, logs and keys', () => {
  it('PGPASSWORD= and other secret-named assignments, quoted or not', () => {
    expect(redactText('PGPASSWORD=hunter2 psql -h db')).toBe('PGPASSWORD=[REDACTED] psql -h db');
    expect(redactText("export PGPASSWORD='my pass' && DB_PASSWORD=\"x y\" MY_API_KEY=abc123")).toBe(
      'export PGPASSWORD=[REDACTED] && DB_PASSWORD=[REDACTED] MY_API_KEY=[REDACTED]',
    );
    expect(redactText('GITHUB_TOKEN = ghx9 ; client_secret=zz')).toBe('GITHUB_TOKEN = [REDACTED] ; client_secret=[REDACTED]');
    expect(redactText('?sig=abc&pwd=def&x=1')).toBe('?sig=[REDACTED]&pwd=[REDACTED]&x=1');
  });
  it('password: x (YAML and log style), Authorization headers', () => {
    expect(redactText('database:\n  user: app\n  password: s3cr3t!\n  host: db')).toBe('database:\n  user: app\n  password: [REDACTED]\n  host: db');
    expect(redactText("login password: 'a b c' for bob")).toBe('login password: [REDACTED] for bob');
    expect(redactText('{password: x, user: y}')).toBe('{password: [REDACTED], user: y}');
    expect(redactText('Authorization: Basic dXNlcjpw')).toBe('Authorization: Basic [REDACTED]');
    expect(redactText('authorization: Token abc')).toBe('authorization: Token [REDACTED]');
  });
  it('words about a secret are not secrets; counts of tokens are not tokens; commands that read a password are left', () => {
    const text = [
      'environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set',
      'password: required, token: missing',
      '"usage": {"total_tokens": 57}, max_tokens: 512, tokens=40',
      'IFS= read -r PGPASSWORD && export PGPASSWORD && psql',
      'secrets go on stdin; the token expired',
    ].join('\n');
    expect(redactText(text)).toBe(text);
  });
  it('AWS secret access keys after their name, and access key ids (long-term AKIA, temporary ASIA)', () => {
    const k = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    expect(redactText(`aws_secret_access_key = ${k}`)).toBe('aws_secret_access_key = [TOKEN]');
    expect(redactText(`AWS_SECRET_ACCESS_KEY=${k}`)).toBe('AWS_SECRET_ACCESS_KEY=[TOKEN]');
    expect(redactText(`{"SecretAccessKey": "${k}"}`)).toBe('{"SecretAccessKey": "***"}');
    expect(redactText(`<SecretAccessKey>${k}</SecretAccessKey>`)).toBe('<SecretAccessKey>[TOKEN]</SecretAccessKey>');
    expect(redactText('ids AKIAIOSFODNN7EXAMPLE ASIAY34FZKBOKMUTVV7A')).toBe('ids [TOKEN] [TOKEN]');
  });
  it('PEM private keys, whole blocks, cut-off blocks, and escaped in JSON', () => {
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n';
    expect(redactText(`key:\n-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\ndone`)).toBe(
      'key:\n-----BEGIN PRIVATE KEY-----[REDACTED]-----END PRIVATE KEY-----\ndone',
    );
    expect(redactText(`-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n`)).toBe('-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]');
    expect(redactText(JSON.stringify({ k: `-----BEGIN RSA PRIVATE KEY-----\n${body}-----END RSA PRIVATE KEY-----\n` }))).toBe(
      '{"k":"-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\\n"}',
    );
    expect(redactText('-----BEGIN PUBLIC KEY-----\nMFkwEw\n-----END PUBLIC KEY-----')).toBe('-----BEGIN PUBLIC KEY-----\nMFkwEw\n-----END PUBLIC KEY-----');
  });
  it('Slack, Discord and Teams webhook URLs', () => {
    expect(redactText('https://hooks.slack.com/services/T000/B000/XXXXXXXX')).toBe('https://hooks.slack.com/services/[REDACTED]');
    expect(redactText('POST https://discord.com/api/webhooks/123456789/AbC-dEf_ghI failed')).toBe('POST https://discord.com/api/webhooks/[REDACTED] failed');
    expect(redactText('https://discordapp.com/api/v10/webhooks/1/x')).toBe('https://discordapp.com/api/v10/webhooks/[REDACTED]');
    expect(redactText('https://contoso.webhook.office.com/webhookb2/aaaa-bbb@cccc/IncomingWebhook/dd/ee')).toBe(
      'https://contoso.webhook.office.com/webhookb2/[REDACTED]',
    );
    expect(redactText('https://outlook.office.com/webhook/abc/IncomingWebhook/def')).toBe('https://outlook.office.com/webhook/[REDACTED]');
  });
  it('a URL password holding @ is masked whole', () => {
    expect(redactText('postgres://app:p@ss@db.internal:5432/prod')).toBe('postgres://app:[REDACTED]@db.internal:5432/prod');
    expect(redactText('redis://:a@b@c@cache:6379/0 and https://h.example/x@y')).toBe('redis://:[REDACTED]@cache:6379/0 and https://h.example/x@y');
    expect(redactText('https://host:8443/path@x')).toBe('https://host:8443/path@x');
  });
  it('idempotent on all of the above', () => {
    const text = [
      'PGPASSWORD=x password: y', 'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'ASIAY34FZKBOKMUTVV7A',
      '-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----', 'https://discord.com/api/webhooks/1/x', 'postgres://a:p@s@h/d',
      'Authorization: Bearer abcdefghijklmnopqrstu',
    ].join('\n');
    const once = redactText(text);
    expect(redactText(once)).toBe(once);
  });
});

describe('lineRedactor: streamed output', () => {
  const collect = (chunks: string[], secrets: string[] = []) => {
    const out: string[] = [];
    const r = lineRedactor(secrets, (t) => out.push(t));
    for (const c of chunks) r.push(c);
    r.end();
    return out;
  };
  it('masks a secret split across chunks, line by line', () => {
    expect(collect(['connecting with PGPASS', 'WORD=hun', 'ter2\nok s3c', 'ret\n', 'tail'], ['s3cret'])).toEqual(['connecting with PGPASSWORD=[REDACTED]\n', 'ok ***\n', 'tail']);
  });
  it('passes nothing of a PEM private key on, from its BEGIN line to its END line', () => {
    expect(collect(['a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE', 'pAIBAAKCAQEA\nxyz\n-----END RSA PRIVATE KEY-----\nb\n'])).toEqual([
      'a\n', '-----BEGIN RSA PRIVATE KEY-----[REDACTED]\n', '-----END RSA PRIVATE KEY-----\n', 'b\n',
    ]);
  });
  it('a line longer than MAX_LINE goes out without waiting for its end', () => {
    const out = collect(['x'.repeat(MAX_LINE + 1), 'y\n']);
    expect(out).toEqual(['x'.repeat(MAX_LINE + 1), 'y\n']);
  });
});

describe('redactText on adversarial inputs (its speed is measured by npm run bench -- redact)', () => {
  it('256 KB of `"` and words starting with "password": every secret-looking word masked where it is an assignment, the rest as is', () => {
    const n = 256 * 1024;
    const runOn = `"${'password'.repeat(n / 8)}`;
    expect(redactText(runOn)).toBe(runOn);
    const words = `"${'passwordx '.repeat(n / 10)}`;
    expect(redactText(words)).toBe(words);
    const assigned = `"${'password=x '.repeat(n / 11)}`;
    expect(redactText(assigned)).toBe(`"${'password=[REDACTED] '.repeat(n / 11)}`);
  });
  it('other worst cases come back as they should', () => {
    const n = 64 * 1024;
    const same = [
      'a.'.repeat(n / 2), `http://${'x'.repeat(n)}`, '0123456789abcdef'.repeat(n / 16), `x@${'a.'.repeat(n / 2)}`, 'eyJ-'.repeat(n / 4),
      `-----BEGIN ${'A '.repeat(n / 2)}`, `https://${'a.'.repeat(n / 2)}`, `${'a:'.repeat(n / 2)}`, `"a":${' '.repeat(n)}`,
    ];
    for (const text of same) expect(redactText(text, ['s3cret']), text.slice(0, 20)).toBe(text);
    expect(redactText(JSON.stringify({ a: 'x'.repeat(n) }))).toBe(JSON.stringify({ a: 'x'.repeat(n) }));
    expect(redactText(`{"password":"${'a\\'.repeat(n / 2)}`)).toBe(`{"password":"${'a\\'.repeat(n / 2)}`);
    expect(redactText('+1 1 1 1 1 1 1 1 '.repeat(n / 16))).toBe('[PHONE] '.repeat(n / 16));
    expect(redactText(`-----BEGIN PRIVATE KEY-----${'-----BEGIN PRIVATE KEY-----'.repeat(1000)}`)).toBe('-----BEGIN PRIVATE KEY-----[REDACTED]');
    expect(redactText(`postgres://u:${'@'.repeat(n)}h/d`)).toBe('postgres://u:[REDACTED]@h/d');
  });
});
