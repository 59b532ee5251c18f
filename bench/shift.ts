/**
 * shift: a canary weight change on the sandbox — read the include, write it, `nginx -t`, reload,
 * until the first request is served with the new split — against a plain `nginx -s reload` until
 * the first request served by a new worker, in the same run, interleaved. The load balancer is a
 * sandbox host reached over SSH (a warm connection, as the controller keeps one), running a real
 * nginx with one worker in front of four small HTTP servers; the same change through the local
 * transport is shown beside it. Target: the weight change's median under 1 s.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoadBalancer } from '../tasks/lib/config/canary.ts';
import { command, raw } from '../tasks/lib/commands/shell.ts';
import { NginxShifter } from '../tasks/lib/canary/shift/nginx.ts';
import type { ShiftHost, ShiftResult, ShiftStep } from '../tasks/lib/canary/shift/types.ts';
import { LocalRunner } from '../tasks/lib/runners/local.ts';
import { SshRunner } from '../tasks/lib/runners/ssh.ts';
import type { Runner } from '../tasks/lib/runners/types.ts';
import { getOnce, startNginx, startUpstreamServers, type Nginx, type UpstreamServers } from '../test/support/nginx.ts';
import { killTracked } from '../test/support/processes.ts';
import { startSshHosts, type SshFleet } from '../test/support/sshd.ts';
import { fmtMs, median, table, type Verdict } from './stats.ts';

/** One request through the load balancer; the name of the server that answered it. */
export type ServedBy = () => Promise<string>;
type Phases = NonNullable<ShiftResult['phases']>;

/** Requests until one is answered by a server of `want` (each on a new connection); gives up after 10 s. */
async function untilServedBy(servedBy: ServedBy, want: readonly string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!want.includes(await servedBy())) if (Date.now() > deadline) throw new Error(`no answer from ${want.join(', ')} within 10 s`);
}

/**
 * Weight changes timed from the start of the change until the first request served with the new
 * split: alternately every request to the canary servers and every request back to the stable
 * ones, so the first request answered by the other side is the first one served with the new split.
 */
export function weightChanges(o: { canary: readonly ShiftHost[]; stable: readonly ShiftHost[]; servedBy: ServedBy }) {
  let toCanary = true;
  const phases: Phases[] = [];
  const step = (percent: number): ShiftStep => ({ percent, canary: o.canary, stable: o.stable, runId: 'bench', index: percent === 100 ? 4 : 0, steps: 5 });
  return {
    /** The load balancer's own part of each change: write, nginx -t, reload signal. */
    phases,
    async change(s: NginxShifter): Promise<number> {
      const t0 = performance.now();
      const r = await s.apply(step(toCanary ? 100 : 0));
      await untilServedBy(o.servedBy, (toCanary ? o.canary : o.stable).map((x) => x.name));
      toCanary = !toCanary;
      if (r.phases) phases.push(r.phases);
      return performance.now() - t0;
    },
  };
}

/** Medians of the load balancer's phases, as one line. */
export function phasesText(phases: readonly Phases[]): string {
  const ph = (k: keyof Phases) => fmtMs(median(phases.map((p) => p[k])));
  return `write ${ph('writeMs')}, nginx -t ${ph('testMs')}, reload signal ${ph('reloadMs')}`;
}

/** The baseline of a weight change: a plain `nginx -s reload`, until a new worker answers a request. */
export async function reloadUntilNewWorker(runner: Runner, reload: string, workers: () => Promise<number[]>, ask: () => Promise<unknown>): Promise<number> {
  const old = await workers();
  const t0 = performance.now();
  const r = await runner.exec(command(raw(reload)));
  if (r.code !== 0) throw new Error(`reload: ${r.stderr}`);
  for (const deadline = Date.now() + 10_000; ; ) {
    if ((await workers()).some((w) => !old.includes(w))) break;
    if (Date.now() > deadline) throw new Error('no new worker within 10 s');
  }
  await ask();
  return performance.now() - t0;
}

export async function benchShift(rounds = 11): Promise<{ text: string; verdicts: Verdict[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-shift-'));
  let servers: UpstreamServers | undefined;
  let nginx: Nginx | undefined;
  let fleet: SshFleet | undefined;
  let ssh: SshRunner | undefined;
  try {
    servers = await startUpstreamServers(['web-1', 'web-2', 'web-3', 'web-4']);
    const stable = servers.hosts.slice(0, 3);
    const canary = servers.hosts.slice(3);
    mkdirSync(path.join(dir, 'lb'));
    const include = path.join(dir, 'lb', 'upstream.conf');
    writeFileSync(include, `upstream app {\n${stable.map((h) => `    server ${h.address}:${servers!.port};\n`).join('')}}\n`);
    nginx = await startNginx({ dir: path.join(dir, 'nginx'), upstreams: [], include: path.join(dir, 'lb', '*.conf') });
    fleet = await startSshHosts(1, { dir: path.join(dir, 'hosts') });
    const h = fleet.hosts[0]!;
    ssh = new SshRunner(
      { name: 'lb', address: h.address, port: h.port, user: h.user },
      { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 },
    );
    const local = new LocalRunner({ name: 'lb', address: '127.0.0.1', port: 22, user: os.userInfo().username });
    const lb = LoadBalancer.parse({ address: h.address, include, upstream: 'app', appPort: servers.port, test: nginx.testCommand, reload: nginx.reloadCommand });
    const shifters = [ssh, local].map((runner: Runner) => new NginxShifter({ lb, runner, canary, stable, runId: 'bench' }));
    const url = nginx.url;
    await ssh.exec(command(raw('true'))); // connect once: the controller keeps its connection
    const changes = weightChanges({ canary, stable, servedBy: () => getOnce(url) });
    const reload = () => reloadUntilNewWorker(ssh!, nginx!.reloadCommand, () => nginx!.workers(), () => getOnce(url));
    await changes.change(shifters[0]!); // warm up (first write of cutover's file)
    await reload();
    changes.phases.length = 0;
    const base: number[] = [];
    const overSsh: number[] = [];
    const overLocal: number[] = [];
    for (let i = 0; i < rounds; i++) {
      base.push(await reload());
      overSsh.push(await changes.change(shifters[0]!));
      overLocal.push(await changes.change(shifters[1]!));
    }
    await shifters[0]!.reset();
    const m = median(overSsh);
    const b = median(base);
    const text = [
      table('canary weight change on the sandbox (nginx 1 worker, 4 upstream servers; until the first request served with the new split)', [
        { name: '`nginx -s reload` alone over SSH, until a new worker answers (baseline)', median: b, samples: rounds },
        { name: 'weight change over SSH (read, write, nginx -t, reload, first request)', median: m, samples: rounds },
        { name: 'weight change, local transport', median: median(overLocal), samples: rounds },
      ]),
      `  on the load balancer, per change (medians): ${phasesText(changes.phases)}`,
    ].join('\n');
    return { text, verdicts: [{ target: 'a weight change (write, nginx -t, reload, first request with the new split) median < 1 s', ok: m < 1000, measured: `${fmtMs(m)} (${(m / b).toFixed(2)}x a plain reload, ${fmtMs(b)})` }] };
  } finally {
    await ssh?.close();
    await nginx?.stop();
    await servers?.stop();
    await fleet?.stop();
    killTracked();
    rmSync(dir, { recursive: true, force: true });
  }
}
