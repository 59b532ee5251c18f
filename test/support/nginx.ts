/**
 * A real nginx (Debian package) on loopback for the tests: a load balancer in front of upstreams
 * with weights, a JSON access log (one object per request, $upstream_addr, $status,
 * $request_time, $upstream_response_time), reloaded gracefully with new upstreams. Every file is
 * in its own folder (`nginx -p DIR -c DIR/nginx.conf`); the master is tracked and stopped by pid.
 */
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../sandbox/postgres.ts';
import { trackProcess, untrackProcess } from './processes.ts';

const exec = promisify(execFile);
export const NGINX = '/usr/sbin/nginx';

export interface NginxUpstream {
  /** host:port */
  readonly address: string;
  readonly weight?: number;
  readonly maxFails?: number;
  readonly failTimeout?: string;
  readonly backup?: boolean;
}

export interface NginxOptions {
  readonly upstreams: readonly NginxUpstream[];
  /** Default a new temporary folder. */
  readonly dir?: string;
  /** Worker processes (default 1: weighted round robin is then exact over each cycle). */
  readonly workers?: number;
  /** Default 127.0.0.1 and a free port. */
  readonly address?: string;
  readonly port?: number;
  /**
   * Load the upstream from this file (or glob) with `include` (the file cutover's nginx shifter
   * owns); `upstreams` are then written inline only when there are any. A glob lets the file be
   * absent; the upstream must still be defined somewhere before nginx starts.
   */
  readonly include?: string;
  /** The upstream's name (default `app`): what `proxy_pass http://NAME` uses. */
  readonly upstreamName?: string;
}

export interface Nginx {
  readonly url: string;
  readonly address: string;
  readonly port: number;
  readonly dir: string;
  /** The JSON access log: one object per request (see NGINX_JSON_LOG_FORMAT). */
  readonly accessLog: string;
  readonly pid: number;
  /** nginx.conf, and the commands that test it and reload it (what canary.nginx `test` / `reload` would be). */
  readonly conf: string;
  readonly testCommand: string;
  readonly reloadCommand: string;
  /** The worker processes' pids, now. */
  workers(): Promise<number[]>;
  /** Waits until every worker is a new one (none of `old`): a reload took effect and the old workers are gone. */
  waitForNewWorkers(old: readonly number[]): Promise<number[]>;
  /** Rewrites the upstreams, checks the config (nginx -t), reloads, and waits until the new config answers. */
  reload(upstreams: readonly NginxUpstream[]): Promise<void>;
  stop(): Promise<void>;
}

/** The JSON access log's fields: what the signals' nginx source reads. */
export const NGINX_JSON_LOG_FORMAT =
  `log_format cutover_json escape=json '{"time":"$time_iso8601","msec":"$msec","method":"$request_method","uri":"$uri",` +
  `"status":$status,"request_time":$request_time,"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",` +
  `"upstream_response_time":"$upstream_response_time","bytes":$body_bytes_sent}';`;

const server = (u: NginxUpstream) =>
  `    server ${u.address}${u.weight !== undefined ? ` weight=${u.weight}` : ''}${u.maxFails !== undefined ? ` max_fails=${u.maxFails}` : ''}` +
  `${u.failTimeout ? ` fail_timeout=${u.failTimeout}` : ''}${u.backup ? ' backup' : ''};`;

