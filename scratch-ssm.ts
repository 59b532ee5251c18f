import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSshHosts } from './test/support/sshd.ts';
import { startAwsForFleet } from './test/support/aws/fleet.ts';
import { useTestAwsEnv } from './test/support/aws/env.ts';
import { ssmRestart } from './tasks/lib/aws/ssm-restart.ts';
useTestAwsEnv();
const fleet = await startSshHosts(3, { dir: mkdtempSync(path.join(os.tmpdir(), 'cutover-awsx-')), units: [{ name: 'svc', workingDirectory: '/tmp', execStart: 'sleep 1000' }] });
const srv = await startAwsForFleet(fleet);
const s = { region: 'eu-west-1', endpoint: srv.endpoint };
const base = { settings: s, targets: fleet.hosts.map((h, i) => ({ hostName: h.name, instanceId: srv.instances[i]!.instanceId })), sudo: true, timeoutSeconds: 60, executionTimeoutSeconds: 30, pollMinMs: 250, pollMaxMs: 2000, deadlineMs: 30000 };
for (const units of [['svc'], ['svc'], ['nope']]) {
  const t = performance.now();
  const r = await ssmRestart({ ...base, units, onUpdate: (u) => console.log('  update', u.hostName, u.status, u.elapsedMs) });
  console.log(Math.round(performance.now() - t), r.apiCalls, r.ok, r.hosts.map((h) => h.message), srv.callCounts());
  srv.resetCalls();
}
await srv.close();
await fleet.stop();
