import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployFleet, type DeployFleet } from '../support/deploy-fleet.ts';

describe('verify', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet({ hosts: 2 });
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('scratch', async () => {
    const d = await f.task(['deploy', 'v1.1.0']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const t0 = Date.now();
    const r = await f.task(['verify']);
    console.log(Date.now() - t0, r.code, r.stdout, r.stderr);
    const j = await f.task(['verify', '--json']);
    console.log(JSON.stringify(j.json?.timingsMs), j.json?.durationMs);
  }, 60_000);
});
