// Large local logs read by worker threads give exactly what one thread gives (values, stats, buckets).
// Run as a process under tsx: the worker threads load TypeScript through it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';

it('worker threads and one thread agree on every value of a 49 MB log', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signals-parallel-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/support/signals-parallel-check.ts'), dir], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
    const r = JSON.parse(stdout) as { threadsUsed: boolean; one: { values: { all: Record<string, { samples: number }> } }; threads: unknown };
    expect(r.threadsUsed).toBe(os.availableParallelism() > 1);
    expect(r.one.values.all.p95!.samples).toBe(150_000);
    expect(r.threads).toEqual(r.one);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
