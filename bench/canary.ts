/**
 * canary: `tasks/canary.ts <tag> --steps 10,20,50,75,100` with bakes of 10 s on the local canary
 * fleet (three demo hosts behind a real nginx, built in a temporary folder with its own ports),
 * while the traffic generator sends 600 requests a minute through nginx. Its wall time against the
 * baseline of the same run (bench/canary-timeline.ts): the deploys it did, and per step the wait
 * until the gates passed plus the bake (target: at most 5% more). The controller's own CPU
 * while baking, read from /proc from outside (target: under 2% of one core). Then weight changes
 * on that nginx under that traffic, until the first request served with the new split (median
 * under 1 s), against a plain reload. Everything is stopped by pid at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findNginx, nginxCommands, nginxMasterPid, UPSTREAM } from '../sandbox/nginx.ts';
import { NginxShifter } from '../tasks/lib/canary/shift/nginx.ts';
import { LoadBalancer } from '../tasks/lib/config/canary.ts';
import { LocalRunner } from '../tasks/lib/runners/local.ts';
import { LocalFleet } from '../test/support/local-fleet.ts';
import { killTracked } from '../test/support/processes.ts';
import { servedByFromLog } from './access-log.ts';
import { cpuWhileBaking, timelineOf, type CanaryEventLine, type StepRecord, type Timeline } from './canary-timeline.ts';
import { cpuSampler, type CpuSample } from './cpu.ts';
import { phasesText, reloadUntilNewWorker, weightChanges } from './shift.ts';
import { fmtMs, median, table, type Verdict } from './stats.ts';

const BAKE_MS = 10_000;
const STEPS = '10,20,50,75,100';
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Run { readonly tag: string; readonly startedAt: number; readonly endedAt: number; readonly wallMs: number; readonly cpu: CpuSample[]; readonly t: Timeline }

/** One canary as its own process (node itself, no tsx wrapper: its pid is the controller's), sampled from outside. */
function canary(repo: string, f: LocalFleet, tag: string): Promise<Run> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const args = ['--import', 'tsx', path.join(repo, 'tasks/canary.ts'), tag, '--env', 'bench', '--steps', STEPS, '--json', '--renderer', 'simple'];
  const child = spawn(process.execPath, args, { cwd: repo, env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const sampler = cpuSampler(child.pid!);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-6000)));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const endedAt = Date.now();
      const cpu = sampler.stop();
      try {
        const json = JSON.parse(out) as { runId: string; eventLog: string; hosts: { name: string; moved: boolean }[] };
        if (code !== 0) throw new Error(`exit ${code}`);
        const events = readFileSync(json.eventLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CanaryEventLine);
        const reports = path.join(f.work, 'clone', 'backups', 'reports');
        const report = readdirSync(reports).find((n) => n.endsWith(`_canary_${json.runId}.json`));
        if (!report) throw new Error(`no report of run ${json.runId} in ${reports}`);
        const records = (JSON.parse(readFileSync(path.join(reports, report), 'utf8')) as { steps: StepRecord[] }).steps;
        resolve({ tag, startedAt, endedAt, wallMs, cpu, t: timelineOf(events, records, BAKE_MS, json.hosts[0]!.name) });
      } catch (e) {
        reject(new Error(`canary ${tag} failed (${(e as Error).message}):\n${out.slice(-2000)}\n${err}`));
      }
    }),
  );
}

