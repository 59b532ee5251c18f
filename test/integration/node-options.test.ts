// The repository's .npmrc gives every `npx tsx tasks/...` node's 1 MB semi-spaces (docs/speed.md, "Memory"):
// a process started the operator's way, with no NODE_OPTIONS of its own, keeps V8's young generation
// small (2 MB of new space, measured) under a churn that grows it to 16 MB on node's defaults.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'node-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// survivors on every scavenge (a queue of Buffers, as a dump's chunks wait in its streams) make V8 grow the semi-spaces
const CHURN = `import v8 from 'node:v8';
let queue = [];
for (let i = 0; i < 400000; i++) { queue.push({ i, b: Buffer.allocUnsafe(256) }); if (queue.length > 4000) queue = queue.slice(2000); }
const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
console.log(JSON.stringify({ newSpaceMb: ns.space_size / 2 ** 20, nodeOptions: process.env.NODE_OPTIONS ?? null }));
`;

async function churn(command: string, args: string[]): Promise<{ newSpaceMb: number; nodeOptions: string | null }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // what `npm test` handed vitest must not decide the answer
  for (const k of Object.keys(env)) if (k.toLowerCase() === 'npm_config_node_options') delete env[k];
  const { stdout } = await promisify(execFile)(command, args, { cwd: REPO_ROOT, env, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { newSpaceMb: number; nodeOptions: string | null };
}

describe('node options for the task processes', () => {
  const script = path.join(dir, 'churn.mjs');
  writeFileSync(script, CHURN);

  it('npx tsx in the repository runs node with --max-semi-space-size=1: the young generation stays small', async () => {
    const r = await churn('npx', ['tsx', script]);
    expect(r.nodeOptions).toBe('--max-semi-space-size=1');
    expect(r.newSpaceMb).toBeLessThanOrEqual(3);
  });

  it('the same churn on node without the option grows it (the check above can fail)', async () => {
    const r = await churn(process.execPath, [script]);
    expect(r.nodeOptions).toBeNull();
    expect(r.newSpaceMb).toBeGreaterThan(8);
  });
});
