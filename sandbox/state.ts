/**
 * A sandbox's state.json: what it created and where (written last, so its absence means "not
 * (completely) created yet"). Two kinds: one sandbox host (environments/local.ts) and the canary
 * fleet (environments/local-canary.ts).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';

export interface PgState { host: string; port: number; user: string; database: string; dataDir: string; binDir: string }

/** One sandbox host (`kind` is absent in sandboxes created before fleets existed). */
export interface SandboxState {
  kind?: 'host';
  createdAt: string; updatedAt: string; root: string; hostRoot: string; appPath: string; origin: string;
  /** The environment that created it (`local`): what `tasks/sandbox.ts stop --env` needs. Absent in older sandboxes. */
  envName?: string;
  unit: string; appPort: number; pgPort: number; appUrl: string; initialRelease: string; unitEnv: Record<string, string>;
  pg: PgState | null;
  skipped: string[];
}

export interface FleetHostState {
  name: string; address: string; hostRoot: string;
  /** This host's own folder, mounted at `shared` for its commands. */
  mountSource: string;
  appUrl: string; unitEnv: Record<string, string>;
}

export interface NginxState { bin: string; port: number; url: string; dir: string; conf: string; include: string; accessLog: string; pidFile: string; upstream: string }

/** The canary fleet: hosts sharing one app path through mounts, nginx in front, another sandbox's PostgreSQL. */
export interface FleetState {
  kind: 'fleet';
  createdAt: string; updatedAt: string; root: string; envName?: string; origin: string;
  /** The path every host sees its own folder at; the app is `appPath` under it. */
  shared: string; appPath: string;
  unit: string; appPort: number; initialRelease: string;
  hosts: FleetHostState[];
  /** The cluster is another sandbox's (the local one's): it is shown, never stopped, from here. */
  pg: (PgState & { sharedWith: string }) | null;
  nginx: NginxState | null;
  skipped: string[];
}

export type AnySandboxState = SandboxState | FleetState;

export const isFleet = (s: AnySandboxState | null): s is FleetState => s?.kind === 'fleet';

export async function readState(path: string): Promise<AnySandboxState | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as AnySandboxState;
  } catch {
    return null;
  }
}

export async function writeState(path: string, state: AnySandboxState): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
