import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ssmRestart } from '../../tasks/lib/aws/ssm-restart.ts';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { CutoverError } from '../../tasks/lib/base/errors.ts';

const DIR = path.join(REPO_ROOT, 'tasks/lib/aws');
const settings = { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' };
const base = { settings, units: ['api'], sudo: true, timeoutSeconds: 60, executionTimeoutSeconds: 600, pollMinMs: 250, pollMaxMs: 2000, deadlineMs: 60_000 };
const target = (n: number) => ({ hostName: `h${n}`, instanceId: `i-${n.toString(16).padStart(17, '0')}` });

describe('the AWS SDK stays out of start-up', () => {
  it('no file in tasks/lib/aws imports the SDK statically (only `import type` and `await import`)', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const src = readFileSync(path.join(DIR, f), 'utf8');
      const statics = [...src.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'(@aws-sdk\/[^']+)'/gm)].map((m) => `${f}: ${m[1]}`);
      expect(statics).toEqual([]);
    }
  });
});

describe('SSM targets are checked before anything is sent', () => {
  it('refuses more than 50 instances, none, or one instance twice', async () => {
    await expect(ssmRestart({ ...base, targets: Array.from({ length: 51 }, (_, i) => target(i + 1)) })).rejects.toThrow(
      new CutoverError('SSM: 51 targets, but one SendCommand takes at most 50 instance ids; use rollout batches of at most 50'),
    );
    await expect(ssmRestart({ ...base, targets: [] })).rejects.toThrow('SSM: no targets to send the command to');
    await expect(ssmRestart({ ...base, targets: [target(1), { ...target(1), hostName: 'other' }] })).rejects.toThrow('SSM: hosts h1 and other have the same instance id i-00000000000000001');
  });
});
