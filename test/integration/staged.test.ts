// Several steps in one command on a host (deploy/staged.ts), run by bash on this machine.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { CommandFailedError } from '../../tasks/lib/base/errors.ts';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { StagedRun } from '../../tasks/lib/deploy/staged.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';

const runner = () => new LocalRunner({ name: 'h1', address: '127.0.0.1', port: 0, user: os.userInfo().username });
const cmd = (script: string, stdin?: string) => command(raw(script), stdin === undefined ? {} : { stdin, redact: [stdin.trim()] });
const signal = new AbortController().signal;

describe('StagedRun: one command, each step of the graph waits for its part', () => {
  it('a failure belongs to the command that was running: its own stderr, the steps after it fail too, the ones before are done', async () => {
    const r = runner();
    const run = new StagedRun(
      r,
      [
        { name: 'checkout', commands: [cmd('echo checked out; echo noise >&2')] },
        { name: 'install', commands: [cmd('echo step one'), cmd('echo half way; echo "pip: no such package" >&2; exit 7')] },
        { name: 'migrate', commands: [cmd('echo never')] },
      ],
      { signal, secrets: [] },
    );
    const seen: string[] = [];
    // every step listened to from the start (one asked later gets only its last line so far)
    const checkout = run.until('checkout', (l) => seen.push(`checkout: ${l}`));
    const installing = run.until('install', (l) => seen.push(`install: ${l}`)).catch((e: unknown) => e);
    const migrating = run.until('migrate', () => {}).catch((e: unknown) => e);
    await checkout;
    const install = await installing;
    expect(install).toBeInstanceOf(CommandFailedError);
    expect((install as Error).message).toBe('h1: `echo half way; echo "pip: no such package" >&2; exit 7` exited 7\n    pip: no such package');
    expect(await migrating).toBe(install);
    expect(seen).toContain('install: half way');
    expect(seen).not.toContain('never');
    expect(r.commandsRun).toBe(1);
  });

  it('a command that exits 0 early ends only itself; a password goes to its command alone; the rest read nothing', async () => {
    const out: string[] = [];
    const run = new StagedRun(
      runner(),
      [
        { name: 'install', commands: [cmd('exit 0'), cmd('echo after the exit; cat; echo "no stdin here"')] },
        { name: 'migrate', commands: [cmd('IFS= read -r p; echo "read $p"; cat; echo "nothing more"', 's3cr3t\n'), cmd('cat; echo "then none"')] },
      ],
      { signal, secrets: ['s3cr3t'] },
    );
    // both steps listened to from the start: a step that asks later gets only its last line so far (by design)
    const install = run.until('install', (l) => out.push(l));
    const migrate = run.until('migrate', (l) => out.push(l));
    await install;
    await migrate;
    expect(out).toEqual(['after the exit', 'no stdin here', 'read ***', 'nothing more', 'then none']);
  });
});
