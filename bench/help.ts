/** `npx tsx tasks/doctor.ts --help` must answer in under 0.5 s (median): heavy modules load lazily. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, table, verdictLine, type Row, type Verdict } from './stats.ts';

function time(cmd: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

export function benchHelp(repo: string, runs = 11): { text: string; verdicts: Verdict[] } {
  const empty = path.join(os.tmpdir(), 'cutover-bench-empty.ts');
  writeFileSync(empty, 'export {};\n');
  const cases: Array<[string, string[]]> = [
    ['npx tsx <empty file> (baseline)', ['tsx', empty]],
    ['npx tsx tasks/doctor.ts --help', ['tsx', 'tasks/doctor.ts', '--help']],
    ['npx tsx tasks/deploy.ts --help', ['tsx', 'tasks/deploy.ts', '--help']],
    ['npx tsx tasks/rollback.ts --help', ['tsx', 'tasks/rollback.ts', '--help']],
  ];
  const samples = cases.map(() => [] as number[]);
  time('npx', ['tsx', empty], repo); // warm the disk cache once
  // interleaved, so a noisy moment hurts every case alike
  for (let i = 0; i < runs; i++) cases.forEach(([, args], k) => samples[k]!.push(time('npx', args, repo)));
  const rows: Row[] = cases.map(([name], k) => ({ name, median: median(samples[k]!), samples: runs }));
  const doctor = rows[1]!.median;
  return {
    text: table('--help start-up (wall time of the whole command, npx included)', rows),
    verdicts: [{ target: 'doctor --help median < 0.5 s', ok: doctor < 500, measured: `${doctor.toFixed(0)} ms (${(doctor / rows[0]!.median).toFixed(2)}x an empty tsx file)` }],
  };
}

export { verdictLine };
