/** A deploy fleet whose services restart through SSM, against the fake AWS (real SDK clients in the task). */
import { instanceIdFor } from './aws/model.ts';
import { INHERITED_AWS_VARS, TEST_REGION, testAwsEnv } from './aws/env.ts';
import { startAwsForFleet } from './aws/fleet.ts';
import type { AwsServer } from './aws/server.ts';
import { startDeployFleet, type DeployFleet, type FleetOptions } from './deploy-fleet.ts';

export interface SsmFleet {
  readonly f: DeployFleet;
  readonly aws: AwsServer;
  /** The child environment: static test credentials, nothing inherited that could reach real AWS. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startSsmFleet(opts: FleetOptions & { discovery?: boolean; pageSize?: number } = {}): Promise<SsmFleet> {
  const f = await startDeployFleet({ ...opts, samePort: opts.discovery || opts.samePort });
  const aws = await startAwsForFleet(f.fleet, { pageSize: opts.pageSize ?? 50 });
  f.editEnv((text) => {
    let t = text
      .replace('services: [{ unit: "demo-chat", sudo: true }]', "services: [{ unit: 'demo-chat', sudo: true, restart: 'ssm' }]")
      .replace("  description: 'end-to-end test fleet',", `  description: 'end-to-end test fleet',\n  aws: { region: '${TEST_REGION}', endpoint: '${aws.endpoint}' },\n  ssm: { timeoutSeconds: 30, executionTimeout: '30s', pollMin: '100ms', pollMax: '500ms', deadline: '20s' },`);
    if (opts.discovery) {
      const port = f.fleet.hosts[0]!.port;
      t = t.replace(/  hosts: \[.*\],\n/, `  hosts: { ec2: { tags: { Role: 'api', Env: 'sbx' }, address: 'private', user: 'root', port: ${port} } },\n`);
    } else {
      f.fleet.hosts.forEach((h, i) => {
        t = t.replace(`{ name: ${JSON.stringify(h.name)}, `, `{ name: ${JSON.stringify(h.name)}, instanceId: '${instanceIdFor(i)}', `);
      });
    }
    return t;
  });
  const env: NodeJS.ProcessEnv = { ...testAwsEnv() };
  for (const k of INHERITED_AWS_VARS) env[k] = undefined;
  return {
    f,
    aws,
    env,
    async stop() {
      await aws.close();
      await f.stop();
    },
  };
}
