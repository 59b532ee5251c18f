/**
 * Rolling deploys over a fleet of 6 sandbox hosts, in batches of 2, with a failure budget; each
 * batch's restarts go through one SSM SendCommand (the fake AWS runs it on the hosts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSsmFleet, type SsmFleet } from '../support/aws-fleet.ts';
import { tagOn, type DeployFleet } from '../support/deploy-fleet.ts';

let s: SsmFleet | undefined;
let f: DeployFleet;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

async function start(hosts: number, breakHosts: number[], rollout: string): Promise<void> {
  s = await startSsmFleet({ hosts, unitEnv: broken(breakHosts), extra: `rollout: ${rollout},` });
  f = s.f;
}

const deploy = (tag: string) => f.task(['deploy', tag, '--json'], { env: s!.env });

const tags = async (fleet: DeployFleet) => Promise.all(fleet.fleet.hosts.map((h) => tagOn(fleet, h)));
const broken = (indexes: number[]) => (i: number): Record<string, string> => (indexes.includes(i) ? { DEMO_UNHEALTHY_ON: 'v1.1.0' } : {});

describe('rolling deploys', () => {
  it('one host failing verification in batch 2, within maxFailures: it is rolled back, the rollout goes on, exit 0', async () => {
    await start(6, [2], '{ batchSize: 2, maxFailures: 1, firstBatchGates: true }');
    const r = await deploy('v1.1.0');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.hosts.map((h: { name: string; stage: string }) => `${h.name}:${h.stage}`)).toEqual([
      'host1:verified', 'host2:verified', 'host3:rolled-back', 'host4:verified', 'host5:verified', 'host6:verified',
    ]);
    expect(await tags(f)).toEqual(['v1.1.0', 'v1.1.0', 'v1.0.0', 'v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(r.json.notes).toContain('host3 failed and were rolled back; within rollout.maxFailures, the deploy went on');
    expect(r.stderr + r.stdout).toContain('Batch 2/3: host3, host4');
    // one SendCommand per batch, plus one for host3's rollback
    expect(new Set(r.json.ssmCommands.map((c: { commandId: string }) => c.commandId)).size).toBe(4);
    expect(s!.aws.calls('SSM.SendCommand')).toBe(4);
  });

  it('failures past maxFailures: stop, roll back every host already moved, leave the rest untouched, exit 1', async () => {
    await start(6, [2, 3], '{ batchSize: 2, maxFailures: 1, firstBatchGates: true }');
    const r = await deploy('v1.1.0');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.outcome).toBe('rolled-back');
    expect(r.json.hosts.map((h: { name: string; stage: string }) => `${h.name}:${h.stage}`)).toEqual([
      'host1:rolled-back', 'host2:rolled-back', 'host3:rolled-back', 'host4:rolled-back', 'host5:untouched', 'host6:untouched',
    ]);
    expect(await tags(f)).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0']);
    expect(r.json.error).toContain('stopped: 2 host(s) failed, more than rollout.maxFailures allows (1 of 6)');
  });

  it('the first batch gates the rest', async () => {
    await start(4, [1], '{ batchSize: 2, maxFailures: 3, firstBatchGates: true }');
    const r = await deploy('v1.1.0');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.error).toContain('stopped: 1 host(s) failed in the first batch, which gates the rest');
    expect(r.json.hosts.map((h: { stage: string }) => h.stage)).toEqual(['rolled-back', 'rolled-back', 'untouched', 'untouched']);
  });
});
