// The nginx include file cutover owns, its diff, and what `nginx -T` says about it: exact strings.
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../tasks/lib/config/canary.ts';
import { nginxPlan } from '../../tasks/lib/canary/shift/nginx.ts';
import { dumpFiles, dumpProblems } from '../../tasks/lib/canary/shift/nginx-check.ts';
import { serverAddress, serverProblems, unifiedDiff, upstreamFileText } from '../../tasks/lib/canary/shift/nginx-file.ts';
import { ShiftError } from '../../tasks/lib/canary/shift/types.ts';
import { weightsFor } from '../../tasks/lib/canary/shift/weights.ts';

const stable = [
  { name: 'web-1', address: '10.0.0.4' },
  { name: 'web-2', address: '10.0.0.6' },
  { name: 'web-3', address: 'web-3.internal', port: 9001 },
];
const canary = [{ name: 'web-4', address: '10.0.0.5' }];
const file = (percent: number, label = 'run 20261201T031500Z-a1b2c3, step 1 of 5') =>
  upstreamFileText({ upstream: 'app', appPort: 8001, canary, stable, weights: weightsFor(percent, 1, 3), label });

const HEADER = [
  '# Managed by cutover (canary traffic shifting): rewritten whole at every step and restored on',
  "# rollback. Edits made here are lost; change the environment's `canary` settings instead.",
];

