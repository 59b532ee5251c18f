/**
 * The `signals` section of an environment: where records and samples come from (sources), what
 * is computed from them (metrics), what the values must be (gates), and the settings of the SLO
 * monitor, the traffic generator and the release validation suite. One zod schema is the type
 * and the check; cross-references (a gate's metric, a metric's source) are checked here too.
 */
import { z } from '../base/zod.ts';
import { parseRatePerMin, SignalDuration } from './signal-duration.ts';

const NAME = /^[a-z0-9][a-z0-9._-]*$/i;
const Name = z.string().regex(NAME, 'must be letters, digits, dot, dash or underscore');
/** A dot path into a record: `latency_ms`, `prediction.low_confidence`. */
const FieldPath = z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, "must be a field path such as 'latency_ms' or 'prediction.low_confidence'");

const Url = z.string().refine(
  (s) => {
    try {
      return /^https?:$/.test(new URL(s.replaceAll('{host}', 'host.invalid')).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL' },
);

const Regex = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a valid regular expression' },
);

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A condition on one field of a record; several in a list must all hold. */
export const Predicate = z
  .object({
    field: FieldPath,
    equals: Scalar.optional(),
    notEquals: Scalar.optional(),
    in: z.array(Scalar).min(1).optional(),
    matches: Regex.optional(),
    /** true: the field is there and not null, false or ''; false: the opposite. */
    present: z.boolean().optional(),
    gte: z.number().optional(),
    gt: z.number().optional(),
    lte: z.number().optional(),
    lt: z.number().optional(),
  })
  .strict()
  .refine((p) => ['equals', 'notEquals', 'in', 'matches', 'present', 'gte', 'gt', 'lte', 'lt'].some((k) => k in p), {
    message: 'needs a condition: equals, notEquals, in, matches, present, gte, gt, lte or lt',
  });
export type Predicate = z.infer<typeof Predicate>;

const TIME_FIELD = 'timestamp';

/** Where the request log lives: on this machine, or on each environment host (read over SSH). */
const LogPlace = {
  /** Absolute path; `{date}` stands for YYYY-MM-DD (daily files, followed across the rotation). */
  path: z.string().regex(/^\//, 'must be an absolute path (it may hold {date})'),
  /** `hosts`: the file on every host of the environment (cohort `host` = the host's name); `local`: this machine. */
  on: z.enum(['hosts', 'local']).default('hosts'),
  /** With on: hosts, only these hosts (default all). */
  hosts: z.array(Name).optional(),
  /** The time of a record: an ISO 8601 string or epoch seconds/milliseconds. */
  timeField: FieldPath.default(TIME_FIELD),
};

/** How records are split into cohorts: by host, or by a field (the version, nginx's upstream address). */
const CohortBy = z.union([z.literal('host'), z.object({ field: FieldPath }).strict()]);

export const JsonlSource = z
  .object({ kind: z.literal('jsonl'), ...LogPlace, cohortBy: CohortBy.default('host') })
  .strict();

/**
 * nginx access log written with `log_format NAME escape=json '{...}'`: the fields are renamed to
 * the same vocabulary (status, latency_ms from request_time, upstream_latency_ms, upstream).
 */
export const NginxSource = z
  .object({
    kind: z.literal('nginx'),
    ...LogPlace,
    timeField: FieldPath.default('time'),
    cohortBy: CohortBy.default({ field: 'upstream' }),
  })
  .strict();

export const PrometheusSource = z
  .object({
    kind: z.literal('prometheus'),
    /** Base URL of the Prometheus server, e.g. http://127.0.0.1:9090 */
    url: Url,
    timeout: SignalDuration.default(5000),
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const Source = z.discriminatedUnion('kind', [JsonlSource, NginxSource, PrometheusSource]);
export type SourceConfig = z.infer<typeof Source>;
export type RecordSourceConfig = z.infer<typeof JsonlSource> | z.infer<typeof NginxSource>;

const MetricBase = {
  source: Name,
  /** Over how long (default signals.window). */
  window: SignalDuration.optional(),
  /** Only records meeting every condition count (denominator of shares too). */
  where: z.array(Predicate).default([]),
  /** Shown beside the value: `%`, `ms`, `/min`. Default by kind. */
  unit: z.string().max(12).optional(),
  description: z.string().optional(),
};

const CountMetric = z.object({ kind: z.literal('count'), ...MetricBase }).strict();
const RateMetric = z.object({ kind: z.literal('rate'), ...MetricBase }).strict();
/** Percentage (0-100) of the records where `field` meets the condition. */
const ShareMetric = z
  .object({
    kind: z.literal('share'),
    ...MetricBase,
    field: FieldPath,
    equals: Scalar.optional(),
    in: z.array(Scalar).min(1).optional(),
    matches: Regex.optional(),
    present: z.boolean().optional(),
  })
  .strict()
  .refine((m) => ['equals', 'in', 'matches', 'present'].some((k) => k in m), { message: 'needs equals, in, matches or present' });
/** Percentage of records whose `field` (default status) is >= 500. */
const ErrorRateMetric = z.object({ kind: z.literal('errorRate'), ...MetricBase, field: FieldPath.default('status') }).strict();
const QuantileMetric = z
  .object({ kind: z.literal('quantile'), ...MetricBase, field: FieldPath, q: z.number().gt(0).lt(1) })
  .strict();
const MeanMetric = z.object({ kind: z.literal('mean'), ...MetricBase, field: FieldPath }).strict();
/** Records: how much a counter field grew over the window (resets counted). Prometheus: `series` through increase(). */
const IncreaseMetric = z
  .object({ kind: z.literal('increase'), ...MetricBase, field: FieldPath.optional(), series: z.string().min(1).optional() })
  .strict()
  .refine((m) => (m.field === undefined) !== (m.series === undefined), { message: 'needs `field` (records) or `series` (Prometheus), not both' });
/** A PromQL expression; `{cohort}` becomes the cohort's key(s) (a|b for several: use =~). */
const QueryMetric = z
  .object({ kind: z.literal('query'), ...MetricBase, query: z.string().min(1), samplesQuery: z.string().min(1).optional() })
  .strict();

export const Metric = z.union([CountMetric, RateMetric, ShareMetric, ErrorRateMetric, QuantileMetric, MeanMetric, IncreaseMetric, QueryMetric]);
export type MetricConfig = z.infer<typeof Metric>;

/** Thresholds: absolute, or relative to the baseline cohort over the same window. */
const Thresholds = {
  max: z.number().optional(),
  min: z.number().optional(),
  range: z.tuple([z.number(), z.number()]).optional(),
  /** value <= baseline * (1 + pct/100). */
  maxIncreasePct: z.number().nonnegative().optional(),
  /** value <= baseline + n (same unit as the metric). */
  maxIncrease: z.number().nonnegative().optional(),
  /** |value - baseline| <= baseline * pct/100. */
  withinPct: z.number().nonnegative().optional(),
};
const THRESHOLD_KEYS = ['max', 'min', 'range', 'maxIncreasePct', 'maxIncrease', 'withinPct'] as const;
export type ThresholdKey = (typeof THRESHOLD_KEYS)[number];
const RELATIVE_KEYS: readonly ThresholdKey[] = ['maxIncreasePct', 'maxIncrease', 'withinPct'];

const WarnThresholds = z.object(Thresholds).strict();

export const StatTest = z
  .object({
    /** mann-whitney: the values of a quantile/mean metric; two-proportion or fisher: the counts of a share/errorRate metric. */
    kind: z.enum(['mann-whitney', 'two-proportion', 'fisher']),
    /** A breach of a relative threshold counts only when the difference is significant at this confidence. */
    confidence: z.number().gt(0.5).lt(1).default(0.95),
    /** Fewer samples in either cohort: the test is not run and the gate is inconclusive. */
    minSamples: z.number().int().min(2).default(20),
  })
  .strict();

export const Gate = z
  .object({
    name: Name,
    metric: Name,
    description: z.string().optional(),
    ...Thresholds,
    /** Thresholds that only warn (low confidence > 25%, P95 +20%, tie-break < 0.5%). */
    warn: WarnThresholds.optional(),
    /** A breach must last longer than this, continuously, to fail; a shorter one warns with its clock. */
    for: SignalDuration.optional(),
    /** Fewer samples than this (in the cohort, or its baseline): inconclusive, never pass nor fail. */
    minSamples: z.number().int().min(0).default(1),
    /** critical: fail at once on a breach, whatever `for` says. */
    severity: z.enum(['normal', 'critical']).default('normal'),
    /** When the source cannot be read (Prometheus down): what the gate says. */
    onUnavailable: z.enum(['warn', 'inconclusive', 'fail']).default('warn'),
    /** Relative thresholds with a zero baseline: values up to this still pass (default 0: any rise from zero breaches). */
    zeroBaselineMax: z.number().nonnegative().default(0),
    test: StatTest.optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    const hasFail = THRESHOLD_KEYS.some((k) => g[k] !== undefined);
    const hasWarn = !!g.warn && THRESHOLD_KEYS.some((k) => g.warn![k] !== undefined);
    if (!hasFail && !hasWarn) ctx.addIssue({ code: 'custom', message: `needs a threshold: one of ${THRESHOLD_KEYS.join(', ')} (or under warn)` });
    for (const [where, t] of [['', g], ['warn.', g.warn ?? {}]] as const) {
      const r = (t as { range?: [number, number] }).range;
      if (r && r[0] > r[1]) ctx.addIssue({ code: 'custom', path: [...(where ? ['warn'] : []), 'range'], message: `must be [low, high] with low <= high, got [${r[0]}, ${r[1]}]` });
    }
  });
export type GateConfig = z.infer<typeof Gate>;

/** Is this a threshold against a baseline cohort? */
export function isRelative(key: ThresholdKey): boolean {
  return RELATIVE_KEYS.includes(key);
}
export { THRESHOLD_KEYS };

const RatePerMin = z.string().refine((s) => parseRatePerMin(s) !== undefined && parseRatePerMin(s)! > 0, {
  message: "must be a rate such as '20/min', '5/s' or '600/h'",
});

/** The request every generated or validation question is sent as; `{message}` in any string of body is replaced. */
const RequestTemplate = z
  .object({
    url: Url,
    method: z.enum(['POST', 'GET']).default('POST'),
    headers: z.record(z.string(), z.string()).default({ 'content-type': 'application/json' }),
    body: z.unknown().optional(),
    timeout: SignalDuration.default(10_000),
  })
  .strict();
export type RequestTemplate = z.infer<typeof RequestTemplate>;

export const TrafficConfig = z
  .object({
    /** Corpus file (YAML or JSON), relative to the repository: scenarios with weights and requests. */
    corpus: z.string().min(1),
    request: RequestTemplate,
    rate: RatePerMin.default('20/min'),
    burstEvery: SignalDuration.optional(),
    burstSize: z.number().int().min(1).max(10_000).default(5),
    jitter: SignalDuration.default(0),
    piiMaxPerMin: z.number().int().min(0).optional(),
    concurrency: z.number().int().min(1).max(1000).default(8),
    /** Where `traffic` writes what it sent (JSONL), relative to the environment's backup folder. */
    logDir: z.string().min(1).default('traffic'),
  })
  .strict();

export const ValidationCriteria = z
  .object({
    /** Percent of questions that must pass. */
    minSuccessRate: z.number().min(0).max(100).default(95),
    maxP95: SignalDuration.default(4000),
    maxP99: SignalDuration.optional(),
    /** Any answer >= 500 is a NO-GO. */
    no5xx: z.boolean().default(true),
  })
  .strict();

export const ValidationConfig = z
  .object({
    /** Question set (YAML or JSON), relative to the repository. */
    questions: z.string().min(1),
    request: RequestTemplate,
    concurrency: z.number().int().min(1).max(100).default(4),
    criteria: ValidationCriteria.default({ minSuccessRate: 95, maxP95: 4000, no5xx: true }),
  })
  .strict();

export const SloConfig = z
  .object({
    /** The journal's checkpoints after H0 (the seed's H+1, H+4, H+8, H+24). */
    checkpoints: z.array(SignalDuration).default([3_600_000, 14_400_000, 28_800_000, 86_400_000]),
    /** Metrics shown in the journal rows (default: every gate's metric). */
    journal: z.array(Name).optional(),
  })
  .strict();

export const SignalsConfig = z
  .object({
    /** Default window of every metric. */
    window: SignalDuration.default(900_000),
    /** How often the monitor (slo --watch, the canary controller) evaluates. */
    interval: SignalDuration.default(60_000),
    sources: z.record(Name, Source),
    /** Named cohorts: name -> the keys that belong to it (host names, upstream addresses, field values). */
    cohorts: z.record(Name, z.array(z.string().min(1)).min(1)).default({}),
    metrics: z.record(Name, Metric).default({}),
    gates: z.array(Gate).default([]),
    slo: SloConfig.default({ checkpoints: [3_600_000, 14_400_000, 28_800_000, 86_400_000] }),
    traffic: TrafficConfig.optional(),
    validation: ValidationConfig.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const recordKinds = new Set(['jsonl', 'nginx']);
    for (const [name, m] of Object.entries(s.metrics)) {
      const src = s.sources[m.source];
      const at = ['metrics', name, 'source'];
      if (!src) {
        ctx.addIssue({ code: 'custom', path: at, message: `'${m.source}' is not a source (sources: ${Object.keys(s.sources).join(', ') || 'none'})` });
        continue;
      }
      const promOnly = m.kind === 'query' || (m.kind === 'increase' && m.series !== undefined);
      if (promOnly && src.kind !== 'prometheus') ctx.addIssue({ code: 'custom', path: at, message: `a ${m.kind} metric needs a prometheus source; '${m.source}' is ${src.kind}` });
      if (!promOnly && !recordKinds.has(src.kind))
        ctx.addIssue({ code: 'custom', path: at, message: `a ${m.kind} metric reads records (a jsonl or nginx source); '${m.source}' is ${src.kind} (use kind 'query')` });
    }
    const names = new Set<string>();
    s.gates.forEach((g, i) => {
      if (names.has(g.name)) ctx.addIssue({ code: 'custom', path: ['gates', i, 'name'], message: `duplicate gate name '${g.name}'` });
      names.add(g.name);
      const m = s.metrics[g.metric];
      if (!m) {
        ctx.addIssue({ code: 'custom', path: ['gates', i, 'metric'], message: `'${g.metric}' is not a metric (metrics: ${Object.keys(s.metrics).join(', ') || 'none'})` });
        return;
      }
      if (g.test) {
        const ok = g.test.kind === 'mann-whitney' ? ['quantile', 'mean'].includes(m.kind) : ['share', 'errorRate'].includes(m.kind);
        if (!ok) ctx.addIssue({ code: 'custom', path: ['gates', i, 'test', 'kind'], message: `${g.test.kind} does not apply to a ${m.kind} metric` });
      }
    });
    for (const [name, src] of Object.entries(s.sources)) {
      if (src.kind !== 'prometheus' && src.on === 'local' && src.hosts)
        ctx.addIssue({ code: 'custom', path: ['sources', name, 'hosts'], message: "only applies with on: 'hosts'" });
    }
    for (const j of s.slo.journal ?? []) if (!s.metrics[j]) ctx.addIssue({ code: 'custom', path: ['slo', 'journal'], message: `'${j}' is not a metric` });
  });

export type SignalsInput = z.input<typeof SignalsConfig>;
export type Signals = z.output<typeof SignalsConfig>;
