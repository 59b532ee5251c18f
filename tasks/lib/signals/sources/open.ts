/**
 * The sources of an environment's signals, opened: a log reader per place a request log lives
 * (this machine, or each host: read directly when the host is this machine, else over its
 * runner), and a Prometheus client. Positions are plain JSON (persist them to resume).
 */
import type { Host } from '../../config/schema.ts';
import type { Runner } from '../../runners/types.ts';
import type { RecordSourceConfig, Signals, SourceConfig } from '../../config/signals.ts';
import { LocalLogPlace, LogReader, RunnerLogPlace, type LogPosition } from './log-reader.ts';
import { PrometheusClient } from './prometheus.ts';

/** The machine cutover runs on, as a cohort key for `on: 'local'` logs. */
export const LOCAL_HOST = 'local';

export interface OpenRecordSource {
  readonly kind: 'records';
  readonly name: string;
  readonly config: RecordSourceConfig;
  readonly readers: readonly LogReader[];
}

export interface OpenPromSource {
  readonly kind: 'prometheus';
  readonly name: string;
  readonly config: Extract<SourceConfig, { kind: 'prometheus' }>;
  readonly client: PrometheusClient;
}

export type OpenSource = OpenRecordSource | OpenPromSource;

/** source name -> host (or LOCAL_HOST) -> position. */
export type SourcePositions = Readonly<Record<string, Readonly<Record<string, LogPosition>>>>;

export interface OpenOptions {
  /** The environment's hosts (for `on: 'hosts'`). */
  readonly hosts: readonly Host[];
  /** A runner per host name (opened by the caller, closed by the caller). */
  readonly runnerFor: (host: Host) => Runner;
  readonly positions?: SourcePositions;
  readonly signal?: AbortSignal;
  /** Only these sources (default: every one). */
  readonly only?: readonly string[];
}

export function openSources(signals: Pick<Signals, 'sources'>, opts: OpenOptions): Map<string, OpenSource> {
  const out = new Map<string, OpenSource>();
  for (const [name, config] of Object.entries(signals.sources)) {
    if (opts.only && !opts.only.includes(name)) continue;
    if (config.kind === 'prometheus') {
      const client = new PrometheusClient({ url: config.url, timeoutMs: config.timeout, headers: config.headers, ...(opts.signal ? { signal: opts.signal } : {}) });
      out.set(name, { kind: 'prometheus', name, config, client });
      continue;
    }
    const at = (host: string) => opts.positions?.[name]?.[host];
    if (config.on === 'local') {
      out.set(name, { kind: 'records', name, config, readers: [new LogReader(LOCAL_HOST, config.path, new LocalLogPlace(config.path), at(LOCAL_HOST))] });
      continue;
    }
    const hosts = config.hosts ? opts.hosts.filter((h) => config.hosts!.includes(h.name)) : opts.hosts;
    const readers = hosts.map((h) => {
      // a host that is this machine: its files are read directly (same bytes, no process per read),
      // a local host with its own folder mounted at the shared path too, at the place that folder has here
      const place = h.transport === 'local' ? new LocalLogPlace(config.path, h.mount) : new RunnerLogPlace(opts.runnerFor(h), config.path);
      return new LogReader(h.name, config.path, place, at(h.name));
    });
    out.set(name, { kind: 'records', name, config, readers });
  }
  return out;
}

/** Where every reader got to. */
export function positionsOf(sources: ReadonlyMap<string, OpenSource>): SourcePositions {
  const out: Record<string, Record<string, LogPosition>> = {};
  for (const s of sources.values()) if (s.kind === 'records') out[s.name] = Object.fromEntries(s.readers.map((r) => [r.host, r.position()]));
  return out;
}
