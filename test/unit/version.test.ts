import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { helpText, parse, type TaskSpec } from '../../tasks/lib/cli/args.ts';
import { versionText } from '../../tasks/lib/cli/version.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(execFileSync('cat', [path.join(repo, 'package.json')], { encoding: 'utf8' })) as { version: string };
const spec: TaskSpec = { name: 'x', summary: 's', positionals: [{ name: 'tag', help: 't' }], options: {}, examples: [] };

describe('--version', () => {
  it('is a flag of every spec, listed in --help, and needs no positional', () => {
    expect(parse(spec, ['--version']).values.version).toBe(true);
    expect(helpText(spec)).toContain("--version  print the task's name, cutover's version and git commit, then exit");
  });
  it('names the task, the version from package.json, and the commit of a clone', () => {
    const commit = execFileSync('git', ['-C', repo, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(versionText('deploy', repo)).toMatch(new RegExp(`^cutover deploy ${version.replaceAll('.', '\\.')} \\(commit ${commit}(, modified)?\\)$`));
    const notAClone = mkdtempSync(path.join(os.tmpdir(), 'cutover-version-'));
    writeFileSync(path.join(notAClone, 'package.json'), '{"version":"9.8.7"}');
    expect(versionText('verify', notAClone)).toBe('cutover verify 9.8.7');
  });
  it('every task answers it, before loading anything heavy', () => {
    for (const task of ['deploy', 'rollback', 'verify', 'status', 'backup', 'restore', 'doctor']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'tasks', `${task}.ts`), '--version'], { cwd: repo, encoding: 'utf8', env: { ...process.env, DEPLOY_ENV: 'no-such-env' } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^cutover ${task} ${version.replaceAll('.', '\\.')}( \\(commit [0-9a-f]{12}(, modified)?\\))?\\n$`));
    }
  });
});
