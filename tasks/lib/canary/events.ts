/**
 * The run's event log, on this machine: every decision with its evaluations, every smoke check,
 * every traffic change, one JSON object per line in `backups/<env>/canary/<canary run>.jsonl`
 * (mode 0600, masked). The report and its charts are drawn from it; `canary.json` on the state
 * host keeps only what a resume needs.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface EvaluationLine {
  readonly gate: string;
  readonly metric: string;
  readonly verdict: string;
  readonly value: number | null;
  readonly baseline?: number | null;
  readonly threshold: string;
  readonly clock: string;
  readonly samples: number;
  readonly why: string;
}

export type CanaryEvent =
  | { readonly type: 'decision'; readonly at: string; readonly step: number; readonly percent: number; readonly action: string; readonly verdict: string; readonly why: string; readonly evaluations: readonly EvaluationLine[] }
  | { readonly type: 'smoke'; readonly at: string; readonly step: number; readonly ok: boolean; readonly returncode: number | null; readonly detail: string }
  | { readonly type: 'traffic'; readonly at: string; readonly step: number; readonly percent: number; readonly realPercent: number; readonly detail: string }
  | { readonly type: 'phase'; readonly at: string; readonly step: number; readonly phase: string; readonly why: string };

export class EventLog {
  readonly file: string;
  constructor(
    dir: string,
    canaryRunId: string,
    private readonly mask: (text: string) => string,
    private readonly enabled = true,
  ) {
    this.file = path.join(dir, 'canary', `${canaryRunId}.jsonl`);
  }

  add(event: CanaryEvent): void {
    if (!this.enabled) return;
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    appendFileSync(this.file, `${this.mask(JSON.stringify(event))}\n`, { mode: 0o600 });
  }

  /** Every event so far (a resumed canary's too, when it ran on this machine). */
  all(): CanaryEvent[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as CanaryEvent];
        } catch {
          return []; // a line cut by a crash: the others still tell the story
        }
      });
  }
}
