/**
 * A rolling deploy over 20 sandbox hosts in batches of 5 against a single-host deploy, in the
 * same run, restarts through SSM (the real SDK against the local SSM/EC2 server): wall time
 * (target: at most 1.25 x 4 x the single-host deploy), SSM API calls per host per deploy (at most
 * 8, counted at the server), cutover's peak memory (at most 250 MB). Real sshd hosts on loopback,
 * real PostgreSQL, the demo service.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../sandbox/postgres.ts';
import { startSsmFleet, type SsmFleet } from '../test/support/aws-fleet.ts';
import type { DeployFleet } from '../test/support/deploy-fleet.ts';
import { killTracked } from '../test/support/processes.ts';
import { fmtMs, median, nodeOptionsNote, table, type Verdict } from './stats.ts';

interface Run {
  readonly ms: number;
  readonly peakKb: number;
}

/**
 * One deploy as its own process, its peak RSS measured by GNU time (node itself, no tsx wrapper).
 * Asynchronous: the fake AWS answering the deploy's SSM calls runs in this process.
 */
function deploy(repo: string, f: DeployFleet, tag: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, '--import', 'tsx', path.join(repo, 'tasks/deploy.ts'), tag, '--env', f.envName, '--renderer', 'simple'], {
    cwd: repo,
    env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'unused', NO_COLOR: '1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`deploy ${tag} exited ${code}:\n${out}\n${err}`));
      resolve({ ms, peakKb: Number(err.trim().split('\n').at(-1)) });
    }),
  );
}

export async function benchFleet(repo: string, rounds = 3): Promise<{ text: string; verdicts: Verdict[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-'));
  chmodSync(dir, 0o755); // the postgres user must reach the cluster's folder inside
  const pg = await startPostgres({ dir: path.join(dir, 'pg') });
  const fleets: SsmFleet[] = [];
  try {
    const pgInfo = { host: pg.host, port: pg.port, user: pg.user };
    const single = await startSsmFleet({ hosts: 1, pg: pgInfo, dir: path.join(dir, 'one') });
    fleets.push(single);
    const many = await startSsmFleet({ hosts: 20, pg: pgInfo, dir: path.join(dir, 'twenty'), extra: 'rollout: { batchSize: 5, maxFailures: 0, firstBatchGates: true },' });
    fleets.push(many);
    const tags = ['v1.1.0', 'v1.4.0'];
    const one: Run[] = [];
    const twenty: Run[] = [];
    const callsPerHost: number[] = [];
    // interleaved, so a noisy moment hurts both alike; alternate tags so every run really deploys
    for (let i = 0; i < rounds; i++) {
      one.push(await deploy(repo, single.f, tags[i % 2]!, single.env));
      many.aws.resetCalls();
      twenty.push(await deploy(repo, many.f, tags[i % 2]!, many.env));
      callsPerHost.push(many.aws.calls('SSM') / 20);
    }
    const m1 = median(one.map((r) => r.ms));
    const m20 = median(twenty.map((r) => r.ms));
    const peakMb = Math.max(...twenty.map((r) => r.peakKb)) / 1024;
    const text = table(`Rolling deploy with SSM restarts: 20 hosts in batches of 5 vs one host (wall time of the whole deploy process; peak RSS with ${nodeOptionsNote()})`, [
      { name: '1 host', median: m1, samples: rounds },
      { name: '20 hosts, batches of 5 (4 batches)', median: m20, samples: rounds, note: `peak RSS ${peakMb.toFixed(0)} MB, SSM calls/host ${median(callsPerHost).toFixed(2)}` },
    ]);
    return {
      text,
      verdicts: [
        { target: '20 hosts / batches of 5 <= 1.25 x 4 x one host', ok: m20 <= 5 * m1, measured: `${fmtMs(m20)} vs ${fmtMs(m1)}: ${(m20 / m1).toFixed(2)}x (limit 5.00x)` },
        { target: "cutover's peak memory <= 250 MB", ok: peakMb <= 250, measured: `${peakMb.toFixed(0)} MB (max RSS of the deploy process over ${rounds} runs)` },
        { target: 'SSM API calls per host per deploy <= 8', ok: Math.max(...callsPerHost) <= 8, measured: `${callsPerHost.map((c) => c.toFixed(2)).join(', ')} (20 hosts, counted at the server, preflight included)` },
      ],
    };
  } finally {
    for (const f of fleets) await f.stop();
    await pg.stop();
    killTracked();
    rmSync(dir, { recursive: true, force: true });
  }
}
