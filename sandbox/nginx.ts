/**
 * The local canary fleet's load balancer: a real nginx (Debian package `nginx`) on 127.0.0.1, every
 * file in its own folder (`nginx -p DIR/ -c DIR/nginx.conf`), the upstream in an include file the
 * canary owns (it rewrites the weights and reloads), a JSON access log the signals read. The
 * master daemonizes and is found again, and stopped, by its pid file.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { quote } from '../tasks/lib/commands/shell.ts';
import { isRunning } from './host.ts';

const run = promisify(execFile);

/** The upstream's name (what `proxy_pass http://demo_chat` uses). */
export const UPSTREAM = 'demo_chat';

export const NO_NGINX =
  'nginx is not installed, so the local canary fleet runs without its load balancer and its canary uses `subset` mode ' +
  '(hosts, not traffic weights). Install it (Debian, Ubuntu: sudo apt-get install nginx) and run again for `nginx` mode.';

/** The JSON access log's fields, as the signals' nginx source reads them (docs/signals.md). */
export const JSON_LOG_FORMAT =
  `log_format cutover_json escape=json '{"time":"$time_iso8601","msec":"$msec","method":"$request_method","uri":"$uri",` +
  `"status":$status,"request_time":$request_time,"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",` +
  `"upstream_response_time":"$upstream_response_time","bytes":$body_bytes_sent}';`;

/** The nginx binary: on PATH, else where Debian puts it (/usr/sbin is not on every user's PATH), else null. */
export function findNginx(pathVar = process.env.PATH ?? ''): string | null {
  for (const dir of [...pathVar.split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin']) if (existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  return null;
}

export interface NginxFiles { dir: string; conf: string; include: string; accessLog: string; errorLog: string; pidFile: string }

export function nginxFiles(dir: string): NginxFiles {
  return { dir, conf: join(dir, 'nginx.conf'), include: join(dir, 'upstream.conf'), accessLog: join(dir, 'access.json'), errorLog: join(dir, 'error.log'), pidFile: join(dir, 'nginx.pid') };
}

/** A path in nginx's configuration syntax (double quotes, `"` and `\` escaped). */
const q = (p: string) => `"${p.replace(/["\\]/g, '\\$&')}"`;

/** The whole nginx.conf (pure): one worker (weighted round robin is then exact over each cycle), everything inside `dir`. */
export function nginxConf(o: { files: NginxFiles; port: number; asRoot: boolean }): string {
  const f = o.files;
  return [
    '# written by the cutover sandbox (sandbox/nginx.ts); the upstream is in upstream.conf, which the canary rewrites',
    ...(o.asRoot ? ['user root root;'] : []),
    'worker_processes 1;',
    `pid ${q(f.pidFile)};`,
    `error_log ${q(f.errorLog)} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `  ${JSON_LOG_FORMAT}`,
    `  access_log ${q(f.accessLog)} cutover_json;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${q(join(f.dir, 'tmp', t))};`),
    `  include ${q(f.include)};`,
    '  server {',
    `    listen 127.0.0.1:${o.port};`,
    '    location = /__cutover_lb { access_log off; return 200 "ok\\n"; }',
    `    location / { proxy_pass http://${UPSTREAM}; proxy_next_upstream off; proxy_set_header Host $host; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The include file: one upstream block, a server per host (`address:port`) with its weight. */
export function upstreamConf(servers: readonly { address: string; weight: number }[]): string {
  return [`upstream ${UPSTREAM} {`, ...servers.map((s) => `    server ${s.address} weight=${s.weight};`), '}', ''].join('\n');
}

/** The commands the canary runs on this machine: check the configuration, and make nginx use it (shell text). */
export function nginxCommands(bin: string, files: NginxFiles): { test: string; reload: string } {
  const where = `-p ${quote(files.dir)} -c ${quote(files.conf)}`;
  return { test: `${quote(bin)} -t -q ${where}`, reload: `${quote(bin)} -s reload ${where}` };
}

/** The running master of this folder's nginx: its pid file names a live process whose command line has this conf, or null. */
export function nginxMasterPid(files: NginxFiles): number | null {
  try {
    const pid = Number(readFileSync(files.pidFile, 'utf8').trim());
    if (!(pid > 1) || !isRunning(pid)) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(files.conf) ? pid : null;
  } catch {
    return null;
  }
}

/** `nginx -t`: the configuration as it is on disk; throws with nginx's own words. */
export async function testNginx(bin: string, files: NginxFiles): Promise<void> {
  try {
    await run(bin, ['-t', '-q', '-p', files.dir, '-c', files.conf], { cwd: files.dir });
  } catch (e) {
    throw new Error(`nginx -t refused ${files.conf}: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}

/** Starts the master (it daemonizes: the command returns once it runs) and returns its pid. */
export async function startNginx(bin: string, files: NginxFiles): Promise<number> {
  await testNginx(bin, files);
  const stderr = await new Promise<string>((resolve) => {
    // cwd: the sandbox's folder, so a port clash can name the clone that holds it
    const child = spawn(bin, ['-p', files.dir, '-c', files.conf], { cwd: files.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => resolve(e.message));
    child.on('close', () => resolve(err));
  });
  for (let i = 0; i < 100; i++) {
    const pid = nginxMasterPid(files);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
  const log = readFileSync(files.errorLog, 'utf8').trim().split('\n').slice(-3).join('\n');
  throw new Error(`nginx did not start (${files.conf}): ${stderr.trim() || log || 'no pid file'}`);
}

/** Sends the reload signal through nginx itself (reads the pid file; the new configuration is checked first). */
export async function reloadNginx(bin: string, files: NginxFiles): Promise<void> {
  await testNginx(bin, files);
  await run(bin, ['-s', 'reload', '-p', files.dir, '-c', files.conf], { cwd: files.dir });
}

/** Stops the master by its pid: SIGQUIT (workers finish their requests), SIGTERM after 5 s, SIGKILL after 2 more. */
export async function stopNginx(files: NginxFiles): Promise<number | null> {
  const pid = nginxMasterPid(files);
  if (!pid) return null;
  for (const [sig, ms] of [['SIGQUIT', 5000], ['SIGTERM', 2000], ['SIGKILL', 2000]] as const) {
    try {
      process.kill(pid, sig);
    } catch {
      return pid;
    }
    const deadline = Date.now() + ms;
    while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!isRunning(pid)) return pid;
  }
  return pid;
}
