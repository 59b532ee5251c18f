import { describe, expect, it } from 'vitest';
import { fleetLayout } from '../../sandbox/fleet-layout.ts';
import { JSON_LOG_FORMAT, nginxCommands, nginxConf, nginxFiles, upstreamConf } from '../../sandbox/nginx.ts';
import { sandboxRootOf } from '../../sandbox/provision.ts';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { NGINX_JSON_LOG_FORMAT } from '../support/nginx.ts';

describe('the canary fleet layout', () => {
  it('one shared path (the mount target) holding app.path; each host its own folder mounted there', () => {
    const l = fleetLayout('/c/.sandbox-canary');
    expect([l.shared, l.appPath, l.logDir, l.origin, l.nginxDir]).toEqual([
      '/c/.sandbox-canary/srv', '/c/.sandbox-canary/srv/app', '/c/.sandbox-canary/srv/logs', '/c/.sandbox-canary/origin.git', '/c/.sandbox-canary/nginx',
    ]);
    expect(l.hosts).toEqual(['a', 'b', 'c'].map((x, i) => ({
      name: `sandbox-${x}`, address: `127.0.10.${i + 1}`, hostRoot: `/c/.sandbox-canary/hosts/sandbox-${x}`, bin: `/c/.sandbox-canary/hosts/sandbox-${x}/bin`,
      mountSource: `/c/.sandbox-canary/hosts/sandbox-${x}/srv`, appDir: `/c/.sandbox-canary/hosts/sandbox-${x}/srv/app`,
    })));
  });

  it('a process of the fleet (its service works in the shared app path, nginx in its folder) is traced to the clone', () => {
    expect(sandboxRootOf('/c/.sandbox-canary/srv/app')).toBe('/c/.sandbox-canary');
    expect(sandboxRootOf('/c/.sandbox-canary/nginx')).toBe('/c/.sandbox-canary');
    expect(sandboxRootOf('/c/.sandbox/host/app')).toBe('/c/.sandbox');
    expect(sandboxRootOf('/c/.sandboxes/x')).toBe(null);
  });
});

describe('the fleet\'s nginx', () => {
  const files = nginxFiles('/c/.sandbox-canary/nginx');

  it('nginx.conf: one worker, every file in its folder, the canary\'s include, the JSON access log', () => {
    expect(nginxConf({ files, port: 18180, asRoot: true })).toBe(`# written by the cutover sandbox (sandbox/nginx.ts); the upstream is in upstream.conf, which the canary rewrites
user root root;
worker_processes 1;
pid "/c/.sandbox-canary/nginx/nginx.pid";
error_log "/c/.sandbox-canary/nginx/error.log" warn;
events { worker_connections 1024; }
http {
  ${NGINX_JSON_LOG_FORMAT}
  access_log "/c/.sandbox-canary/nginx/access.json" cutover_json;
  client_body_temp_path "/c/.sandbox-canary/nginx/tmp/client_body";
  proxy_temp_path "/c/.sandbox-canary/nginx/tmp/proxy";
  fastcgi_temp_path "/c/.sandbox-canary/nginx/tmp/fastcgi";
  uwsgi_temp_path "/c/.sandbox-canary/nginx/tmp/uwsgi";
  scgi_temp_path "/c/.sandbox-canary/nginx/tmp/scgi";
  include "/c/.sandbox-canary/nginx/upstream.conf";
  server {
    listen 127.0.0.1:18180;
    location = /__cutover_lb { access_log off; return 200 "ok\\n"; }
    location / { proxy_pass http://demo_chat; proxy_next_upstream off; proxy_set_header Host $host; }
  }
}
`);
    expect(nginxConf({ files, port: 18180, asRoot: false })).not.toContain('user ');
    expect(nginxConf({ files: nginxFiles('/my "odd" \\dir'), port: 1, asRoot: false })).toContain('pid "/my \\"odd\\" \\\\dir/nginx.pid";');
  });

  it('the access log format is the one the signals read (test/support/nginx.ts)', () => {
    expect(JSON_LOG_FORMAT).toBe(NGINX_JSON_LOG_FORMAT);
  });

  it('upstream.conf: one block, a server per host with its weight', () => {
    expect(upstreamConf([{ address: '127.0.10.1:18101', weight: 1 }, { address: '127.0.10.2:18101', weight: 4 }])).toBe(
      'upstream demo_chat {\n    server 127.0.10.1:18101 weight=1;\n    server 127.0.10.2:18101 weight=4;\n}\n',
    );
  });

  it('the canary\'s test and reload commands name this folder, every path quoted once', () => {
    expect(nginxCommands('/usr/sbin/nginx', files)).toEqual({
      test: '/usr/sbin/nginx -t -q -p /c/.sandbox-canary/nginx -c /c/.sandbox-canary/nginx/nginx.conf',
      reload: '/usr/sbin/nginx -s reload -p /c/.sandbox-canary/nginx -c /c/.sandbox-canary/nginx/nginx.conf',
    });
    expect(nginxCommands('/usr/sbin/nginx', nginxFiles("/my clone's/.sandbox-canary/nginx")).test).toBe(
      "/usr/sbin/nginx -t -q -p '/my clone'\\''s/.sandbox-canary/nginx' -c '/my clone'\\''s/.sandbox-canary/nginx/nginx.conf'",
    );
  });
});

