/** The words every run shares: its id, what a host runs (and how it is named), and step records. */
import { randomBytes } from 'node:crypto';

/** `20261201T031500Z-a1b2c3`: sortable by time, unique across machines. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** What a host runs: the rollback target before a run. */
export interface Deployed {
  /** The tag HEAD (or `current`) is on; undefined when it is on no tag. */
  readonly tag?: string;
  readonly commit: string;
  /** releases strategy: the release folder `current` points to. */
  readonly release?: string;
}

/** The label of a deployed state: its tag, else its short commit. */
export function label(d: Deployed | undefined): string {
  if (!d) return '(nothing)';
  return d.tag ?? (d.commit.slice(0, 12) || '(nothing)');
}

/** One step of a run, as history and reports keep it. */
export interface StepRecord {
  readonly name: string;
  readonly durationMs: number;
  readonly ok: boolean;
}
