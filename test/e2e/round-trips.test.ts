// SSH command round trips, counted by cutover's runner (--json roundTrips) and by the sandbox sshd's own log.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDeployFleet, type DeployFleet } from '../support/deploy-fleet.ts';

let f: DeployFleet | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

/** sshd at LogLevel VERBOSE logs `Starting session: command ...` once per exec request. */
const sshdCommands = (fleet: DeployFleet) =>
  fleet.fleet.hosts.map((h) => readFileSync(h.logFile!, 'utf8').split('\n').filter((l) => l.includes('Starting session: command')).length);

const logged = () => ({ log: true, config: ['LogLevel VERBOSE'] });

describe('round trips', () => {
  it('a one-host deploy of two services makes at most 8 SSH commands (one more on the first run from a machine: the state-host check); a rollback 6', async () => {
    f = await startDeployFleet({ hosts: 1, secondService: true, hostOptions: logged });
    const before = sshdCommands(f)[0]!; // the fleet's own set-up
    const first = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.json.roundTrips).toEqual({ total: 9, hosts: { host1: 9 } });
    const second = await f.task(['deploy', 'v1.4.0', '--json']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.json.roundTrips).toEqual({ total: 8, hosts: { host1: 8 } });
    const back = await f.task(['rollback', '--json']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.json.roundTrips.total).toBeLessThanOrEqual(6);
    // what sshd saw is what the runner counted
    expect(sshdCommands(f)[0]! - before).toBe(first.json.roundTrips.total + second.json.roundTrips.total + back.json.roundTrips.total);
  });

  it('each extra host of a fleet makes at most 6 SSH commands', async () => {
    f = await startDeployFleet({ hosts: 3, secondService: true, hostOptions: logged });
    const before = sshdCommands(f);
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const hosts = r.json.roundTrips.hosts as Record<string, number>;
    expect(hosts.host2).toBeLessThanOrEqual(6);
    expect(hosts.host3).toBeLessThanOrEqual(6);
    expect(hosts.host1).toBeLessThanOrEqual(9);
    expect(sshdCommands(f).map((n, i) => n - before[i]!)).toEqual([hosts.host1, hosts.host2, hosts.host3]);
  });
});
