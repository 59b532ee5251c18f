/** notify() against a real HTTP receiver on 127.0.0.1: the exact payload, and failures that only warn. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironment, REPO_ROOT, type LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { notify } from '../../tasks/lib/notify/webhook.ts';

interface Received {
  method: string;
  url: string;
  contentType: string | undefined;
  body: unknown;
}

let server: Server;
let port = 0;
let received: Received[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-notify-'));
const HOOK_PATH = '/services/T0CUTOVER/B0TEST/s3cretHookPart';

function envFile(name: string, notifications: string): void {
  writeFileSync(
    path.join(dir, `${name}.ts`),
    `import { defineEnvironment } from ${JSON.stringify(path.join(REPO_ROOT, 'tasks/lib/config/schema.ts'))};
export default defineEnvironment({
  hosts: [{ name: 'web-1', address: '127.0.0.1', transport: 'local' }],
  app: { path: '/srv/app', repo: '/tmp/origin.git' },
  services: [{ unit: 'demo' }],
  verify: { health: { url: 'http://{host}:1/h' } },
  ${notifications}
});
`,
  );
}

async function load(name: string, url = `http://127.0.0.1:${port}${HOOK_PATH}`): Promise<LoadedEnvironment> {
  return loadEnvironment(name, { dir, processEnv: { CUTOVER_WEBHOOK_URL: url, DB_PW: 'db-Secret-42' } });
}

const EVENT = { kind: 'success' as const, title: 'deploy of hooked to v1.1.0: deployed', text: 'verified on web-1; answer echoed +33 6 12 34 56 78', runId: 'run-1', fields: { tag: 'v1.1.0' } };

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], body: JSON.parse(data) });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  // a wide limit where the answer is awaited (a busy machine can take more than 400 ms to connect and load fetch)
  envFile('hooked', "notifications: { webhook: { env: 'CUTOVER_WEBHOOK_URL' }, timeout: '20s' },");
  envFile('hurried', "notifications: { webhook: { env: 'CUTOVER_WEBHOOK_URL' }, timeout: '400ms' },");
  envFile('picky', "notifications: { webhook: { env: 'CUTOVER_WEBHOOK_URL' }, events: ['attention'] },");
  envFile('quiet', '');
});
afterEach(() => {
  received = [];
  answer = (_req, res) => res.end('ok');
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('notify', () => {
  it('POSTs the Slack payload as JSON, once, redacted; sent', async () => {
    const r = await notify(await load('hooked'), EVENT);
    expect(r).toMatchObject({ sent: true });
    expect(r.warning).toBeUndefined();
    expect(received).toEqual([
      {
        method: 'POST',
        url: HOOK_PATH,
        contentType: 'application/json',
        body: {
          text: ':white_check_mark: deploy of hooked to v1.1.0: deployed\nverified on web-1; answer echoed [PHONE]\nEnvironment: hooked · Run: run-1 · tag: v1.1.0',
          blocks: [
            { type: 'section', text: { type: 'mrkdwn', text: ':white_check_mark: *deploy of hooked to v1.1.0: deployed*\nverified on web-1; answer echoed [PHONE]' } },
            {
              type: 'section',
              fields: [
                { type: 'mrkdwn', text: '*Environment*\nhooked' },
                { type: 'mrkdwn', text: '*Run*\nrun-1' },
                { type: 'mrkdwn', text: '*tag*\nv1.1.0' },
              ],
            },
          ],
        },
      },
    ]);
  });

  it('a receiver answering 500: a warning naming the variable, never the URL; no throw', async () => {
    answer = (_req, res) => {
      res.statusCode = 500;
      res.end(`boom at ${HOOK_PATH} on 127.0.0.1:${port}`);
    };
    const r = await notify(await load('hooked'), EVENT);
    expect(r.sent).toBe(false);
    expect(r.warning).toBe("notification 'success' not sent (webhook from CUTOVER_WEBHOOK_URL): the webhook answered 500: boom at *** on ***");
    expect(received).toHaveLength(1);
  });

  it('a receiver that never answers: a warning after the timeout (400ms here)', async () => {
    answer = () => {}; // holds the request open
    const r = await notify(await load('hurried'), EVENT);
    expect(r.sent).toBe(false);
    expect(r.warning).toBe("notification 'success' not sent (webhook from CUTOVER_WEBHOOK_URL): no answer within 400 ms");
    expect(r.durationMs).toBeGreaterThanOrEqual(390);
    expect(r.durationMs).toBeLessThan(10_000); // not 20 s: the environment's limit, not a default, ended it
  });

  it('nobody listening: a warning; a value that is not a URL: a warning that does not repeat it', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await notify(await load('hooked', `http://127.0.0.1:${deadPort}/hook/abc`), EVENT);
    expect(refused.warning).toBe("notification 'success' not sent (webhook from CUTOVER_WEBHOOK_URL): connection refused (ECONNREFUSED)");
    const bad = await notify(await load('hooked', 'hooks.slack.com/services/T/B/secretpart'), EVENT);
    expect(bad.warning).toBe("notification 'success' not sent (webhook from CUTOVER_WEBHOOK_URL): the value is not a URL");
    const ftp = await notify(await load('hooked', 'ftp://127.0.0.1/x'), EVENT);
    expect(ftp.warning).toBe("notification 'success' not sent (webhook from CUTOVER_WEBHOOK_URL): the value is not an http(s) URL");
  });

  it('not configured, or the event not subscribed: skipped, nothing sent', async () => {
    expect(await notify(await load('quiet'), EVENT)).toEqual({ sent: false, skipped: 'no notifications configured', durationMs: 0 });
    expect(await notify(await load('picky'), EVENT)).toEqual({ sent: false, skipped: "'success' is not in notifications.events", durationMs: 0 });
    expect(received).toHaveLength(0);
    expect((await notify(await load('picky'), { ...EVENT, kind: 'attention' })).sent).toBe(true);
    expect(received).toHaveLength(1);
  });

  it('the run interrupted while a notification is in flight: a warning, no throw', async () => {
    answer = () => {};
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('interrupted (SIGINT)')), 50);
    const r = await notify(await load('hooked'), EVENT, { signal: ac.signal });
    expect(r.warning).toBe("notification 'success' not sent (webhook from CUTOVER_WEBHOOK_URL): interrupted");
    expect(r.durationMs).toBeLessThan(10_000); // at the interruption, long before the 20 s limit (room for a busy machine)
  });
});
