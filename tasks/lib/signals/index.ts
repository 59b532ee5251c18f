/**
 * signals: sources -> metrics -> gates -> decisions. What the SLO monitor, the release validation
 * and the canary controller use (docs/signals.md, "For the canary controller").
 */
export { SignalsConfig, type Signals, type SignalsInput, type GateConfig, type MetricConfig, type SourceConfig } from '../config/signals.ts';
export type { ClockState, Evaluation, GateSetResult, GateVerdict, MetricValue, SourceStats, TimeWindow, WindowValues } from './types.ts';
export { CLEAR_CLOCK } from './types.ts';
export { evaluateGate, thresholdText, type GateInput, type GateOutcome } from './gates.ts';
export { decision, evaluateGateSet, worst, type GateSetInput } from './evaluate.ts';
export { ALL, RecordAggregator, type CohortSpec } from './aggregate.ts';
export { collectOnce, type Collected, type CollectOptions } from './collect.ts';
export { Monitor, replayFile, type Judge, type MonitorOptions, type MonitorState, type Round } from './monitor.ts';
export { openSources, positionsOf, LOCAL_HOST, type OpenSource, type SourcePositions } from './sources/open.ts';
export { LogReader, LocalLogPlace, RunnerLogPlace, type LogPosition } from './sources/log-reader.ts';
export { PrometheusClient, withCohort, type PromAnswer } from './sources/prometheus.ts';
export { parseDuration, clockText } from '../config/signal-duration.ts';
