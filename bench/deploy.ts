/**
 * `npm run bench -- deploy`: cutover against the seed procedure itself, on the same sandbox host
 * (one OpenSSH sshd on loopback, PostgreSQL with 200k rows, two services under the systemd
 * stand-in): the same deploy (dump, fetch and checkout, install, one migration, restart of both
 * services, health, test chat, journal) as `npx tsx tasks/deploy.ts` and as the plain sequential
 * shell of bench/seed-deploy.sh, interleaved. Also: SSH command round trips (counted by cutover's
 * runner, checked against the sshd's own log), time-to-recover (rollback in place and with
 * releases, the automatic rollback of a failed deploy), start-up, and the growth over a slow link
 * (a TCP proxy adding 40 ms each way, for cutover and the shell alike).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../sandbox/postgres.ts';
import { APP, SECOND_UNIT, startDeployFleet, UNIT, type DeployFleet } from '../test/support/deploy-fleet.ts';
import { killTracked } from '../test/support/processes.ts';
import { startDelayProxy, type DelayProxy } from './delay-proxy.ts';
import { fmtMs, median, table, type Row, type Verdict } from './stats.ts';

const SLOW_MS = 40;
/** Every deploy goes from B to A and applies exactly one migration (A's 003, reset before each run). */
const A = 'v1.4.0';
const B = 'v1.1.0';
const BROKEN = 'v1.2.0'; // health answers 503: a failed deploy, rolled back automatically

interface Run {
  readonly ms: number;
  /** Time to the first byte the process printed. */
  readonly firstMs: number;
  /** The --json summary (cutover runs). */
  readonly json: { roundTrips?: { total: number; hosts: Record<string, number> }; steps?: { name: string; durationMs: number }[]; exitCode?: number } | null;
  /** Exec requests in the host's sshd log during the run. */
  readonly sshdCommands: number;
}

/** Counts `Starting session: command` in sshd logs (LogLevel VERBOSE): one line per exec request. */
function sshdCommands(f: DeployFleet): number {
  let n = 0;
  for (const h of f.fleet.hosts) {
    if (!h.logFile) continue;
    for (const line of readFileSync(h.logFile, 'utf8').split('\n')) if (line.includes('Starting session: command')) n++;
  }
  return n;
}

function spawnTimed(cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; okCodes?: number[] }, f: DeployFleet): Promise<Run> {
  const before = sshdCommands(f);
  const t0 = performance.now();
  let firstMs = 0;
  const child = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, NO_COLOR: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const first = () => (firstMs ||= performance.now() - t0);
  child.stdout.on('data', (d: Buffer) => (first(), (out += d.toString())));
  child.stderr.on('data', (d: Buffer) => (first(), (err = (err + d.toString()).slice(-8000))));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (!(o.okCodes ?? [0]).includes(code ?? -1)) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}\n${err}`));
      let json = null;
      try {
        json = args.includes('--json') ? JSON.parse(out) : null;
      } catch {
        json = null;
      }
      resolve({ ms, firstMs, json, sshdCommands: sshdCommands(f) - before });
    }),
  );
}

interface Target {
  readonly f: DeployFleet;
  readonly envName: string;
  /** The ssh endpoint and the app's port as this target reaches them (the slow one through proxies). */
  readonly sshAddress: string;
  readonly sshPort: number;
  readonly knownHosts: string;
  readonly appAddress: string;
  readonly appPort: number;
  readonly backupDir: string;
}

function cutover(repo: string, t: Target, task: string, args: string[], okCodes = [0]): Promise<Run> {
  const env = { CUTOVER_ENVIRONMENTS_DIR: t.f.envDir, SBX_SSH_KEY: t.f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'unused' };
  return spawnTimed('npx', ['tsx', `tasks/${task}.ts`, ...args, '--env', t.envName, '--renderer', 'simple', '--json'], { cwd: repo, env, okCodes }, t.f);
}

function shell(repo: string, t: Target, script: 'seed-deploy.sh' | 'seed-rollback.sh', tag: string, pg: { host: string; port: number; user: string }): Promise<Run> {
  const env = {
    SSH_KEY: t.f.fleet.clientKeyPath, KNOWN_HOSTS: t.knownHosts, SSH_HOST: t.sshAddress, SSH_PORT: String(t.sshPort), APP, TAG: tag,
    UNITS: `${UNIT} ${SECOND_UNIT}`, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGDATABASE: t.f.database, BACKUP_DIR: t.backupDir,
    HEALTH_URL: `http://${t.appAddress}:${t.appPort}/api/v1/health`, CHAT_URL: `http://${t.appAddress}:${t.appPort}/api/v1/conversation/chat`,
  };
  return spawnTimed('bash', [path.join(repo, 'bench', script), tag], { cwd: repo, env }, t.f);
}

