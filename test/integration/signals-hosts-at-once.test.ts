// A monitor reads every host's request log at once: an interval of a 20-host canary costs one round
// trip, not twenty. Real local runners (one process per read), each host's reads counted in flight.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SignalsConfig } from '../../tasks/lib/config/signals.ts';
import type { Host } from '../../tasks/lib/config/schema.ts';
import type { Command } from '../../tasks/lib/commands/shell.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import type { ExecOptions, Runner } from '../../tasks/lib/runners/types.ts';
import { Monitor } from '../../tasks/lib/signals/monitor.ts';
import { openSources } from '../../tasks/lib/signals/sources/open.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-hosts-at-once-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Monitor.read', () => {
  it('reads the hosts of a source at once, each one its own records', async () => {
    const T = Date.parse('2026-12-01T12:00:00Z');
    const names = ['h1', 'h2', 'h3', 'h4', 'h5'];
    // each host's log in its own folder: the runner of a host reads through a `cat` that sees only its own
    for (const [i, n] of names.entries()) {
      mkdirSync(path.join(dir, n, 'logs'), { recursive: true });
      const lines = Array.from({ length: 10 * (i + 1) }, (_, k) => JSON.stringify({ timestamp: new Date(T + k * 100).toISOString(), status: 200, latency_ms: 10 * (i + 1) }));
      writeFileSync(path.join(dir, n, 'logs', 'predictions_2026-12-01.jsonl'), `${lines.join('\n')}\n`);
    }
    let inFlight = 0;
    let most = 0;
    // 'ssh': read through the host's runner (a local host without a mount reads the file itself)
    const hosts: Host[] = names.map((name) => ({ name, address: '127.0.0.1', transport: 'ssh', pathPrefix: [] }) as unknown as Host);
    const runners = new Map<string, Runner>(
      names.map((n) => {
        const real = new LocalRunner({ name: n, address: '127.0.0.1', port: 22, user: 'u' });
        const counted: Runner = {
          host: real.host,
          close: () => real.close(),
          async exec(cmd: Command, opts?: ExecOptions) {
            most = Math.max(most, ++inFlight);
            try {
              // the shared path names this host's own folder (as a mount would on a real host)
              return await real.exec({ ...cmd, script: cmd.script.replaceAll(`${dir}/shared`, `${dir}/${n}`) }, opts);
            } finally {
              inFlight--;
            }
          },
        };
        return [n, counted];
      }),
    );
    const signals = SignalsConfig.parse({
      window: '1h',
      sources: { requests: { kind: 'jsonl', path: `${dir}/shared/logs/predictions_{date}.jsonl`, on: 'hosts' } },
      metrics: { p95: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.95 }, n: { kind: 'count', source: 'requests' } },
      gates: [{ name: 'p95', metric: 'p95', max: 1000 }],
    });
    const m = new Monitor(signals, openSources(signals, { hosts, runnerFor: (h) => runners.get(h.name)! }), { cohorts: 'keys' });
    const tick = await m.tick(T + 60_000);
    expect(most).toBe(names.length); // every host's read in flight at the same time
    expect(names.map((n) => tick.values.cohorts[n]!.n!.value)).toEqual([10, 20, 30, 40, 50]);
    expect(names.map((n) => tick.values.cohorts[n]!.p95!.value)).toEqual([10, 20, 30, 40, 50]);
    expect(tick.read.requests).toMatchObject({ lines: 150 });
  });
});
