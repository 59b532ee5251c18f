/** The demo service (sandbox/demo-app/server.mjs) as a plain process on loopback, for tests that need a real upstream. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DEMO_APP_SOURCE } from '../../sandbox/origin.ts';

/** cutover's own prom-client, as the sandbox hands it to the service. */
export const PROM_CLIENT = path.dirname(createRequire(import.meta.url).resolve('prom-client'));

export interface DemoService {
  readonly url: string;
  /** host:port */
  readonly address: string;
  readonly logDir: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export async function startDemoService(release: { version: string; mode?: string; degraded?: object }, env: Record<string, string> = {}): Promise<DemoService> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'demo-svc-'));
  writeFileSync(path.join(dir, 'release.json'), JSON.stringify({ mode: 'ok', ...release }));
  const logDir = path.join(dir, 'logs');
  const { DATABASE_URL: _drop, ...base } = process.env;
  const child = spawn(process.execPath, [path.join(DEMO_APP_SOURCE, 'server.mjs')], {
    cwd: dir,
    env: { ...base, HOST: '127.0.0.1', PORT: '0', DEMO_LOG_DIR: logDir, DEMO_PROM_CLIENT: PROM_CLIENT, DEMO_RATE_LIMIT: '10000/s', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
    if (m?.[1]) {
      return {
        url: `http://${m[1]}`,
        address: m[1],
        logDir,
        child,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await exited;
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`demo service did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
