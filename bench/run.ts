/**
 * npm run bench — medians and ratios against a baseline run side by side. Loopback only; every
 * loop is bounded. Machines are shared and noisy: read the ratios, not the absolute numbers.
 */
import path from 'node:path';
import { benchCanary } from './canary.ts';
import { benchDeploy } from './deploy.ts';
import { benchFleet } from './fleet.ts';
import { benchHelp, verdictLine } from './help.ts';
import { benchMemory } from './memory.ts';
import { benchRedact } from './redact.ts';
import { benchShift } from './shift.ts';
import { benchSignals } from './signals.ts';
import { benchVerify } from './verify.ts';

const repo = path.resolve(import.meta.dirname, '..');
const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);

const verdicts = [];
if (want('help')) {
  const r = benchHelp(repo);
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('fleet')) {
  const r = await benchFleet(repo);
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('deploy') || only.includes('deploy-quick')) {
  const r = await benchDeploy(repo, Number(process.env.BENCH_ROUNDS ?? 3), only.includes('deploy-quick'));
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (only.includes('deploy-memory')) {
  const r = await benchMemory(repo);
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('redact')) {
  const r = benchRedact();
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('verify')) {
  const r = await benchVerify(repo);
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('signals') || only.includes('signals-long')) {
  const r = await benchSignals(repo, only.includes('signals-long'));
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('shift')) {
  const r = await benchShift();
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
if (want('canary')) {
  const r = await benchCanary(repo);
  process.stdout.write(`${r.text}\n`);
  verdicts.push(...r.verdicts);
}
process.stdout.write(`\nTargets\n${verdicts.map(verdictLine).join('\n')}\n`);
process.exitCode = verdicts.every((v) => v.ok) ? 0 : 1;
