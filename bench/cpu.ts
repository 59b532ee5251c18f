/**
 * A process's own CPU time read from outside (/proc/<pid>/stat: utime + stime, its children
 * excluded), sampled with the wall clock, and its share of one core over given periods.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CpuSample {
  /** Epoch ms. */
  readonly at: number;
  /** utime + stime, ms. */
  readonly cpuMs: number;
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of `pid` in ms, or null once it is gone. */
export function cpuOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** Samples `pid` every `everyMs` until stop() (or until it is gone). */
export function cpuSampler(pid: number, everyMs = 100): { stop(): CpuSample[] } {
  const samples: CpuSample[] = [];
  const take = () => {
    const c = cpuOf(pid);
    if (c !== null) samples.push({ at: Date.now(), cpuMs: c });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

/** CPU time between two instants, from the samples nearest inside them. */
export function cpuBetween(samples: readonly CpuSample[], from: number, to: number): { cpuMs: number; wallMs: number } | null {
  const inside = samples.filter((s) => s.at >= from && s.at <= to);
  if (inside.length < 2) return null;
  const a = inside[0]!;
  const b = inside.at(-1)!;
  return { cpuMs: b.cpuMs - a.cpuMs, wallMs: b.at - a.at };
}