/** The run's time, split: the baseline (deploys, waits for passing gates, bakes) and the controller's overhead. */
function describe(r: Run): { baselineMs: number; issueBaselineMs: number; lines: string[] } {
  const deploys = r.t.deploys.reduce((a, d) => a + d.ms, 0);
  const waits = r.t.steps.reduce((a, x) => a + x.waitMs, 0);
  const bakes = r.t.steps.length * BAKE_MS;
  const late = r.t.steps.reduce((a, x) => a + x.lateMs, 0);
  const baselineMs = deploys + waits + bakes;
  const overhead = r.wallMs - baselineMs;
  const start = r.t.firstChange - r.startedAt;
  const end = r.endedAt - r.t.lastDecision;
  const rest = overhead - start - end - late - r.t.smokeMs - r.t.lbMs;
  const lines = [
    `  ${r.tag}: ${s(r.wallMs)} = baseline ${s(baselineMs)} + overhead ${s(overhead)}`,
    `    baseline: deploys ${s(deploys)} (${r.t.deploys.map((d) => `${d.what} ${s(d.ms)}`).join(', ')}) + waits until the gates passed ${s(waits)} + bakes ${s(bakes)}`,
    `    per step, traffic moved -> gates pass + bake + promoted after: ${r.t.steps.map((x) => `${s(x.waitMs)} + ${s(BAKE_MS)} + ${s(x.lateMs)}`).join(' | ')}`,
    `    overhead: start to the first change (node, preflight, plan, lock, history) ${s(start)}, smoke checks ${s(r.t.smokeMs)}, ` +
      `load balancer ${s(r.t.lbMs)}, promoted after the bake ${s(late)}, after the last decision (history, report, exit) ${s(end)}, ` +
      `the rest (state writes between steps, the last judgement of each step) ${s(rest)}`,
  ];
  return { baselineMs, issueBaselineMs: deploys + bakes, lines };
}

/** Weight changes on the fleet's own nginx, through the local transport as the controller drives it, interleaved with plain reloads. */
async function fleetWeightChanges(f: LocalFleet, rounds: number): Promise<{ changes: number[]; reloads: number[]; phases: string }> {
  const nginx = findNginx()!;
  const lb = LoadBalancer.parse({ transport: 'local', address: '127.0.0.1', include: f.nginx.include, upstream: UPSTREAM, appPort: f.appPort, ...nginxCommands(nginx, f.nginx) });
  const runner = new LocalRunner({ name: 'lb', address: '127.0.0.1', port: 22, user: os.userInfo().username });
  const hosts = f.layout.hosts.map((h) => ({ name: h.name, address: h.address }));
  const [canaryHosts, stable] = [hosts.slice(0, 1), hosts.slice(1)];
  const shifter = new NginxShifter({ lb, runner, canary: canaryHosts, stable, runId: 'bench' });
  const before = await shifter.read();
  const servedBy = servedByFromLog(`http://127.0.0.1:${f.nginxPort}/api/v1/health`, f.nginx.accessLog, new Map(hosts.map((h) => [`${h.address}:${f.appPort}`, h.name])));
  const master = nginxMasterPid(f.nginx);
  // read from /proc, not with pgrep: polling must not cost a process each time
  const workers = async () => readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  const w = weightChanges({ canary: canaryHosts, stable, servedBy });
  try {
    await w.change(shifter); // warm up: cutover's first write of the file
    await w.change(shifter);
    w.phases.length = 0;
    const changes: number[] = [];
    const reloads: number[] = [];
    for (let i = 0; i < rounds; i++) {
      reloads.push(await reloadUntilNewWorker(runner, lb.reload, workers, servedBy));
      changes.push(await w.change(shifter), await w.change(shifter));
    }
    return { changes, reloads, phases: phasesText(w.phases) };
  } finally {
    if (before !== null) await shifter.restore(before);
  }
}

/** Requests a minute through nginx: BENCH_CANARY_RATE=12000/min brings each step's minimum samples in within about a second. */
const RATE = process.env.BENCH_CANARY_RATE ?? '600/min';