/** The whole nginx.conf (pure): everything nginx writes stays inside `dir`. `generation` answers on /__cutover_lb. */
export function nginxConfig(o: {
  dir: string; address: string; port: number; upstreams: readonly NginxUpstream[]; workers: number; generation: number; asRoot: boolean;
  include?: string; upstreamName?: string;
}): string {
  const name = o.upstreamName ?? 'app';
  return [
    ...(o.asRoot ? ['user root root;'] : []),
    `worker_processes ${o.workers};`,
    'daemon off;',
    `pid ${o.dir}/nginx.pid;`,
    `error_log ${o.dir}/error.log warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `  ${NGINX_JSON_LOG_FORMAT}`,
    `  access_log ${o.dir}/access.json cutover_json;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${o.dir}/tmp/${t};`),
    ...(o.upstreams.length || !o.include ? [`  upstream ${name} {`, ...o.upstreams.map(server), '  }'] : []),
    ...(o.include ? [`  include ${o.include};`] : []),
    '  server {',
    `    listen ${o.address}:${o.port};`,
    `    location = /__cutover_lb { access_log off; return 200 "${o.generation}"; }`,
    `    location / { proxy_pass http://${name}; proxy_next_upstream off; proxy_set_header Host $host; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function poll<T>(fn: () => Promise<T | null>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`nginx: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  const dir = path.resolve(opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'cutover-nginx-')));
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const address = opts.address ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(address));
  const conf = path.join(dir, 'nginx.conf');
  const asRoot = process.getuid?.() === 0;
  let generation = 1;
  const write = (upstreams: readonly NginxUpstream[]) =>
    writeFileSync(conf, nginxConfig({ dir, address, port, upstreams, workers: opts.workers ?? 1, generation, asRoot, include: opts.include, upstreamName: opts.upstreamName }));
  write(opts.upstreams);
  await exec(NGINX, ['-t', '-q', '-p', dir, '-c', conf]);
  const child = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const pid = child.pid!;
  const url = `http://${address}:${port}`;
  const answers = (gen: number) => poll(async () => ((await (await fetch(`${url}/__cutover_lb`)).text()) === String(gen) ? true : null), `generation ${gen} to answer${stderr ? ` (${stderr.trim()})` : ''}`);
  try {
    await poll(async () => (child.exitCode === null && (await fetch(`${url}/__cutover_lb`)).ok ? true : null), `nginx to listen on ${url}`);
    trackProcess(pid, { label: `nginx ${url}`, marker: conf, signal: 'SIGQUIT' });
    await answers(generation);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${(err as Error).message} ${stderr}`);
  }
  child.unref();
  (child.stderr as Socket).unref(); // a forgotten server must not keep the worker alive
  const workers = async () => {
    const r = await exec('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }));
    return r.stdout.split('\n').filter(Boolean).map(Number);
  };
  return {
    url,
    address,
    port,
    dir,
    accessLog: path.join(dir, 'access.json'),
    pid,
    conf,
    testCommand: `${NGINX} -t -q -p ${dir} -c ${conf}`,
    reloadCommand: `${NGINX} -s reload -p ${dir} -c ${conf}`,
    workers,
    waitForNewWorkers: (old) =>
      poll(async () => {
        const now = await workers();
        return now.length === (opts.workers ?? 1) && now.every((w) => !old.includes(w)) ? now : null;
      }, 'the reloaded workers (and no old one)'),
    async reload(upstreams) {
      generation++;
      write(upstreams);
      await exec(NGINX, ['-t', '-q', '-p', dir, '-c', conf]);
      process.kill(pid, 'SIGHUP');
      await answers(generation);
    },
    async stop() {
      try {
        process.kill(pid, 'SIGQUIT'); // graceful: workers finish their requests
      } catch {
        return untrackProcess(pid);
      }
      if (child.exitCode === null) await poll(async () => (child.exitCode !== null || child.signalCode !== null ? true : null), 'nginx to stop', 5000).catch(() => child.kill('SIGKILL'));
      untrackProcess(pid);
    },
  };
}

/** Small HTTP servers behind the load balancer: each answers every request with its own name. */
export interface UpstreamServers {
  /** One per server: a host as the canary sees it (name, address; every server on `port`). */
  readonly hosts: { name: string; address: string }[];
  readonly port: number;
  /** Requests each server answered, by name. */
  readonly served: Map<string, number>;
  /** The next request for /hold waits for release(); `arrived` resolves (with the server's name) once a server has it. */
  holdNext(): { arrived: Promise<string>; release(): void };
  stop(): Promise<void>;
}

/**
 * `names.length` servers, each on its own loopback address (127.61.N.i) and one shared port, as
 * app hosts behind a load balancer are (canary.nginx.appPort).
 */
export async function startUpstreamServers(names: readonly string[]): Promise<UpstreamServers> {
  const base = `127.61.${1 + ((process.pid * 13 + Number(process.env.VITEST_POOL_ID ?? 0)) % 250)}`;
  const addresses = names.map((_, i) => `${base}.${i + 1}`);
  const served = new Map(names.map((n) => [n, 0]));
  let hold: { arrived: (name: string) => void; released: Promise<void> } | null = null;
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const servers: http.Server[] = [];
    try {
      for (const [i, name] of names.entries()) {
        const server = http.createServer((req, res) => {
          served.set(name, (served.get(name) ?? 0) + 1);
          const answer = () => res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(name);
          if (req.url !== '/hold' || !hold) return answer();
          const h = hold;
          hold = null;
          h.arrived(name);
          void h.released.then(answer);
        });
        servers.push(server);
        await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, addresses[i], () => ok()));
      }
    } catch {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      continue;
    }
    return {
      hosts: names.map((name, i) => ({ name, address: addresses[i]! })),
      port,
      served,
      holdNext() {
        let arrived!: (name: string) => void;
        let release!: () => void;
        const a = new Promise<string>((r) => (arrived = r));
        hold = { arrived, released: new Promise<void>((r) => (release = r)) };
        return { arrived: a, release };
      },
      async stop() {
        await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
      },
    };
  }
  throw new Error(`no port free on all of ${addresses.join(', ')}`);
}

/** One request through the load balancer on a new connection (no keep-alive: each is routed afresh); the body. */
export function getOnce(url: string): Promise<string> {
  return new Promise((done, fail) => {
    http
      .get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? done(body) : fail(new Error(`${url}: ${res.statusCode} ${body.slice(0, 200)}`))));
      })
      .on('error', fail);
  });
}

/** `n` requests one after the other (the round robin is then exact per cycle); answers counted by body. */
export async function split(url: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await getOnce(url);
    counts[who] = (counts[who] ?? 0) + 1;
  }
  return counts;
}
