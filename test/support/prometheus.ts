/**
 * A real Prometheus (Debian package) on loopback for the tests: scrapes the given targets every
 * second, its data in its own folder, tracked and stopped by pid. `waitFor` polls a query until
 * it has data (the first samples appear only after a scrape or two).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Socket } from 'node:net';
import path from 'node:path';
import { freePort } from '../../sandbox/postgres.ts';
import { trackProcess, untrackProcess } from './processes.ts';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface ScrapeJob {
  readonly job: string;
  /** host:port of each target (its /metrics). */
  readonly targets: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PrometheusOptions {
  readonly scrape: readonly ScrapeJob[];
  readonly scrapeInterval?: string;
  readonly dir?: string;
}

export interface Prometheus {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** Polls an instant query until it returns a result for which `accept` is true (default: any sample). */
  waitFor(query: string, accept?: (values: number[]) => boolean, timeoutMs?: number): Promise<number[]>;
  stop(): Promise<void>;
}

/** prometheus.yml (pure). */
export function prometheusConfig(o: { scrape: readonly ScrapeJob[]; scrapeInterval: string }): string {
  const lines = ['global:', `  scrape_interval: ${o.scrapeInterval}`, `  evaluation_interval: ${o.scrapeInterval}`, 'scrape_configs:'];
  for (const j of o.scrape) {
    lines.push(`  - job_name: ${JSON.stringify(j.job)}`, '    static_configs:', `      - targets: [${j.targets.map((t) => JSON.stringify(t)).join(', ')}]`);
    if (j.labels && Object.keys(j.labels).length) lines.push('        labels:', ...Object.entries(j.labels).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`));
  }
  return `${lines.join('\n')}\n`;
}

async function poll<T>(fn: () => Promise<T | null>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`prometheus: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const dir = path.resolve(opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'cutover-prom-')));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(config, prometheusConfig({ scrape: opts.scrape, scrapeInterval: opts.scrapeInterval ?? '1s' }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const pid = child.pid!;
  try {
    await poll(async () => (child.exitCode !== null ? Promise.reject(new Error('exited')) : (await fetch(`${url}/-/ready`)).ok || null), `${url}/-/ready`, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`prometheus did not start: ${(err as Error).message}: ${stderr.trim()}`);
  }
  trackProcess(pid, { label: `prometheus ${url}`, marker: config });
  child.unref();
  (child.stderr as Socket).unref(); // a forgotten server must not keep the worker alive
  return {
    url,
    port,
    dir,
    pid,
    waitFor(query, accept = (v) => v.length > 0, timeoutMs = 20_000) {
      return poll(
        async () => {
          const res = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data?: { result?: { value: [number, string] }[] } };
          const values = (res.data?.result ?? []).map((r) => Number(r.value[1]));
          return accept(values) ? values : null;
        },
        `data for ${query}`,
        timeoutMs,
      );
    },
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return untrackProcess(pid);
      }
      await poll(async () => (child.exitCode !== null || child.signalCode !== null ? true : null), 'prometheus to stop', 10_000).catch(() => child.kill('SIGKILL'));
      untrackProcess(pid);
    },
  };
}