describe('environments/local-canary.ts', () => {
  const opts = { root: '/c/.sandbox-canary', pgDir: '/c/.sandbox/pg', appPort: 18101, pgPort: 54329, nginxPort: 18180, withDatabase: true };

  it('with nginx: mode nginx over the include the sandbox writes; nginx\'s access log judged per upstream', async () => {
    const { localCanary } = await import('../../environments/local-canary.ts');
    const env = Environment.parse(localCanary({ ...opts, nginx: '/usr/sbin/nginx' }));
    expect(env.canary).toMatchObject({
      mode: 'nginx', steps: [20, 50, 100], bake: [30_000, 10_000, 10_000], interval: 2000, canaryHosts: 1, cohortBy: 'upstream',
      gates: ['errors', 'errors-vs-stable', 'p95-latency', 'p95-vs-stable', 'app-errors-vs-stable'],
      nginx: { transport: 'local', address: '127.0.0.1', include: '/c/.sandbox-canary/nginx/upstream.conf', upstream: 'demo_chat', appPort: 18101 },
    });
    expect(env.signals!.sources.lb).toMatchObject({ kind: 'nginx', path: '/c/.sandbox-canary/nginx/access.json', on: 'local', cohortBy: { field: 'upstream' } });
    expect(env.signals!.cohorts).toEqual({ canary: ['sandbox-a', '127.0.10.1:18101'], stable: ['sandbox-b', 'sandbox-c', '127.0.10.2:18101', '127.0.10.3:18101'] });
    expect(env.signals!.gates.find((g) => g.name === 'errors-vs-stable')).toMatchObject({ metric: 'lb-errors', maxIncreasePct: 50 });
    expect(env.signals!.traffic!.request.url).toBe('http://127.0.0.1:18180/api/v1/conversation/chat');
    expect(env.app.path).toBe('/c/.sandbox-canary/srv/app');
    const hosts = env.hosts as { name: string; mount?: { source: string; target: string } }[];
    expect(hosts.map((h) => h.mount)).toEqual(['a', 'b', 'c'].map((x) => ({ source: `/c/.sandbox-canary/hosts/sandbox-${x}/srv`, target: '/c/.sandbox-canary/srv' })));
  });

  it('without nginx: the fleet still runs, the canary is `subset`, traffic goes to the hosts, and the sandbox still gets the port (to say how to install nginx)', async () => {
    const { localCanary } = await import('../../environments/local-canary.ts');
    const env = Environment.parse(localCanary({ ...opts, nginx: null }));
    expect(env.canary).toMatchObject({ mode: 'subset', steps: [20, 50, 100], cohortBy: 'host' });
    expect(env.canary!.nginx).toBeUndefined();
    expect(Object.keys(env.signals!.sources)).toEqual(['requests']);
    expect(env.signals!.traffic!.request.url).toBe('http://{host}:18101/api/v1/conversation/chat');
    expect(env.sandbox).toMatchObject({ kind: 'fleet', nginxPort: 18180 });
  });
});
