/**
 * What every probe returns. Probes never throw for a failed check (only for an interruption):
 * they say what they asked, what came back and how long they waited; the graph decides what a
 * failure means.
 */

/** What the probe asked. HTTP: method and URL. A command probe: method 'exec', url `host: command`. */
export interface ProbeRequest {
  readonly method: string;
  readonly url: string;
}

/** What came back last: HTTP status (null: no answer, see error) or a command's exit code. */
export interface ProbeAnswer {
  readonly status: number | null;
  /** The first bytes of the body (or output), secrets masked. */
  readonly body: string;
  /** Why there was no answer: 'connection refused (ECONNREFUSED)', 'no answer within 5000 ms'. */
  readonly error?: string;
}

export interface ProbeResult {
  /** 'health', 'readiness', 'chat', 'journal'. */
  readonly name: string;
  readonly ok: boolean;
  /** One human sentence (or a few lines): what was asked, what came back, how long it waited. */
  readonly detail: string;
  readonly requested: ProbeRequest;
  readonly got: ProbeAnswer | null;
  /** From the first request to the verdict. */
  readonly waitedMs: number;
  readonly attempts?: number;
  /** The measured quantity checked against `threshold` (chat: latency in ms). */
  readonly value?: number;
  readonly threshold?: number;
}

export interface HealthResult extends ProbeResult {
  readonly attempts: number;
  /** The version the endpoint reported last (when versionField is set). */
  readonly version?: string;
  /** What the polling saw, in order of first appearance: 'connection refused (ECONNREFUSED)' -> 12. */
  readonly seen: Readonly<Record<string, number>>;
}

export interface JournalEntry {
  readonly unit: string;
  /** ISO 8601, UTC. */
  readonly time: string;
  readonly timestampUs: number;
  /** 'err', 'warning', ... */
  readonly priority: string;
  /** The message, decoded, masked and cut to an excerpt. */
  readonly message: string;
  /** Why it is reported: the priority, or the first fail pattern that matched. */
  readonly reason: 'priority' | { readonly pattern: string };
}

export interface JournalScanResult extends ProbeResult {
  /** The offending entries (at most MAX_REPORTED_ENTRIES; `offending` counts all of them). */
  readonly entries: readonly JournalEntry[];
  readonly offending: number;
  /** Entries read (after --since, before filtering). */
  readonly scanned: number;
  /** Lines that were not JSON objects (should be 0). */
  readonly unparsable: number;
  /** The units' states read in the same command, when asked for (JournalScanOptions.states), in order. */
  readonly unitStates?: readonly string[];
}
