/**
 * How the tests start a task entry point: the same node process `npx tsx tasks/<name>.ts` runs
 * (tsx's preflight and loader, so TypeScript loads through tsx exactly as for an operator), without
 * the tsx CLI process in front of it. That process only relays signals and exit codes; it is a
 * second node start, 0.55 s of CPU for each of the suite's about 240 task runs (measured over a
 * whole run on a busy 2-core machine). The operator's path through `npx tsx` keeps its own tests:
 * the interactive renderer (test/e2e/kernel.test.ts), Ctrl-C through tsx's relay
 * (test/integration/interrupt.test.ts). Node's options reach it as they reach an operator's task:
 * `npm test` puts the repository's .npmrc `node-options` in NODE_OPTIONS, which it inherits.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';

const TSX = path.join(REPO_ROOT, 'node_modules/tsx/dist');

/** The command and arguments that run tasks/<name>.ts with `args`, as the tsx CLI's child runs it. */
export function taskProcess(name: string, args: readonly string[]): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: ['--require', path.join(TSX, 'preflight.cjs'), '--import', pathToFileURL(path.join(TSX, 'loader.mjs')).href, path.join(REPO_ROOT, `tasks/${name}.ts`), ...args],
  };
}