describe('upstreamFileText', () => {
  it('10% on 1 canary + 3 stable hosts', () => {
    expect(file(10)).toBe(
      [
        ...HEADER,
        '# run 20261201T031500Z-a1b2c3, step 1 of 5: 10% asked, 10.0% real',
        'upstream app {',
        '    # stable: 3 servers, weight 3 each',
        '    server 10.0.0.4:8001 weight=3;  # web-1',
        '    server 10.0.0.6:8001 weight=3;  # web-2',
        '    server web-3.internal:9001 weight=3;  # web-3',
        '    # canary: 1 server, weight 1 each',
        '    server 10.0.0.5:8001 weight=1;  # web-4',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('0%: the canary servers are not listed (said in a comment); 100%: the stable ones', () => {
    expect(file(0, 'run R, reset')).toBe(
      [
        ...HEADER,
        '# run R, reset: all traffic to the stable servers',
        'upstream app {',
        '    # stable: 3 servers, weight 1 each',
        '    server 10.0.0.4:8001 weight=1;  # web-1',
        '    server 10.0.0.6:8001 weight=1;  # web-2',
        '    server web-3.internal:9001 weight=1;  # web-3',
        '    # canary: not listed at 0% (web-4 10.0.0.5:8001)',
        '}',
        '',
      ].join('\n'),
    );
    expect(file(100, 'run R, step 5 of 5')).toBe(
      [
        ...HEADER,
        '# run R, step 5 of 5: all traffic to the canary servers',
        'upstream app {',
        '    # stable: not listed at 100% (web-1 10.0.0.4:8001, web-2 10.0.0.6:8001, web-3 web-3.internal:9001)',
        '    # canary: 1 server, weight 1 each',
        '    server 10.0.0.5:8001 weight=1;  # web-4',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('an inexact split says so in the header', () => {
    const hosts = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ name: `${p}${i}`, address: `10.1.0.${i + 1}` }));
    const text = upstreamFileText({ upstream: 'app', appPort: 80, canary: hosts(20, 'c'), stable: hosts(19, 's'), weights: weightsFor(10, 20, 19), label: 'run R, step 1 of 5' });
    expect(text.split('\n')[2]).toBe('# run R, step 1 of 5: 10% asked, 9.98% real');
  });

  it('IPv6 addresses in brackets; a label cannot break out of its comment', () => {
    expect(serverAddress({ name: 'v6', address: '2001:db8::5' }, 8001)).toBe('[2001:db8::5]:8001');
    expect(serverAddress({ name: 'v6', address: '[2001:db8::5]' }, 8001)).toBe('[2001:db8::5]:8001');
    expect(file(10, 'run R\nupstream evil {').split('\n')[2]).toBe('# run R upstream evil {: 10% asked, 10.0% real');
  });

  it('refuses names, addresses and ports that would break the file (nothing written)', () => {
    expect(serverProblems([{ name: 'a b', address: '10.0.0.1;' }, { name: 'ok', address: 'x', port: 70000 }, { name: 'ok2', address: '::1' }], 8001)).toEqual([
      'host name "a b": must be letters, digits, dot, dash or underscore',
      'a b: address "10.0.0.1;" is not a host name or IP address nginx can use in a server line',
      'ok: port 70000 must be between 1 and 65535',
    ]);
    const bad = () => upstreamFileText({ upstream: 'app', appPort: 8001, canary: [{ name: 'c', address: '10.0.0.5 down' }], stable, weights: weightsFor(10, 1, 3), label: 'x' });
    expect(bad).toThrow(ShiftError);
    const twice = () => upstreamFileText({ upstream: 'app', appPort: 8001, canary: [stable[0]!], stable, weights: weightsFor(10, 1, 3), label: 'x' });
    expect(twice).toThrow('cannot write the nginx upstream: web-1 is named twice (a host is either canary or stable)');
    expect(bad).toThrow('cannot write the nginx upstream: c: address "10.0.0.5 down" is not a host name or IP address nginx can use in a server line');
  });
});

describe('unifiedDiff', () => {
  it('from one step to the next: only the lines that change, with context', () => {
    expect(unifiedDiff('/etc/nginx/cutover/app.conf', file(10), file(20, 'run 20261201T031500Z-a1b2c3, step 2 of 5'), { before: 'step 1 of 5', after: 'step 2 of 5' })).toBe(
      [
        '--- /etc/nginx/cutover/app.conf\tstep 1 of 5',
        '+++ /etc/nginx/cutover/app.conf\tstep 2 of 5',
        '@@ -1,11 +1,11 @@',
        ...HEADER.map((l) => ` ${l}`),
        '-# run 20261201T031500Z-a1b2c3, step 1 of 5: 10% asked, 10.0% real',
        '+# run 20261201T031500Z-a1b2c3, step 2 of 5: 20% asked, 20.0% real',
        ' upstream app {',
        '-    # stable: 3 servers, weight 3 each',
        '-    server 10.0.0.4:8001 weight=3;  # web-1',
        '-    server 10.0.0.6:8001 weight=3;  # web-2',
        '-    server web-3.internal:9001 weight=3;  # web-3',
        '-    # canary: 1 server, weight 1 each',
        '-    server 10.0.0.5:8001 weight=1;  # web-4',
        '+    # stable: 3 servers, weight 4 each',
        '+    server 10.0.0.4:8001 weight=4;  # web-1',
        '+    server 10.0.0.6:8001 weight=4;  # web-2',
        '+    server web-3.internal:9001 weight=4;  # web-3',
        '+    # canary: 1 server, weight 3 each',
        '+    server 10.0.0.5:8001 weight=3;  # web-4',
        ' }',
        '',
      ].join('\n'),
    );
  });

  it('a file that does not exist yet comes from /dev/null; equal files give no diff', () => {
    expect(unifiedDiff('/x.conf', null, 'upstream app {\n}\n', { before: 'now', after: 'step 1 of 5' })).toBe('--- /dev/null\tnow\n+++ /x.conf\tstep 1 of 5\n@@ -0,0 +1,2 @@\n+upstream app {\n+}\n');
    expect(unifiedDiff('/x.conf', 'a\n', 'a\n', { before: 'a', after: 'b' })).toBe('');
  });
});

describe('nginxPlan', () => {
  it('the file, its diff, the split and what runs, chained step to step', () => {
    const lb = LoadBalancer.parse({ address: '10.0.0.2', include: '/etc/nginx/cutover/app.conf', upstream: 'app', appPort: 8001, sudo: true });
    const one = nginxPlan(lb, { percent: 10, canary, stable, label: 'run R, step 1 of 5', before: null });
    expect(one).toMatchObject({ mode: 'nginx', percent: 10, real: 10, exact: true, summary: '10% asked, 10.0% real: canary 1 server x weight 1, stable 3 servers x weight 3' });
    expect(one.actions).toEqual(['write /etc/nginx/cutover/app.conf on lb (temporary file, then rename)', 'test: sudo -n nginx -t', 'reload: sudo -n nginx -s reload']);
    expect(one.files[0]).toMatchObject({ host: 'lb', path: '/etc/nginx/cutover/app.conf', before: null, changed: true });
    const two = nginxPlan(lb, { percent: 20, canary, stable, label: 'run R, step 2 of 5', before: one.files[0]!.after, beforeLabel: 'previous step' });
    expect(two.files[0]!.diff.split('\n').slice(0, 2)).toEqual(['--- /etc/nginx/cutover/app.conf\tprevious step', '+++ /etc/nginx/cutover/app.conf\trun R, step 2 of 5']);
  });
});

describe('nginx -T: what nginx loads', () => {
  const dump = (files: Record<string, string>) => Object.entries(files).map(([f, t]) => `# configuration file ${f}:\n${t}\n`).join('\n');
  const main = 'http {\n  include /etc/nginx/cutover/*.conf;\n  server { location / { proxy_pass http://app; } }\n}';
  const ours = 'upstream app {\n    server 10.0.0.4:8001 weight=1;  # web-1\n}';
  const o = { include: '/etc/nginx/cutover/app.conf', upstream: 'app', includeExists: true };

  it('splits the dump by file', () => {
    expect([...dumpFiles(dump({ '/etc/nginx/nginx.conf': main, '/etc/nginx/cutover/app.conf': ours })).keys()]).toEqual(['/etc/nginx/nginx.conf', '/etc/nginx/cutover/app.conf']);
  });

  it('no problem when the include is loaded, the upstream defined only there and used', () => {
    expect(dumpProblems(dump({ '/etc/nginx/nginx.conf': main, '/etc/nginx/cutover/app.conf': ours }), o)).toEqual([]);
    expect(dumpProblems(dump({ '/etc/nginx/nginx.conf': main.replace('http://app;', 'http://app/api/;') }), { ...o, includeExists: false })).toEqual([]);
  });

  it('names an include nginx does not load, a second definition, an upstream nothing sends traffic to', () => {
    expect(dumpProblems(dump({ '/etc/nginx/nginx.conf': main }), o)).toEqual([
      'nginx does not load /etc/nginx/cutover/app.conf: add `include /etc/nginx/cutover/app.conf;` to the http block (nginx loads: /etc/nginx/nginx.conf)',
    ]);
    const twice = main.replace('http {', 'http {\n  upstream app { server 10.0.0.9:80; }');
    expect(dumpProblems(dump({ '/etc/nginx/nginx.conf': twice, '/etc/nginx/cutover/app.conf': ours }), o)).toEqual([
      'upstream app is also defined in /etc/nginx/nginx.conf: cutover must own it alone; move that block\'s servers out (cutover writes them in /etc/nginx/cutover/app.conf)',
    ]);
    const unused = main.replace('proxy_pass http://app;', '# proxy_pass http://app;\n proxy_pass http://application;');
    expect(dumpProblems(dump({ '/etc/nginx/nginx.conf': unused, '/etc/nginx/cutover/app.conf': ours }), o)).toEqual([
      'no `proxy_pass http://app` in the configuration nginx loads: traffic would not go through the upstream cutover writes',
    ]);
    expect(dumpProblems('', o)).toEqual(["nginx's dump of its configuration is empty or unreadable: cannot check that /etc/nginx/cutover/app.conf is loaded"]);
  });
});
