// canary instances mode: what the schema refuses, the second instance's commands (exact), the URLs verify uses for it.
import { describe, expect, it } from 'vitest';
import { instance, parseInstance } from '../../tasks/lib/commands/instance.ts';
import { formatIssues } from '../../tasks/lib/config/issues.ts';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { blindGates } from '../../tasks/lib/canary/instance.ts';
import { withPort } from '../../tasks/lib/probes/http.ts';
import { SignalsConfig } from '../../tasks/lib/config/signals.ts';
import local from '../../environments/local.ts';

const problems = (input: unknown) => {
  const r = Environment.safeParse(input);
  return r.success ? [] : formatIssues('environments/x.ts', r.error.issues);
};

const nginx = { address: '127.0.0.1', transport: 'local', include: '/etc/nginx/conf.d/app-upstream.conf', upstream: 'app', appPort: 8001 };

describe('canary mode instances in the environment', () => {
  it('one host on the releases strategy, nginx and the second instance given, a port of its own', () => {
    const releases = { ...local.app, strategy: 'releases' as const };
    const ok = { ...local, app: releases, canary: { mode: 'instances', nginx, instance: { unit: 'app-canary', port: 8002 } } };
    expect(problems(ok)).toEqual([]);
    expect(problems({ ...local, canary: { mode: 'instances', nginx, instance: { unit: 'app canary', port: 8001 } } })).toEqual([
      'environments/x.ts: canary.instance.unit: must be a systemd unit name',
      "environments/x.ts: canary.instance.port: is 8001, the stable instance's port (canary.nginx.appPort): give the second instance a port of its own",
      "environments/x.ts: app.strategy: is 'in-place': canary mode 'instances' needs 'releases' (the second instance runs from its own release folder)",
    ]);
    expect(problems({ ...local, app: releases, canary: { mode: 'instances' } })).toEqual([
      "environments/x.ts: canary.nginx: is required with mode 'instances' (the nginx that splits between the two instances)",
      "environments/x.ts: canary.instance: is required with mode 'instances' (the second instance's unit and port)",
    ]);
    const one = (local.hosts as { name: string }[])[0]!;
    const two = [one, { ...one, name: 'sandbox-2' }];
    expect(problems({ ...ok, hosts: two })).toEqual([
      "environments/x.ts: hosts: lists 2 hosts: canary mode 'instances' is for one host (a fleet: mode 'nginx' or 'subset')",
    ]);
  });
});

describe('the second instance (exact commands)', () => {
  const spec = { root: '/srv/app', link: 'canary', unit: 'chat-canary', sudo: true };

  it('start: the link switched atomically, only its unit restarted, waited for until active', () => {
    expect(instance.start(spec, "20261201T000000Z_v1.1.0", 15).script).toBe(
      [
        'date +%s.%N',
        'ln -sfn releases/20261201T000000Z_v1.1.0 /srv/app/canary.new && mv -T /srv/app/canary.new /srv/app/canary && sudo -n systemctl restart -- chat-canary',
        '[ $? = 0 ] || exit 4',
        'end=$((SECONDS + 15))',
        'while :; do',
        '  s=$(systemctl is-active -- chat-canary) && break',
        `  if [ "$s" = failed ] || [ "$SECONDS" -ge "$end" ]; then printf '\\036state %s\\n' "$s"; exit 3; fi`,
        '  sleep 0.2',
        'done',
        `printf '\\036state %s\\n' "$s"`,
      ].join('\n'),
    );
    // every value quoted once: a link or unit with a space stays one word
    expect(instance.start({ ...spec, root: '/srv/my app', sudo: false }, 'r', 1).script).toContain("ln -sfn releases/r '/srv/my app/canary.new' && mv -T '/srv/my app/canary.new' '/srv/my app/canary' && systemctl restart -- chat-canary");
    expect(() => instance.start(spec, 'r', 0)).toThrow(/waitSec/);
  });

  it('stop: the unit stopped, its link removed, confirmed not active; facts are read-only', () => {
    expect(instance.stop(spec).script).toBe(
      [
        'sudo -n systemctl stop -- chat-canary || exit $?',
        'rm -f -- /srv/app/canary',
        's=$(systemctl is-active -- chat-canary)',
        `printf '\\036state %s\\n' "$s"`,
        '[ "$s" != active ] || exit 3',
      ].join('\n'),
    );
    expect(instance.facts(spec).readOnly).toBe(true);
    expect(instance.stop(spec).readOnly).toBeFalsy();
    expect(parseInstance('noise\n\x1estate inactive\n\x1elink 20261201T000000Z_v1.1.0\n')).toEqual({ state: 'inactive', link: '20261201T000000Z_v1.1.0' });
    expect(parseInstance('')).toEqual({ state: null, link: null });
  });
});

describe('withPort: the URLs verify uses for the second instance', () => {
  it('replaces or adds the port, keeps the rest', () => {
    expect(withPort('http://{host}:8001/api/v1/health', 8002)).toBe('http://{host}:8002/api/v1/health');
    expect(withPort('http://{host}/api/v1/health?x=1', 8002)).toBe('http://{host}:8002/api/v1/health?x=1');
    expect(withPort('https://user:pw@10.0.0.5:443/h', 9443)).toBe('https://user:pw@10.0.0.5:9443/h');
    expect(withPort('http://[::1]:8001/h', 8002)).toBe('http://[::1]:8002/h');
    expect(withPort('http://{host}:8001', 8002)).toBe('http://{host}:8002');
  });
});

describe('blindGates: sources that cannot tell two instances of one host apart', () => {
  it('names the gates over a log split by host; nginx upstreams, version fields and Prometheus can', () => {
    const signals = SignalsConfig.parse({
      sources: {
        app: { kind: 'jsonl', path: '/l/p.jsonl' },
        byVersion: { kind: 'jsonl', path: '/l/p.jsonl', cohortBy: { field: 'version' } },
        lb: { kind: 'nginx', path: '/var/log/nginx/a.json' },
        prom: { kind: 'prometheus', url: 'http://127.0.0.1:9090' },
      },
      metrics: {
        errors: { kind: 'errorRate', source: 'app' },
        vErrors: { kind: 'errorRate', source: 'byVersion' },
        lbErrors: { kind: 'errorRate', source: 'lb' },
        q: { kind: 'query', source: 'prom', query: 'up{job="{cohort}"}' },
      },
      gates: [
        { name: 'errors', metric: 'errors', max: 5 },
        { name: 'v', metric: 'vErrors', max: 5 },
        { name: 'lb', metric: 'lbErrors', max: 5 },
        { name: 'up', metric: 'q', min: 1 },
      ],
    });
    expect(blindGates(signals, undefined)).toEqual(["errors (metric errors, source app: cohortBy 'host')"]);
    expect(blindGates(signals, ['v', 'lb', 'up'])).toEqual([]);
  });
});
