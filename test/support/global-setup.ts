// vitest globalSetup: one PostgreSQL cluster for the whole run, given to tests as inject('pg').
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPostgres } from '../../sandbox/postgres.ts';
import { cleanupEarlierRuns, trackProcess, untrackProcess } from './processes.ts';

export interface ProvidedPg { host: string; port: number; user: string }

declare module 'vitest' {
  export interface ProvidedContext {
    pg: ProvidedPg;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stopped = await cleanupEarlierRuns();
  if (stopped.length) console.warn(`stopped leftovers of an earlier test run: ${stopped.join(', ')}`);
  // under the temp folder: as root, the server runs as `postgres`, which must be able to reach it
  const dir = await mkdtemp(join(tmpdir(), 'cutover-pg-'));
  const pg = await startPostgres({ dir });
  const pid = Number((await readFile(join(pg.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  trackProcess(pid, { label: `postgres ${pg.host}:${pg.port}`, marker: pg.dataDir, signal: 'SIGINT' }); // SIGINT: fast shutdown
  project.provide('pg', { host: pg.host, port: pg.port, user: pg.user });
  return async () => {
    await pg.stop();
    untrackProcess(pid);
    await rm(dir, { recursive: true, force: true });
  };
}
