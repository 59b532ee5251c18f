/** A deploy's report and webhook notifications, end to end (the receiver is a local HTTP server). */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployFleet, type DeployFleet } from '../support/deploy-fleet.ts';

describe('deploy reports and notifications', () => {
  let f: DeployFleet;
  let receiver: Server;
  const received: Array<{ text: string }> = [];
  let url = '';
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as { text: string });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T000/B000/secret-token-xyz`;
    f = await startDeployFleet({ extra: "notifications: { webhook: { env: 'SBX_WEBHOOK' }, timeout: '2s' }," });
  });
  afterAll(async () => {
    await f?.stop();
    await new Promise((r) => receiver.close(r));
  });

  it('writes a JSON and Markdown report and notifies start and success, never showing the webhook URL', async () => {
    const r = await f.task(['deploy', 'v1.1.0', '--json'], { env: { SBX_WEBHOOK: url } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const reports = readdirSync(path.join(f.backupDir, 'reports'));
    const md = reports.find((n) => n.endsWith(`_deploy_${r.json.runId}.md`));
    expect(md).toBeTruthy();
    const text = readFileSync(path.join(f.backupDir, 'reports', md!), 'utf8');
    expect(text).toContain('# deploy of sbx to v1.1.0: deployed');
    expect(text).toMatch(/\| host1 \| health \| ok \| - \| ✅ ok \|/);
    expect(JSON.parse(readFileSync(path.join(f.backupDir, 'reports', md!.replace(/\.md$/, '.json')), 'utf8')).verdict).toBe('deployed');
    expect(received.map((m) => m.text.split('\n')[0])).toHaveLength(2);
    expect(received[0]!.text).toMatch(/v1\.1\.0/);
    expect(received[1]!.text).toMatch(/deployed|verified/i);
    expect(r.stdout + r.stderr + text).not.toContain('secret-token-xyz');
  });

  it('a webhook that does not answer only warns: the deploy still succeeds', async () => {
    const r = await f.task(['deploy', 'v1.4.0'], { env: { SBX_WEBHOOK: 'http://127.0.0.1:1/never' } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/WARNING: .*SBX_WEBHOOK/);
  });
});
