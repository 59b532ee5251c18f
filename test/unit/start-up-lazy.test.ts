// What loads before a changing task's first line: the heavy modules stay out until they are used.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';

const src = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
/** The static (value) imports of a file: `import type` and `await import()` are not among them. */
const statics = (file: string) => [...src(file).matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);

describe('start-up loads only what the first line needs', () => {
  it('node-ssh loads when the first host connects, zx at the first local command', () => {
    for (const f of ['tasks/lib/runners/ssh.ts', 'tasks/lib/runners/jump.ts', 'tasks/lib/runners/for-host.ts']) expect(statics(f)).not.toContain('node-ssh');
    for (const f of ['tasks/lib/runners/local.ts', 'tasks/lib/runners/for-host.ts']) expect(statics(f)).not.toContain('zx');
    expect(src('tasks/lib/runners/ssh.ts')).toContain("await import('node-ssh')");
    expect(src('tasks/lib/runners/local.ts')).toContain("await import('zx')");
  });

  it('the deploy and rollback procedures load while the preflight waits for the hosts, not with the entry point', () => {
    expect(statics('tasks/lib/deploy/targets.ts').filter((m) => /deploy\.ts|rollback\.ts/.test(m!))).toEqual([]);
    for (const f of ['tasks/lib/deploy/deploy.ts', 'tasks/lib/deploy/rollback.ts', 'tasks/lib/deploy/moving.ts', 'tasks/lib/deploy/preflight.ts']) {
      const heavy = statics(f).filter((m) => /graph\.ts|backup-step\.ts|host-steps\.ts|restart-step\.ts|\/backup\/(dump|prune-after-run|restore-run|source|retention)\.ts|\/work\.ts$/.test(m!));
      expect(heavy, f).toEqual([]);
    }
  });
});
