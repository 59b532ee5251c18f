/**
 * The local canary fleet (environments/local-canary.ts's own configuration) in a temporary clone:
 * three sandbox hosts on this machine sharing one app path through mount namespaces, a real nginx
 * in front (Debian package), the PostgreSQL cluster of a "local sandbox" the fleet shares. Tasks
 * run as processes; stop() stops everything by pid.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fleetLayout, type FleetLayout } from '../../sandbox/fleet-layout.ts';
import { stopFleetProcesses } from '../../sandbox/fleet.ts';
import { nginxFiles, nginxMasterPid } from '../../sandbox/nginx.ts';
import { freePort, postmasterPid, stopCluster } from '../../sandbox/postgres.ts';
import { portFree } from '../../sandbox/provision.ts';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { trackHostRoot, trackProcess, untrackHostRoot } from './processes.ts';
import { taskProcess } from './task-process.ts';
import { until } from './until.ts';

export const exec = promisify(execFile);

export interface TaskRun { code: number | null; stdout: string; stderr: string; json: any } // eslint-disable-line @typescript-eslint/no-explicit-any
export interface AccessLine { upstream_addr: string; status: number; uri: string }

export class LocalFleet {
  readonly work = mkdtempSync(path.join(os.tmpdir(), 'cutover-fleet-'));
  readonly envDir = path.join(this.work, 'environments');
  readonly root = path.join(this.work, 'clone', '.sandbox-canary');
  readonly pgDir = path.join(this.work, 'clone', '.sandbox', 'pg');
  appPort = 0;
  nginxPort = 0;
  pgPort = 0;

  private constructor() {
    chmodSync(this.work, 0o755); // as root, the server runs as `postgres`, which must reach its data folder
    mkdirSync(this.envDir);
    // as in the repository: without it tsx loads the environment files as CommonJS (a second schema and zod)
    writeFileSync(path.join(this.envDir, 'package.json'), '{ "type": "module" }\n');
  }

  /** Ports chosen, environment `fleet` written; nothing started (the first task creates the fleet). */
  static async create(): Promise<LocalFleet> {
    const f = new LocalFleet();
    [f.appPort, f.nginxPort, f.pgPort] = [await f.fleetPort(), await freePort(), await freePort()];
    f.writeEnv('fleet', 'clone', { app: f.appPort, nginx: f.nginxPort });
    return f;
  }

  get layout(): FleetLayout {
    return fleetLayout(this.root);
  }

  get nginx() {
    return nginxFiles(this.layout.nginxDir);
  }

  /** A port free on 127.0.0.1 and on the three hosts' addresses. */
  async fleetPort(): Promise<number> {
    for (;;) {
      const port = await freePort();
      if ((await Promise.all(this.layout.hosts.map((h) => portFree(port, h.address)))).every(Boolean)) return port;
    }
  }

  /** An environment file of a clone in `work`, built by environments/local-canary.ts itself; `edit` changes its text. */
  writeEnv(name: string, clone: string, ports: { app: number; nginx: number }, edit: (text: string) => string = (t) => t): void {
    const dir = path.join(this.work, clone);
    const text = `import { findNginx } from ${JSON.stringify(path.join(REPO_ROOT, 'sandbox/nginx.ts'))};
import { localCanary } from ${JSON.stringify(path.join(REPO_ROOT, 'environments/local-canary.ts'))};
const env = localCanary({
  root: ${JSON.stringify(path.join(dir, '.sandbox-canary'))}, pgDir: ${JSON.stringify(path.join(dir, '.sandbox', 'pg'))},
  appPort: ${ports.app}, pgPort: ${this.pgPort}, nginxPort: ${ports.nginx},
  nginx: findNginx(), withDatabase: true, backupsDir: ${JSON.stringify(path.join(dir, 'backups'))},
});
export default env;
`;
    writeFileSync(path.join(this.envDir, `${name}.ts`), edit(text));
  }

  task(name: string, args: string[]): Promise<TaskRun> {
    return new Promise((resolve) => {
      const child = this.spawnTask(name, args);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr, json: args.includes('--json') && stdout.trim() ? JSON.parse(stdout) : null }));
    });
  }

  spawnTask(name: string, args: string[], stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
    const run = taskProcess(name, args);
    return spawn(run.command, run.args, {
      cwd: REPO_ROOT,
      env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: this.envDir, NO_COLOR: '1', CUTOVER_RENDERER: 'simple' },
      stdio: ['ignore', stdio, stdio],
    });
  }

  /** Tracks what the fleet runs, so a crashed test run stops it. */
  track(): void {
    for (const h of this.layout.hosts) trackHostRoot(h.hostRoot);
    const lb = nginxMasterPid(this.nginx);
    if (lb) trackProcess(lb, { label: 'sandbox nginx', marker: this.nginx.conf, signal: 'SIGQUIT' });
    const pm = postmasterPid(path.join(this.pgDir, 'data'));
    if (pm) trackProcess(pm.pid, { label: 'sandbox postgres', marker: this.pgDir, signal: 'SIGINT' });
  }

  /** The lines of nginx's JSON access log, from line `from`. */
  upstreams(from = 0): AccessLine[] {
    if (!existsSync(this.nginx.accessLog)) return [];
    return readFileSync(this.nginx.accessLog, 'utf8').split('\n').filter(Boolean).slice(from).map((l) => JSON.parse(l) as AccessLine);
  }

  /** The `n` access-log lines from line `from`, once nginx has written them: it logs a request after its response has gone, so a client can read the log before its own last line is there. */
  async logged(from: number, n: number): Promise<AccessLine[]> {
    await until(() => this.upstreams(from).length >= n, `${n} lines in ${this.nginx.accessLog} (from line ${from})`, 10_000);
    return this.upstreams(from);
  }

  /** Requests per host name. */
  tally(lines: AccessLine[]): Record<string, number> {
    return Object.fromEntries(this.layout.hosts.map((h) => [h.name, lines.filter((l) => l.upstream_addr === `${h.address}:${this.appPort}`).length]));
  }

  /** `n` chat requests through nginx, one after another (with one worker, round robin is exact). */
  async chats(n: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await fetch(`http://127.0.0.1:${this.nginxPort}/api/v1/conversation/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: `t${i}`, message: 'Mes dépenses du mois' }),
      });
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    return statuses;
  }

  async stop(): Promise<void> {
    await stopFleetProcesses(this.layout);
    await stopCluster(path.join(this.pgDir, 'data')).catch(() => null);
    for (const h of this.layout.hosts) untrackHostRoot(h.hostRoot);
    rmSync(this.work, { recursive: true, force: true });
  }
}