export async function benchCanary(repo: string, runs = 1): Promise<{ text: string; verdicts: Verdict[] }> {
  if (!findNginx()) throw new Error('bench canary needs nginx (Debian: apt-get install nginx; test/support/setup.sh installs it)');
  const f = await LocalFleet.create();
  let traffic: ChildProcess | undefined;
  try {
    // 10 s bakes; a step may hold up to a minute while too few requests are in (at 10% of 600 a minute,
    // the gates' 20 samples take about 20 s: the default, twice the bake, would roll back instead)
    const edit = (t: string) => t.replace('export default env;', `env.canary!.bake = '${BAKE_MS / 1000}s';\nenv.canary!.maxHold = '60s';\nexport default env;`);
    f.writeEnv('bench', 'clone', { app: f.appPort, nginx: f.nginxPort }, edit);
    const d = await f.task('doctor', ['--env', 'bench']); // creates the fleet, at v1.0.0
    f.track();
    if (d.code === 2) throw new Error(`the local canary fleet did not start:\n${d.stdout}${d.stderr}`);
    traffic = f.spawnTask('traffic', ['--env', 'bench', '--duration', '30m', '--seed', '7', '--rate', RATE], 'ignore');
    // two good releases in turn: every run really moves the fleet, from the tag the run before left
    const done: Run[] = [];
    for (let i = 0; i < runs; i++) done.push(await canary(repo, f, ['v1.1.0', 'v1.0.0'][i % 2]!));
    const w = await fleetWeightChanges(f, 10);

    const described = done.map(describe);
    const ratio = median(done.map((r, i) => r.wallMs / described[i]!.baselineMs));
    const issueRatio = median(done.map((r, i) => r.wallMs / described[i]!.issueBaselineMs));
    const overhead = median(done.map((r, i) => r.wallMs - described[i]!.baselineMs));
    const cpu = done.map((r) => cpuWhileBaking(r.cpu, r.t));
    const cpuPct = median(cpu.map((c) => c.percent));
    const wholePct = median(done.map((r) => (100 * (r.cpu.at(-1)!.cpuMs - r.cpu[0]!.cpuMs)) / r.wallMs));
    const change = median(w.changes);
    const reload = median(w.reloads);
    const text = [
      table(`canary ${STEPS}% with bakes of ${BAKE_MS / 1000} s, nginx mode, local canary fleet (3 hosts), ${RATE} through nginx`, [
        { name: 'baseline: the deploys + per step (wait until the gates pass + bake)', median: median(described.map((x) => x.baselineMs)), samples: runs },
        { name: 'the canary, wall time of the whole command', median: median(done.map((r) => r.wallMs)), samples: runs, note: `overhead ${s(overhead)}` },
      ]),
      ...described.flatMap((x) => x.lines),
      `  the deploys + the bakes alone: ${s(median(described.map((x) => x.issueBaselineMs)))} (the canary takes ${issueRatio.toFixed(2)}x that): ` +
        `a step cannot pass before its gates have their minimum samples (20 per cohort: about 20 s at 10% of 600 requests a minute; ${RATE} here)`,
      `  controller CPU (utime+stime of its process, children excluded): ${cpuPct.toFixed(2)}% of one core while baking ` +
        `(${cpu.map((c) => `${fmtMs(c.cpuMs)} over ${s(c.wallMs)}`).join(', ')}), ${wholePct.toFixed(2)}% over the whole run`,
      table('weight change on the local canary fleet (nginx 1 worker, the controller\'s local transport, under the same traffic)', [
        { name: '`nginx -s reload` alone, until a new worker answers (baseline)', median: reload, samples: w.reloads.length },
        { name: 'weight change (read, write, nginx -t, reload, first request with the new split)', median: change, samples: w.changes.length },
      ]),
      `  on the load balancer, per change (medians): ${w.phases}`,
    ].join('\n');
    return {
      text,
      verdicts: [
        { target: 'a 5-step canary, 10 s bakes, within 5% of deploys + waits for passing gates + bakes', ok: ratio <= 1.05, measured: `${ratio.toFixed(3)}x, overhead ${s(overhead)} (deploys + bakes alone: ${issueRatio.toFixed(2)}x)` },
        { target: "the canary controller's CPU while baking < 2% of one core", ok: cpuPct < 2, measured: `${cpuPct.toFixed(2)}%` },
        { target: 'a weight change on the canary fleet under traffic, until the first request with the new split, median < 1 s', ok: change < 1000, measured: `${fmtMs(change)} (${(change / reload).toFixed(2)}x a plain reload, ${fmtMs(reload)})` },
      ],
    };
  } finally {
    if (traffic && traffic.exitCode === null) await new Promise<void>((done) => (traffic!.once('close', () => done()), traffic!.kill('SIGINT')));
    await f.stop();
    killTracked();
  }
}
