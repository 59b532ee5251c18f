// The tasks' Ctrl-C handling in a real process, signalled by the kernel: the first signal cleans up,
// an echo of it within the repeat window (tsx's relay sends it again when the report is late) is the
// same interruption, and a second one after the window (or a different signal) quits at once.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPEAT_WINDOW_MS } from '../../tasks/lib/kernel/interrupt.ts';
import { until } from '../support/until.ts';

const CHILD = fileURLToPath(new URL('../support/interrupt-child.ts', import.meta.url));

function start(cleanupMs: number) {
  // node --import tsx: no tsx CLI in between, so the test's signals are the only ones the child gets
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(cleanupMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, out: () => out, exited };
}

const STOPPING = 'SIGINT: stopping, cleaning up (Ctrl-C again to quit at once)';

describe('Ctrl-C handling (tasks/lib/kernel/interrupt.ts)', () => {
  it('the same signal again within the window (a relay echo) is the same interruption: the cleanup runs, exit 130', async () => {
    const p = start(1500);
    await until(() => p.out().includes('ready\n'), 'the child to listen');
    p.child.kill('SIGINT');
    // once handled (two signals sent back to back would merge in the kernel into one)
    await until(() => p.out().includes(STOPPING), 'the first interruption to be handled');
    p.child.kill('SIGINT');
    expect(await p.exited).toEqual([130, null]);
    expect(p.out()).toBe(`ready\n${STOPPING}\ncleaned up\n`);
  });

  it('a second Ctrl-C after the window quits at once, without the cleanup', async () => {
    const p = start(60_000);
    await until(() => p.out().includes('ready\n'), 'the child to listen');
    p.child.kill('SIGINT');
    await until(() => p.out().includes(STOPPING), 'the first interruption to be handled');
    await sleep(REPEAT_WINDOW_MS + 100);
    p.child.kill('SIGINT');
    expect(await p.exited).toEqual([null, 'SIGINT']);
    expect(p.out()).toBe(`ready\n${STOPPING}\n`);
  });

  it('SIGTERM after a Ctrl-C is a second interruption, even at once', async () => {
    const p = start(60_000);
    await until(() => p.out().includes('ready\n'), 'the child to listen');
    p.child.kill('SIGINT');
    await until(() => p.out().includes(STOPPING), 'the first interruption to be handled');
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual([null, 'SIGTERM']);
    expect(p.out()).toBe(`ready\n${STOPPING}\n`);
  });
});