/** Puts the database back before A's migration, so every deploy to A applies exactly one. */
async function resetForA(f: DeployFleet): Promise<void> {
  await f.psql(`alter table messages drop column if exists score; delete from schema_migrations where version = '003_add_message_score';`);
}

/** The same fleet reached through two delaying proxies (ssh, app): its own environment file and known_hosts. */
async function slowTarget(f: DeployFleet, dir: string): Promise<{ target: Target; proxies: DelayProxy[] }> {
  const h = f.fleet.hosts[0]!;
  const ssh = await startDelayProxy({ address: h.address, port: h.port }, SLOW_MS);
  const app = await startDelayProxy({ address: h.address, port: f.appPort }, SLOW_MS);
  const key = readFileSync(path.join(h.root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const knownHosts = path.join(dir, 'known_hosts_slow');
  writeFileSync(knownHosts, `[${ssh.address}]:${ssh.port} ${key}\n`);
  const backupDir = path.join(dir, 'backups-slow');
  const text = readFileSync(path.join(f.envDir, `${f.envName}.ts`), 'utf8')
    .replace(`address: ${JSON.stringify(h.address)}, port: ${h.port}`, `address: ${JSON.stringify(ssh.address)}, port: ${ssh.port}`)
    .replace(f.fleet.knownHostsPath, knownHosts)
    .replace(f.backupDir, backupDir)
    .replaceAll('http://{host}:' + f.appPort, `http://${app.address}:${app.port}`);
  writeFileSync(path.join(f.envDir, 'sbxslow.ts'), text);
  return {
    target: { f, envName: 'sbxslow', sshAddress: ssh.address, sshPort: ssh.port, knownHosts, appAddress: app.address, appPort: app.port, backupDir },
    proxies: [ssh, app],
  };
}

function fastTarget(f: DeployFleet): Target {
  const h = f.fleet.hosts[0]!;
  return { f, envName: f.envName, sshAddress: h.address, sshPort: h.port, knownHosts: f.fleet.knownHostsPath, appAddress: h.address, appPort: f.appPort, backupDir: f.backupDir };
}

async function quickRounds(repo: string, f: DeployFleet, rounds: number, pg: { host: string; port: number; user: string }, dir: string, proxies: DelayProxy[]): Promise<{ text: string; verdicts: Verdict[] }> {
  await f.psql(`insert into messages (user_id, body) select g % 1000, 'message ' || g || ' ' || md5(g::text) from generate_series(1, 200000) g; analyze messages;`);
  const t = fastTarget(f);
  await cutover(repo, t, 'deploy', [B]);
  // BENCH_SLOW=1: also the deploy over the slow link (this checkout's and the baseline's), each put back by the shell's rollback
  const slow = process.env.BENCH_SLOW === '1' ? await slowTarget(f, dir) : undefined;
  if (slow) {
    proxies.push(...slow.proxies);
    mkdirSync(slow.target.backupDir, { recursive: true });
  }
  const slowDeploys: Run[] = [];
  const oldSlowDeploys: Run[] = [];
  const slowShells: Run[] = [];
  const slowDeploy = async (checkout: string, into: Run[]) => {
    await resetForA(f);
    into.push(await cutover(checkout, slow!.target, 'deploy', [A]));
    await shell(repo, t, 'seed-rollback.sh', B, pg);
  };
  // BENCH_BASELINE_REPO: another checkout of cutover (the commit before a change), measured in the same rounds
  const before = process.env.BENCH_BASELINE_REPO;
  const deploys: Run[] = [];
  const rollbacks: Run[] = [];
  const shells: Run[] = [];
  const old: Run[] = [];
  const oldRollbacks: Run[] = [];
  for (let i = 0; i < rounds; i++) {
    if (before) {
      await resetForA(f);
      old.push(await cutover(before, t, 'deploy', [A]));
      oldRollbacks.push(await cutover(before, t, 'rollback', []));
    }
    await resetForA(f);
    deploys.push(await cutover(repo, t, 'deploy', [A]));
    rollbacks.push(await cutover(repo, t, 'rollback', []));
    await resetForA(f);
    shells.push(await shell(repo, t, 'seed-deploy.sh', A, pg));
    await shell(repo, t, 'seed-rollback.sh', B, pg);
    if (slow && before) await slowDeploy(before, oldSlowDeploys);
    if (slow) await slowDeploy(repo, slowDeploys);
    if (slow) {
      await resetForA(f);
      slowShells.push(await shell(repo, slow.target, 'seed-deploy.sh', A, pg));
      await shell(repo, t, 'seed-rollback.sh', B, pg);
    }
  }
  const d = median(deploys.map((r) => r.ms));
  const text = table('Quick: one-host deploy, shell vs cutover, and the in-place rollback', [
    { name: 'bench/seed-deploy.sh', median: median(shells.map((r) => r.ms)), samples: rounds },
    { name: 'deploy.ts', median: d, samples: rounds, note: `${median(deploys.map(trips))} SSH commands (sshd log ${median(deploys.map((r) => r.sshdCommands))}), first output ${fmtMs(median(deploys.map((r) => r.firstMs)))}` },
    { name: 'rollback.ts', median: median(rollbacks.map((r) => r.ms)), samples: rounds, note: `${median(rollbacks.map(trips))} SSH commands` },
    ...(before
      ? [
          { name: `deploy.ts of ${before}`, median: median(old.map((r) => r.ms)), samples: rounds, note: `${median(old.map(trips))} SSH commands, first output ${fmtMs(median(old.map((r) => r.firstMs)))}` },
          { name: `rollback.ts of ${before}`, median: median(oldRollbacks.map((r) => r.ms)), samples: rounds, note: `${median(oldRollbacks.map(trips))} SSH commands` },
        ]
      : []),
    ...(slow ? slowRows(shells, deploys, slowShells, slowDeploys, old, oldSlowDeploys, before) : []),
  ]);
  return { text, verdicts: [] };
}

/** Over the slow link: each one's wall time and its growth over its own loopback run (the target compares the growths). */
function slowRows(shells: Run[], deploys: Run[], slowShells: Run[], slowDeploys: Run[], old: Run[], oldSlow: Run[], before: string | undefined): Row[] {
  const m = (rs: Run[]) => median(rs.map((r) => r.ms));
  const shellGrowth = m(slowShells) - m(shells);
  const row = (name: string, slowRuns: Run[], fast: Run[]): Row => {
    const growth = m(slowRuns) - m(fast);
    return { name, median: m(slowRuns), samples: slowRuns.length, note: `growth +${fmtMs(growth)}: ${x(growth, shellGrowth)} the shell's` };
  };
  return [
    { name: `bench/seed-deploy.sh over the slow link (+${SLOW_MS} ms each way)`, median: m(slowShells), samples: slowShells.length, note: `growth +${fmtMs(shellGrowth)}` },
    row('deploy.ts over the slow link', slowDeploys, deploys),
    ...(before ? [row(`deploy.ts of ${before} over the slow link`, oldSlow, old)] : []),
  ];
}

const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

const stepsMs = (r: Run, prefix: string) => (r.json?.steps ?? []).filter((s) => s.name.startsWith(prefix)).reduce((a, s) => a + s.durationMs, 0);
const trips = (r: Run) => r.json?.roundTrips?.total ?? NaN;

/** `quick`: only the one-host deploy against the shell and the in-place rollback (for iterating on a change). */
export async function benchDeploy(repo: string, rounds = 3, quick = false): Promise<{ text: string; verdicts: Verdict[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-deploy-'));
  chmodSync(dir, 0o755); // the postgres user must reach the cluster's folder inside
  const pg = await startPostgres({ dir: path.join(dir, 'pg') });
  const pgInfo = { host: pg.host, port: pg.port, user: pg.user };
  const fleets: DeployFleet[] = [];
  const proxies: DelayProxy[] = [];
  const logged = () => ({ log: true, config: ['LogLevel VERBOSE'] });
  try {
    const inPlace = await startDeployFleet({ hosts: 1, pg: pgInfo, dir: path.join(dir, 'in-place'), secondService: true, hostOptions: logged });
    fleets.push(inPlace);
    if (quick) return await quickRounds(repo, inPlace, rounds, pgInfo, dir, proxies);
    const releases = await startDeployFleet({ hosts: 1, pg: pgInfo, dir: path.join(dir, 'releases'), strategy: 'releases', secondService: true, hostOptions: logged });
    fleets.push(releases);
    const three = await startDeployFleet({ hosts: 3, pg: pgInfo, dir: path.join(dir, 'three'), secondService: true, hostOptions: logged });
    fleets.push(three);
    // production-like data: 200k rows in the table the chat writes to (quickRounds adds its own)
    await inPlace.psql(`insert into messages (user_id, body) select g % 1000, 'message ' || g || ' ' || md5(g::text) from generate_series(1, 200000) g; analyze messages;`);
    const fast = fastTarget(inPlace);
    const slow = await slowTarget(inPlace, dir);
    proxies.push(...slow.proxies);
    mkdirSync(slow.target.backupDir, { recursive: true });
    const rel = fastTarget(releases);
    const thr = fastTarget(three);
    const empty = path.join(dir, 'empty.ts');
    writeFileSync(empty, 'export {};\n');

    // warm-up (untimed): every host on B with its migration; the disk cache warm
    for (const t of [fast, rel, thr]) await cutover(repo, t, 'deploy', [B]);

    const s: Record<string, Run[]> = {};
    const add = (k: string, r: Run) => (s[k] ??= []).push(r);
    const wall = (k: string) => median((s[k] ?? []).map((r) => r.ms));
    for (let i = 0; i < rounds; i++) {
      // interleaved: a noisy moment hurts every case alike
      await resetForA(inPlace);
      add('cutover', await cutover(repo, fast, 'deploy', [A]));
      add('rollback', await cutover(repo, fast, 'rollback', []));
      await resetForA(inPlace);
      add('shell', await shell(repo, fast, 'seed-deploy.sh', A, pgInfo));
      add('shellRollback', await shell(repo, fast, 'seed-rollback.sh', B, pgInfo));
      await resetForA(inPlace);
      add('slowCutover', await cutover(repo, slow.target, 'deploy', [A]));
      await shell(repo, fast, 'seed-rollback.sh', B, pgInfo);
      await resetForA(inPlace);
      add('slowShell', await shell(repo, slow.target, 'seed-deploy.sh', A, pgInfo));
      await shell(repo, fast, 'seed-rollback.sh', B, pgInfo);
      add('failed', await cutover(repo, fast, 'deploy', [BROKEN], [1]));
      await resetForA(releases);
      add('relDeploy', await cutover(repo, rel, 'deploy', [A]));
      add('relRollback', await cutover(repo, rel, 'rollback', []));
      await resetForA(three);
      add('three', await cutover(repo, thr, 'deploy', [A]));
      await cutover(repo, thr, 'rollback', []);
      add('empty', await spawnTimed('npx', ['tsx', empty], { cwd: repo, env: {} }, inPlace));
      add('help', await spawnTimed('npx', ['tsx', 'tasks/deploy.ts', '--help'], { cwd: repo, env: {} }, inPlace));
      add('emptyTsx', await spawnTimed(path.join(repo, 'node_modules/.bin/tsx'), [empty], { cwd: repo, env: {} }, inPlace));
    }

    const deployMs = wall('cutover');
    const shellMs = wall('shell');
    const tripsOne = median(s.cutover!.map(trips));
    const sshdOne = median(s.cutover!.map((r) => r.sshdCommands));
    const runnerMatchesLog = [...s.cutover!, ...s.rollback!, ...s.three!].every((r) => trips(r) === r.sshdCommands);
    const extraHost = Math.max(...s.three!.map((r) => Math.max(...Object.entries(r.json?.roundTrips?.hosts ?? {}).filter(([h]) => h !== 'host1').map(([, n]) => n))));
    const recoverFailed = median(s.failed!.map((r) => stepsMs(r, 'rollback-')));
    const growthCutover = wall('slowCutover') - deployMs;
    const growthShell = wall('slowShell') - shellMs;
    const firstOut = median(s.cutover!.map((r) => r.firstMs));
    const emptyMs = wall('empty');
    const helpMs = wall('help');

    const text = [
      table('Deploy of one host (two services, 200k rows, one migration): the seed procedure as plain shell vs cutover, wall time', [
        { name: 'bench/seed-deploy.sh (5 ssh connections, curl)', median: shellMs, samples: rounds, note: `sshd saw ${median(s.shell!.map((r) => r.sshdCommands))} commands` },
        { name: `npx tsx tasks/deploy.ts ${A}`, median: deployMs, samples: rounds, note: `${tripsOne} SSH commands (runner), ${sshdOne} in the sshd log; first output after ${fmtMs(firstOut)}` },
        { name: 'npx tsx tasks/rollback.ts (in place)', median: wall('rollback'), samples: rounds, note: `${median(s.rollback!.map(trips))} SSH commands` },
        { name: 'automatic rollback inside a failed deploy', median: recoverFailed, samples: rounds, note: `rollback-* steps of deploy ${BROKEN} (health 503), whole run ${fmtMs(wall('failed'))}` },
        { name: 'bench/seed-rollback.sh (reference)', median: wall('shellRollback'), samples: rounds },
      ]),
      table('Releases strategy (one host): deploy vs rollback (switch current back, no reinstall)', [
        { name: `deploy ${A} (new release folder, installed)`, median: wall('relDeploy'), samples: rounds, note: `${median(s.relDeploy!.map(trips))} SSH commands` },
        { name: 'rollback', median: wall('relRollback'), samples: rounds, note: `${median(s.relRollback!.map(trips))} SSH commands` },
      ]),
      table(`Over a slow link (a proxy adding ${SLOW_MS} ms each way to ssh and HTTP)`, [
        { name: 'shell, growth', median: growthShell, samples: rounds, note: `${fmtMs(shellMs)} -> ${fmtMs(wall('slowShell'))}` },
        { name: 'cutover, growth', median: growthCutover, samples: rounds, note: `${fmtMs(deployMs)} -> ${fmtMs(wall('slowCutover'))}` },
      ]),
      table('Start-up', [
        { name: 'npx tsx <empty file>', median: emptyMs, samples: rounds },
        { name: 'deploy.ts: first output', median: firstOut, samples: rounds },
        { name: 'deploy.ts --help', median: helpMs, samples: rounds },
        { name: 'node_modules/.bin/tsx <empty file> (npx left out)', median: wall('emptyTsx'), samples: rounds },
      ]),
      `\n  3-host deploy: SSH commands per host ${JSON.stringify(s.three!.map((r) => r.json?.roundTrips?.hosts))}`,
    ].join('\n');
    return {
      text,
      verdicts: [
        { target: 'deploy.ts <= 1.0x the seed procedure as plain shell', ok: deployMs <= shellMs, measured: `${fmtMs(deployMs)} vs ${fmtMs(shellMs)}: ${x(deployMs, shellMs)}` },
        { target: 'SSH commands of a one-host deploy <= 8', ok: tripsOne <= 8, measured: `${tripsOne} (runner), ${sshdOne} (sshd log)` },
        { target: 'SSH commands per extra host in a fleet <= 6', ok: extraHost <= 6, measured: `${extraHost} (3-host deploy, the busiest extra host)` },
        { target: "the runner's count equals the sshd log's", ok: runnerMatchesLog, measured: runnerMatchesLog ? 'equal on every deploy and rollback' : 'DIFFERENT: see the tables' },
        { target: 'rollback.ts (in place) <= 0.5x a deploy', ok: wall('rollback') <= 0.5 * deployMs, measured: `${fmtMs(wall('rollback'))}: ${x(wall('rollback'), deployMs)}` },
        { target: 'rollback with releases <= 0.3x a deploy', ok: wall('relRollback') <= 0.3 * wall('relDeploy'), measured: `${fmtMs(wall('relRollback'))} vs ${fmtMs(wall('relDeploy'))}: ${x(wall('relRollback'), wall('relDeploy'))}` },
        { target: 'automatic rollback in a failed deploy <= 0.5x a deploy', ok: recoverFailed <= 0.5 * deployMs, measured: `${fmtMs(recoverFailed)}: ${x(recoverFailed, deployMs)}` },
        { target: 'deploy.ts first output <= 1.3x an empty npx tsx file', ok: firstOut <= 1.3 * emptyMs, measured: `${fmtMs(firstOut)} vs ${fmtMs(emptyMs)}: ${x(firstOut, emptyMs)}` },
        { target: 'deploy.ts --help <= 1.1x an empty npx tsx file', ok: helpMs <= 1.1 * emptyMs, measured: `${fmtMs(helpMs)}: ${x(helpMs, emptyMs)}` },
        { target: `slow link (+${SLOW_MS} ms each way): cutover's growth <= half the shell's`, ok: growthCutover <= 0.5 * growthShell, measured: `+${fmtMs(growthCutover)} vs +${fmtMs(growthShell)}: ${x(growthCutover, growthShell)}` },
      ],
    };
  } finally {
    for (const p of proxies) await p.close();
    for (const f of fleets) await f.stop();
    await pg.stop();
    killTracked();
    rmSync(dir, { recursive: true, force: true });
  }
}
