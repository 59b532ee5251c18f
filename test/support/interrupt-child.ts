// A process that uses the tasks' Ctrl-C handling: it says each step on stdout, and cleans up for
// CLEANUP_MS after the first interruption before it exits 130 (the interrupted run's code).
import { onInterrupt } from '../../tasks/lib/kernel/interrupt.ts';

const CLEANUP_MS = Number(process.argv[2] ?? 1500);
const interrupt = onInterrupt((text) => process.stdout.write(`${text.trim()}\n`));
interrupt.signal.addEventListener('abort', () => {
  setTimeout(() => {
    process.stdout.write('cleaned up\n');
    interrupt.dispose();
    process.exit(130);
  }, CLEANUP_MS);
});
setInterval(() => {}, 60_000); // stay alive until a signal
process.stdout.write('ready\n');
