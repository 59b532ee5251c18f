/** Rolling deploys over a fleet of 6 sandbox hosts, in batches of 2, with a failure budget. */
import { afterEach, describe, expect, it } from 'vitest';
import { startDeployFleet, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';

let f: DeployFleet | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

const tags = async (fleet: DeployFleet) => Promise.all(fleet.fleet.hosts.map((h) => tagOn(fleet, h)));
const broken = (indexes: number[]) => (i: number) => (indexes.includes(i) ? { DEMO_UNHEALTHY_ON: 'v1.1.0' } : {});

describe('rolling deploys', () => {
  it('one host failing verification in batch 2, within maxFailures: it is rolled back, the rollout goes on, exit 0', async () => {
    f = await startDeployFleet({ hosts: 6, unitEnv: broken([2]), extra: "rollout: { batchSize: 2, maxFailures: 1, firstBatchGates: true }," });
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.hosts.map((h: { name: string; stage: string }) => `${h.name}:${h.stage}`)).toEqual([
      'host1:verified', 'host2:verified', 'host3:rolled-back', 'host4:verified', 'host5:verified', 'host6:verified',
    ]);
    expect(await tags(f)).toEqual(['v1.1.0', 'v1.1.0', 'v1.0.0', 'v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(r.json.notes).toContain('host3 failed and were rolled back; within rollout.maxFailures, the deploy went on');
    expect(r.stderr + r.stdout).toContain('Batch 2/3: host3, host4');
  });

  it('failures past maxFailures: stop, roll back every host already moved, leave the rest untouched, exit 1', async () => {
    f = await startDeployFleet({ hosts: 6, unitEnv: broken([2, 3]), extra: "rollout: { batchSize: 2, maxFailures: 1, firstBatchGates: true }," });
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.outcome).toBe('rolled-back');
    expect(r.json.hosts.map((h: { name: string; stage: string }) => `${h.name}:${h.stage}`)).toEqual([
      'host1:rolled-back', 'host2:rolled-back', 'host3:rolled-back', 'host4:rolled-back', 'host5:untouched', 'host6:untouched',
    ]);
    expect(await tags(f)).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0']);
    expect(r.json.error).toContain('stopped: 2 host(s) failed, more than rollout.maxFailures allows (1 of 6)');
  });

  it('the first batch gates the rest', async () => {
    f = await startDeployFleet({ hosts: 4, unitEnv: broken([1]), extra: "rollout: { batchSize: 2, maxFailures: 3, firstBatchGates: true }," });
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.error).toContain('stopped: 1 host(s) failed in the first batch, which gates the rest');
    expect(r.json.hosts.map((h: { stage: string }) => h.stage)).toEqual(['rolled-back', 'rolled-back', 'untouched', 'untouched']);
  });
});
