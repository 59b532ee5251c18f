/** The five seed gates over one file, in a process of their own: the verdicts, the peak RSS and the time of the work. */
import { fiveGates } from './signals.ts';

const t0 = performance.now();
const out = await fiveGates(process.argv[2]!, process.argv.includes('--parallel'));
const ms = Math.round(performance.now() - t0);
process.stdout.write(`${out}\nmaxrss_kb=${process.resourceUsage().maxRSS} work_ms=${ms}\n`);
