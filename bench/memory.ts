/**
 * `npm run bench -- deploy-memory`: cutover's peak memory while a dump of at least 300 MB streams
 * from the host into the backup folder (target: at most 200 MB), on one host over SSH and on a
 * 20-host fleet (batches of 5), over SSH and with restarts through SSM (the AWS SDK loaded). The data is random bytes
 * (pgcrypto), which pg_dump cannot compress below its size: 330 MB of rows, a dump of about as
 * much. Peak memory is the deploy process's max RSS (GNU time). Loopback only; takes minutes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../sandbox/postgres.ts';
import { startSsmFleet, type SsmFleet } from '../test/support/aws-fleet.ts';
import { startDeployFleet, type DeployFleet } from '../test/support/deploy-fleet.ts';
import { killTracked } from '../test/support/processes.ts';
import { fmtMs, nodeOptionsNote, type Verdict } from './stats.ts';

const MIN_DUMP_MB = 300;
const LIMIT_MB = 200;

interface Run {
  readonly ms: number;
  readonly peakMb: number;
  readonly dumpMb: number;
}

function deploy(repo: string, f: DeployFleet, tag: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const t0 = performance.now();
  const args = ['-f', '%M', process.execPath, '--import', 'tsx', path.join(repo, 'tasks/deploy.ts'), tag, '--env', f.envName, '--renderer', 'simple', '--json'];
  const child = spawn('/usr/bin/time', args, {
    cwd: repo,
    env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'unused', NO_COLOR: '1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`deploy ${tag} exited ${code}:\n${out.slice(-4000)}\n${err}`));
      const json = JSON.parse(out) as { backup?: { size?: number } };
      resolve({ ms, peakMb: Number(err.trim().split('\n').at(-1)) / 1024, dumpMb: (json.backup?.size ?? 0) / 1e6 });
    }),
  );
}

export async function benchMemory(repo: string): Promise<{ text: string; verdicts: Verdict[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-memory-'));
  chmodSync(dir, 0o755); // the postgres user must reach the cluster's folder inside
  const pg = await startPostgres({ dir: path.join(dir, 'pg') });
  const pgInfo = { host: pg.host, port: pg.port, user: pg.user };
  let one: DeployFleet | undefined;
  let twenty: DeployFleet | undefined;
  let many: SsmFleet | undefined;
  try {
    one = await startDeployFleet({ hosts: 1, pg: pgInfo, dir: path.join(dir, 'one') });
    // 330 MB of random bytes: a custom-format dump of about as much
    await one.psql(
      `create extension if not exists pgcrypto;
       create table bulk (id bigint, b bytea);
       insert into bulk select g, gen_random_bytes(1024) from generate_series(1, 330000) g;`,
    );
    const batches = 'rollout: { batchSize: 5, maxFailures: 0, firstBatchGates: true },';
    twenty = await startDeployFleet({ hosts: 20, pg: pgInfo, dir: path.join(dir, 'twenty'), databaseOverride: one.database, extra: batches });
    const a = await deploy(repo, one, 'v1.1.0');
    const b = await deploy(repo, twenty, 'v1.1.0');
    await twenty.stop();
    twenty = undefined;
    many = await startSsmFleet({ hosts: 20, pg: pgInfo, dir: path.join(dir, 'twenty-ssm'), databaseOverride: one.database, extra: batches });
    const c = await deploy(repo, many.f, 'v1.1.0', many.env);
    const rows = [
      ['one host over SSH', a],
      ['20 hosts over SSH, batches of 5', b],
      ['20 hosts, batches of 5, SSM restarts', c],
    ] as const;
    const text = [
      `\nPeak memory of deploy.ts while a dump streams to disk (max RSS, GNU time; ${nodeOptionsNote()})`,
      ...rows.map(([name, r]) => `  ${name.padEnd(38)} dump ${r.dumpMb.toFixed(0)} MB  peak ${r.peakMb.toFixed(0)} MB  in ${fmtMs(r.ms)}`),
    ].join('\n');
    const big = Math.min(a.dumpMb, b.dumpMb, c.dumpMb) >= MIN_DUMP_MB;
    return {
      text,
      verdicts: rows.map(([name, r]) => ({
        target: `peak memory with a >= ${MIN_DUMP_MB} MB dump <= ${LIMIT_MB} MB (${name})`,
        ok: big && r.peakMb <= LIMIT_MB,
        measured: `${r.peakMb.toFixed(0)} MB with a ${r.dumpMb.toFixed(0)} MB dump${big ? '' : ' (the dump is smaller than the target asks: grow the data)'}`,
      })),
    };
  } finally {
    await many?.stop();
    await twenty?.stop();
    await one?.stop();
    await pg.stop();
    killTracked();
    rmSync(dir, { recursive: true, force: true });
  }
}
