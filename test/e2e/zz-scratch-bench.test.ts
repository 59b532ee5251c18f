import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironment } from '../../tasks/lib/config/load.ts';
import { verifyEnvironment } from '../../tasks/lib/oncall/engine.ts';
import { CHECK_KINDS, type CheckKind } from '../../tasks/lib/oncall/types.ts';
import { startDeployFleet, type DeployFleet } from '../support/deploy-fleet.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('bench scratch', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet({ hosts: Number(process.env.N ?? 20) });
  }, 240_000);
  afterAll(async () => {
    await f?.stop();
  });
  it('measures', async () => {
    const env = await loadEnvironment('sbx', { dir: f.envDir, processEnv: { ...process.env, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'x' } });
    const { readFileSync } = await import('node:fs');
    const cpu = () => { const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number); return f[0]! + f[1]! + f[2]! + f[5]! + f[6]!; };
    const cpuBy: Record<string, number[]> = {};
    const t = async (opts: Parameters<typeof verifyEnvironment>[1]) => {
      const c0 = cpu();
      const t0 = performance.now();
      const r = await verifyEnvironment(env, opts);
      const key = `${opts?.runners ? 'pre' : 'fresh'}:${opts?.hosts ? 1 : 20}:${opts?.only?.join() ?? 'all'}`;
      (cpuBy[key] ??= []).push((cpu() - c0) * 10);
      return { ms: performance.now() - t0, r };
    };
    const kinds: CheckKind[] = ['service', 'version', 'health', 'readiness', 'chat', 'latency', 'journal', 'disk', 'backup', 'lock'];
    await t({ hosts: ['host1'] }); // warm
    const singles: Record<string, number[]> = {};
    const full: number[] = [];
    const all: number[] = [];
    for (let i = 0; i < 7; i++) {
      for (const k of kinds) (singles[k] ??= []).push((await t({ hosts: ['host1'], only: [k] })).ms);
      full.push((await t({ hosts: ['host1'] })).ms);
      all.push((await t({})).ms);
    }
    const med = Object.fromEntries(Object.entries(singles).map(([k, v]) => [k, Math.round(median(v))]));
    const slowest = Math.max(...Object.values(med));
    console.log('singles', med, 'full 1 host', Math.round(median(full)), 'ratio', (median(full) / slowest).toFixed(2), `all ${env.config.hosts.length} hosts`, Math.round(median(all)), 'ratio', (median(all) / median(full)).toFixed(2));
    const { runnerFor } = await import('../../tasks/lib/runners/for-host.ts');
    const runners = new Map((env.config.hosts as any[]).map((h) => [h.name, runnerFor(env, h)]));
    await t({ runners });
    const pre: Record<string, number[]> = {};
    for (let i = 0; i < 5; i++) {
      (pre.full20 ??= []).push((await t({ runners })).ms);
      (pre.full1 ??= []).push((await t({ runners, hosts: ['host1'] })).ms);
      for (const k of kinds) (pre[`20:${k}`] ??= []).push((await t({ runners, only: [k] })).ms);
      for (const k of ['journal','service','disk'] as CheckKind[]) (pre[`fresh20:${k}`] ??= []).push((await t({ only: [k] })).ms);
    }
    console.log('preconnected', Object.fromEntries(Object.entries(pre).map(([k, v]) => [k, Math.round(median(v))])));
    await Promise.all([...runners.values()].map((r) => r.close()));
    console.log('cpu ms', Object.fromEntries(Object.entries(cpuBy).map(([k, v]) => [k, Math.round(median(v))])));
    const last = await t({});
    console.log(last.r.overall.headline);
    expect(CHECK_KINDS.length).toBe(13);
  }, 600_000);
});
