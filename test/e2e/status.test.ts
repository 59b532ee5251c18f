import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployFleet, type DeployFleet } from '../support/deploy-fleet.ts';

describe('status', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet({ hosts: 2, strategy: 'releases' });
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('scratch', async () => {
    let t = Date.now();
    for (const args of [['deploy', 'v1.1.0'], ['deploy', 'v1.4.0'], ['deploy', 'v1.2.0'], ['rollback']]) {
      const d = await f.task(args);
      console.log(args.join(' '), d.code, Date.now() - t); t = Date.now();
    }
    const r = await f.task(['status']);
    console.log(Date.now() - t, r.code, r.stdout, r.stderr);
    const j = await f.task(['status', '--json']);
    console.log(JSON.stringify(j.json, null, 1));
  }, 120_000);
});
