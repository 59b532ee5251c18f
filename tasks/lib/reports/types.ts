/** What every report holds: the JSON record is this (redacted), the Markdown is rendered from it. */

import type { CheckRow } from '../base/check.ts';

export type ReportKind = 'deploy' | 'rollback' | 'restore' | 'backup' | 'canary' | 'verify';

export interface ReportStep {
  readonly name: string;
  readonly durationMs: number;
  readonly ok: boolean;
}

/** A report's table of checks: the shared check row. */
export type ReportCheck = CheckRow;

/** Milliseconds; null when there was no sample to take it from. */
export interface ReportLatency {
  readonly host: string;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly samples: number;
}

export interface ReportSsmCommand {
  readonly host: string;
  readonly commandId: string;
  readonly instanceId: string;
  readonly status: string;
  readonly durationMs: number;
}

export type ReportBackup = { readonly file: string; readonly sizeBytes: number; readonly sha256: string } | { readonly skipped: string } | null;

export interface ReportHost {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly state: string;
}

export interface ReportInput {
  readonly kind: ReportKind;
  readonly runId: string;
  /** Default: the environment's name. */
  readonly env?: string;
  /** ISO 8601 times. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** GO / NO-GO for verify; deployed / rolled back / needs attention for deploy; restored... for restore. */
  readonly verdict: string;
  readonly title: string;
  readonly summary: readonly string[];
  readonly steps?: readonly ReportStep[];
  readonly checks?: readonly ReportCheck[];
  readonly latency?: readonly ReportLatency[];
  readonly ssmCommands?: readonly ReportSsmCommand[];
  /** The backup this run took or used; `{ skipped: reason }`; null: none (the task takes none). */
  readonly backup?: ReportBackup;
  readonly hosts?: readonly ReportHost[];
  /** A task's own sections (Markdown lines: tables, Mermaid charts), after the common ones. */
  readonly sections?: readonly { readonly title: string; readonly lines: readonly string[] }[];
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The JSON file: the input (redacted), its environment, and the record's version. */
export interface ReportRecord extends ReportInput {
  readonly reportVersion: 1;
  readonly env: string;
  readonly durationMs: number;
}

export interface ReportPaths {
  readonly jsonPath: string;
  readonly mdPath: string;
}
