/**
 * verify: one host with every standard check against its slowest check alone (target <= 1.3x:
 * the checks overlap), and 20 hosts against one (target <= 3x). Measured in-process over open
 * connections (what verify itself costs) and as the command an on-call engineer runs.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../sandbox/postgres.ts';
import { loadEnvironment, type LoadedEnvironment } from '../tasks/lib/config/load.ts';
import { verifyEnvironment } from '../tasks/lib/verify/engine.ts';
import { selectChecks } from '../tasks/lib/verify/select.ts';
import { runnerFor } from '../tasks/lib/runners/for-host.ts';
import type { Runner } from '../tasks/lib/runners/types.ts';
import { hostList } from '../tasks/lib/aws/hosts.ts';
import { startDeployFleet, type DeployFleet } from '../test/support/deploy-fleet.ts';
import { killTracked } from '../test/support/processes.ts';
import { fmtMs, median, table, type Verdict } from './stats.ts';

function cli(repo: string, f: DeployFleet, args: string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'tasks/verify.ts'), '--env', f.envName, ...args], {
    cwd: repo,
    env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'unused', NO_COLOR: '1' },
    stdio: 'ignore',
  });
  // exit 0 (GO) or 1 (NO-GO: e.g. no backup yet) both mean it verified; 2 means it could not
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 2 ? reject(new Error('verify could not verify')) : resolve(performance.now() - t0))));
}

let cpuMs = 0; // verify's own CPU (this process), summed over the timed calls
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  cpuMs = (c.user + c.system) / 1000;
  return performance.now() - t0;
}

export async function benchVerify(repo: string, rounds = 5): Promise<{ text: string; verdicts: Verdict[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-'));
  chmodSync(dir, 0o755); // the postgres user must reach the cluster's folder inside
  const pg = await startPostgres({ dir: path.join(dir, 'pg') });
  let f: DeployFleet | undefined;
  const runners = new Map<string, Runner>();
  try {
    f = await startDeployFleet({ hosts: 20, pg: { host: pg.host, port: pg.port, user: pg.user }, dir: path.join(dir, 'fleet') });
    const env: LoadedEnvironment = await loadEnvironment(f.envName, { dir: f.envDir, processEnv: { ...process.env, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'unused' } });
    for (const h of hostList(env)) runners.set(h.name, runnerFor(env, h));
    await verifyEnvironment(env, { runners }); // connect every host once, warm up
    const kinds = selectChecks(env);
    const alone = new Map(kinds.map((k) => [k, [] as number[]]));
    const oneHost: number[] = [];
    const twenty: number[] = [];
    const cpuOne: number[] = [];
    const cpuTwenty: number[] = [];
    const cliOne: number[] = [];
    const cliTwenty: number[] = [];
    for (let i = 0; i < rounds; i++) {
      for (const k of kinds) alone.get(k)!.push(await timed(() => verifyEnvironment(env, { runners, hosts: ['host1'], only: [k] })));
      oneHost.push(await timed(() => verifyEnvironment(env, { runners, hosts: ['host1'] })));
      cpuOne.push(cpuMs);
      twenty.push(await timed(() => verifyEnvironment(env, { runners })));
      cpuTwenty.push(cpuMs);
      if (i < 3) {
        cliOne.push(await cli(repo, f, ['--host', 'host1']));
        cliTwenty.push(await cli(repo, f, []));
      }
    }
    const slowest = [...alone.entries()].map(([k, xs]) => ({ k, m: median(xs) })).sort((a, b) => b.m - a.m)[0]!;
    const m1 = median(oneHost);
    const m20 = median(twenty);
    const c1 = median(cliOne);
    const c20 = median(cliTwenty);
    const text = [
      table(`verify, in-process over open connections (${kinds.length} standard checks)`, [
        { name: `slowest check alone on one host (${slowest.k})`, median: slowest.m, samples: rounds },
        { name: 'one host, every check', median: m1, samples: rounds },
        { name: '20 hosts, every check', median: m20, samples: rounds, note: `${(m20 / m1).toFixed(2)}x one host` },
      ]),
      `  verify's own CPU per round: ${median(cpuOne).toFixed(0)} ms for one host, ${median(cpuTwenty).toFixed(0)} ms for 20 (${(median(cpuTwenty) / median(cpuOne)).toFixed(1)}x); the rest of the 20-host wall time is the sandbox hosts' CPU on the same cores`,
      table('verify as the command on-call runs (npx tsx tasks/verify.ts; process start included)', [
        { name: 'one host (--host host1)', median: c1, samples: cliOne.length },
        { name: '20 hosts', median: c20, samples: cliTwenty.length },
      ]),
      `  (the 20 sandbox hosts, their services and their journalctl/systemctl stand-ins share this machine's ${os.cpus().length} cores with verify)`,
    ].join('\n');
    return {
      text,
      verdicts: [
        { target: 'verify of one host <= 1.3x its slowest check alone', ok: m1 <= 1.3 * slowest.m, measured: `${fmtMs(m1)} vs ${fmtMs(slowest.m)} (${slowest.k}): ${(m1 / slowest.m).toFixed(2)}x` },
        { target: 'verify of 20 hosts <= 3x one host (the command)', ok: c20 <= 3 * c1, measured: `${fmtMs(c20)} vs ${fmtMs(c1)}: ${(c20 / c1).toFixed(2)}x` },
      ],
    };
  } finally {
    await Promise.all([...runners.values()].map((r) => r.close()));
    await f?.stop();
    await pg.stop();
    killTracked();
    rmSync(dir, { recursive: true, force: true });
  }
}
