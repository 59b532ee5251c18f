/**
 * `canary <tag> --traffic`: the environment's synthetic traffic (signals.traffic, the generator of
 * tasks/traffic.ts) for as long as the canary runs, so that its steps have requests to judge where
 * no users send any (the local demo, a quiet staging). A child process: its requests and their
 * output never slow or clutter the controller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../config/load.ts';

export interface Synthetic {
  readonly pid: number;
  stop(): Promise<void>;
}

/** The generator's arguments (pure): the environment's rate and corpus, for at most a day. */
export function syntheticArgs(envName: string): string[] {
  return [path.join(REPO_ROOT, 'tasks/traffic.ts'), '--env', envName, '--duration', '24h'];
}

export function startSynthetic(envName: string): Synthetic {
  // the same node and tsx loader as this process (process.execArgv), so no PATH lookup
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, ...syntheticArgs(envName)], { cwd: REPO_ROOT, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const late = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await closed;
      clearTimeout(late);
    },
  };
}
