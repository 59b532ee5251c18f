// A throwaway PostgreSQL cluster for the sandbox: trust auth, superuser `cutover`, 127.0.0.1 only.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';

export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  user: string;
  dataDir: string;
  binDir: string;
  psql(db: string, sql: string): Promise<string>;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'cutover';
const isRoot = process.getuid?.() === 0;

/** /usr/lib/postgresql/<newest>/bin, or the folder of an initdb on PATH, or null. */
export function findPgBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, 'initdb'))) return dir;
  return null;
}

function run(file: string, args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${[file, ...args].join(' ')} failed: ${String(stderr).trim() || err.message}`));
        else resolvePromise(String(stdout));
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a server binary as the `postgres` user when we are root (the server refuses to run as root). */
function runServerTool(binDir: string, tool: string, args: string[], cwd: string): Promise<string> {
  if (!isRoot) return run(join(binDir, tool), args, { cwd });
  const command = [join(binDir, tool), ...args].map(shq).join(' ');
  return run('su', ['postgres', '-s', '/bin/sh', '-c', command], { cwd });
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePromise(address.port) : reject(new Error('no port'))));
    });
  });
}

// Every folder above dir must be searchable by `postgres`, or the server cannot reach its data.
async function checkReachable(dir: string): Promise<void> {
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    const s = await stat(d);
    if (!(s.mode & 0o001)) throw new Error(`postgres cannot reach ${dir}: ${d} is not searchable by other users; use a folder under /tmp`);
  }
}

/** The server running on `dataDir` (its postmaster's pid and port), or null. */
export function postmasterPid(dataDir: string): { pid: number; port: number } | null {
  try {
    const lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    // a postmaster.pid left by a crash can name a recycled pid: it must be a server on this data folder
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) return null;
    return { pid, port };
  } catch {
    return null;
  }
}

/** psql and createDatabase against a running server (e.g. the one a test receives with inject('pg')). */
export function connectPostgres(target: { host: string; port: number; user: string }): Pick<PgCluster, 'psql' | 'createDatabase'> {
  const binDir = findPgBinDir();
  const psqlBin = binDir && existsSync(join(binDir, 'psql')) ? join(binDir, 'psql') : 'psql';
  const args = (db: string, vars: Record<string, string>) => ['-X', '-q', '-h', target.host, '-p', String(target.port), '-U', target.user,
    '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', ...Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '-f', '-'];
  const env = { ...process.env, PGCONNECT_TIMEOUT: '10', PGPASSWORD: undefined, PGSERVICE: undefined, PGOPTIONS: undefined };
  // SQL goes in on stdin so several statements run in order and the first error stops them
  const query = async (db: string, sql: string, vars: Record<string, string> = {}) =>
    (await run(psqlBin, args(db, vars), { input: sql, env })).replace(/\n$/, '');
  return {
    psql: (db, sql) => query(db, sql),
    async createDatabase(name) {
      const sql = `SELECT format('CREATE DATABASE %I', :'name') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec\n`;
      await query('postgres', sql, { name }); // idempotent: an existing database is kept
    },
  };
}

function cluster(binDir: string, dataDir: string, port: number): PgCluster {
  return {
    host: '127.0.0.1',
    port,
    user: USER,
    dataDir,
    binDir,
    ...connectPostgres({ host: '127.0.0.1', port, user: USER }),
    async stop() {
      const running = postmasterPid(dataDir);
      if (!running) return;
      try {
        await runServerTool(binDir, 'pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], dirname(dataDir));
      } catch {
        try {
          process.kill(running.pid, 'SIGQUIT');
        } catch {}
        const deadline = Date.now() + 5000;
        while (postmasterPid(dataDir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        try {
          process.kill(running.pid, 'SIGKILL');
        } catch {}
      }
    },
  };
}

async function initCluster(binDir: string, dir: string, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (isRoot) {
    await chmod(dir, 0o755);
    await checkReachable(dataDir);
    const { uid, gid } = await postgresIds();
    await chown(dataDir, uid, gid);
  }
  await runServerTool(binDir, 'initdb', ['-D', dataDir, '--auth=trust', '-U', USER, '-E', 'UTF8', '--locale=C', '--no-sync'], dir);
  await writeFile(join(dataDir, 'postgresql.conf'), "include_if_exists = 'cutover.conf'\n", { flag: 'a' });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', 'postgres'])).trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).trim());
  return { uid, gid };
}

async function startServer(binDir: string, dir: string, dataDir: string, port: number): Promise<void> {
  // fsync=off etc.: a test cluster trades durability for speed; the socket stays inside the data folder
  const conf = [`listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dataDir.replace(/'/g, "''")}'`,
    'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', ''].join('\n');
  await writeFile(join(dataDir, 'cutover.conf'), conf);
  if (isRoot) {
    const { uid, gid } = await postgresIds();
    await chown(join(dataDir, 'cutover.conf'), uid, gid);
  }
  const log = join(dir, 'postgres.log');
  try {
    await runServerTool(binDir, 'pg_ctl', ['start', '-D', dataDir, '-l', log, '-w', '-t', '60'], dir);
  } catch (err) {
    const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
}

/** initdb (trust auth, superuser `cutover`) in <dir>/data and start it on 127.0.0.1:port (a free port if none is given). */
export async function startPostgres(opts: { dir: string; port?: number }): Promise<PgCluster> {
  const binDir = findPgBinDir();
  if (!binDir) throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found');
  const dir = resolve(opts.dir);
  const dataDir = join(dir, 'data');
  await mkdir(dir, { recursive: true });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initCluster(binDir, dir, dataDir);
  if (isRoot) await chmod(dir, 0o755);
  await writeFile(join(dir, 'postgres.log'), '', { flag: 'a' });
  if (isRoot) {
    const { uid, gid } = await postgresIds();
    await chown(join(dir, 'postgres.log'), uid, gid);
  }
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      await startServer(binDir, dir, dataDir, port);
      return cluster(binDir, dataDir, port);
    } catch (err) {
      // a free port can be taken between the check and the start: try another one
      if (opts.port !== undefined || attempt >= 3) throw err;
    }
  }
}

/**
 * Stops the server running on `dataDir`, if any: pg_ctl stop -m fast (as `postgres` when root),
 * else SIGQUIT and SIGKILL to its postmaster's pid. Returns the pid it stopped, or null.
 */
export async function stopCluster(dataDir: string): Promise<number | null> {
  const running = postmasterPid(dataDir);
  if (!running) return null;
  const binDir = findPgBinDir();
  if (binDir) await cluster(binDir, dataDir, running.port).stop();
  else {
    try {
      process.kill(running.pid, 'SIGINT'); // fast shutdown, without pg_ctl
    } catch {}
  }
  return running.pid;
}

/** Reuses the cluster running in <dir> on that port, else starts it there (initdb on first use). */
export async function ensurePostgres(opts: { dir: string; port: number }): Promise<PgCluster> {
  const binDir = findPgBinDir();
  if (!binDir) throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found');
  const dataDir = join(resolve(opts.dir), 'data');
  const running = postmasterPid(dataDir);
  if (running?.port === opts.port) return cluster(binDir, dataDir, opts.port);
  if (running) await cluster(binDir, dataDir, running.port).stop(); // running on another port: move it
  return startPostgres(opts);
}
