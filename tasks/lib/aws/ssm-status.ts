/**
 * What an SSM command invocation's status means, as a result per host with a message an on-call
 * person can act on. Pure.
 */
import type { GetCommandInvocationCommandOutput } from '@aws-sdk/client-ssm';
import type { SsmTarget } from './ssm-command.ts';

/** SSM keeps the first 24,000 characters of stdout and 8,000 of stderr in the invocation. */
export const STDOUT_LIMIT = 24_000;
export const STDERR_LIMIT = 8_000;

export interface SsmHostResult {
  readonly hostName: string;
  readonly instanceId: string;
  readonly commandId: string;
  /** SSM Status: Success, Failed, TimedOut, Cancelled (or the last one seen: Pending, InProgress ...). */
  readonly status: string;
  /** SSM StatusDetails: Success, Failed, Delivery Timed Out, Execution Timed Out, Undeliverable, Terminated ... */
  readonly statusDetails: string;
  /** The script's exit code; null when it did not run or SSM gives none. */
  readonly exitCode: number | null;
  readonly stdoutTail: string;
  readonly stderrTail: string;
  /** Execution time on the host when SSM reports it, else from SendCommand to the last answer. */
  readonly durationMs: number;
  readonly ok: boolean;
  readonly message: string;
}

export interface MessageContext {
  /** What the command does, for messages: `restart of demo-chat`. */
  readonly what: string;
  /** Units restarted, for the "check it" hint. */
  readonly units?: readonly string[];
  readonly timeoutSeconds: number;
  readonly executionTimeoutSeconds: number;
  readonly cloudWatchLogGroup?: string;
}

export type Invocation = Pick<
  GetCommandInvocationCommandOutput,
  'Status' | 'StatusDetails' | 'ResponseCode' | 'StandardOutputContent' | 'StandardErrorContent' | 'ExecutionStartDateTime' | 'ExecutionEndDateTime'
>;

const TERMINAL_STATUS = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);
const TERMINAL_DETAILS = new Set(['Success', 'Failed', 'Delivery Timed Out', 'Execution Timed Out', 'Undeliverable', 'Terminated', 'Canceled', 'Cancelled', 'Access Denied', 'Invalid Platform']);

export function isTerminal(status: string | undefined, details: string | undefined): boolean {
  return TERMINAL_STATUS.has(status ?? '') || TERMINAL_DETAILS.has(details ?? '');
}

/** The last `lines` lines of a text, at most `chars` characters. */
export function tail(text: string | undefined, lines = 10, chars = 1500): string {
  const t = (text ?? '').trimEnd().split('\n').slice(-lines).join('\n');
  return t.length > chars ? t.slice(-chars) : t;
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const label = (t: SsmTarget) => `${t.hostName} (${t.instanceId})`;
const indented = (text: string) => text.split('\n').map((l) => `    ${l}`).join('\n');
const checkAgent = (id: string) => `aws ssm describe-instance-information --filters Key=InstanceIds,Values=${id}`;

function streams(commandId: string, instanceId: string): string {
  return `streams ${commandId}/${instanceId}/aws-runShellScript/stdout and /stderr`;
}

/** Where the output beyond what SSM keeps is (or that it is not kept). */
export function outputNote(inv: Invocation, t: SsmTarget, commandId: string, ctx: MessageContext): string {
  const cut = (inv.StandardOutputContent?.length ?? 0) >= STDOUT_LIMIT || (inv.StandardErrorContent?.length ?? 0) >= STDERR_LIMIT;
  const first = cut
    ? 'The output was cut: SSM keeps only the first 24,000 characters of output (8,000 of errors), so its end is missing here.'
    : 'SSM keeps only the first 24,000 characters of output (8,000 of errors).';
  const rest = ctx.cloudWatchLogGroup
    ? ` All of it is in CloudWatch Logs group ${ctx.cloudWatchLogGroup}, ${streams(commandId, t.instanceId)}.`
    : ' Output past that is not kept (set ssm.cloudWatchLogGroup to keep it in CloudWatch Logs).';
  return first + rest;
}

function durationOf(inv: Invocation, observedMs: number): number {
  const start = Date.parse(inv.ExecutionStartDateTime ?? '');
  const end = Date.parse(inv.ExecutionEndDateTime ?? '');
  return Number.isFinite(start) && Number.isFinite(end) && end >= start ? end - start : observedMs;
}

/** The result of a host whose invocation reached a terminal status. */
export function invocationResult(t: SsmTarget, commandId: string, inv: Invocation, ctx: MessageContext, observedMs: number): SsmHostResult {
  const status = inv.Status ?? 'Unknown';
  const details = inv.StatusDetails ?? status;
  const code = typeof inv.ResponseCode === 'number' && inv.ResponseCode >= 0 ? inv.ResponseCode : null;
  const durationMs = durationOf(inv, observedMs);
  const stdoutTail = tail(inv.StandardOutputContent);
  const stderrTail = tail(inv.StandardErrorContent);
  const ok = status === 'Success';
  const head = `${label(t)}: ${status === details ? status : `${status} (${details})`}: `;
  const ref = ` [SSM command ${commandId}]`;
  const check = ctx.units?.length ? ` Check on the host: systemctl status ${ctx.units.join(' ')}.` : '';
  let message: string;
  if (ok) message = `${head}${ctx.what} finished, exit 0, in ${seconds(durationMs)}${ref}`;
  else if (details === 'Delivery Timed Out')
    message = `${head}SSM did not deliver the ${ctx.what} within TimeoutSeconds=${ctx.timeoutSeconds}: the SSM agent did not pick it up, so nothing ran. Is the agent running and online? ${checkAgent(t.instanceId)}${ref}`;
  else if (details === 'Execution Timed Out')
    message = `${head}the ${ctx.what} ran longer than executionTimeout=${ctx.executionTimeoutSeconds} s and was stopped; it may have been left half done.${check}${ref}`;
  else if (details === 'Undeliverable')
    message = `${head}SSM could not deliver the ${ctx.what}: the instance is not managed by SSM or its SSM agent is offline (or the instance is stopped or gone), so nothing ran. Check: ${checkAgent(t.instanceId)}${ref}`;
  else if (details === 'Terminated')
    message = `${head}SSM stopped the ${ctx.what} before it ran here: the command's MaxErrors was exceeded on other instances.${ref}`;
  else if (status === 'Cancelled' || details === 'Canceled' || details === 'Cancelled')
    message = `${head}the ${ctx.what} was cancelled (CancelCommand) before it finished; it may have partly run.${check}${ref}`;
  else if (details === 'Access Denied')
    message = `${head}the SSM agent was not allowed to run the ${ctx.what} (its instance profile or run-as user lacks permission).${ref}`;
  else if (status === 'TimedOut') message = `${head}the ${ctx.what} timed out.${check}${ref}`;
  else {
    const out = stderrTail || stdoutTail;
    message =
      `${head}the ${ctx.what} ${code === null ? 'failed (no exit code)' : `exited ${code}`} after ${seconds(durationMs)}${ref}` +
      `${out ? `\n${indented(out)}` : ''}\n  ${outputNote(inv, t, commandId, ctx)}`;
  }
  return { hostName: t.hostName, instanceId: t.instanceId, commandId, status, statusDetails: details, exitCode: code, stdoutTail, stderrTail, durationMs, ok, message };
}

/** The result of a host whose invocation did not end: the deadline passed, or an API error stopped the polling. */
export function unfinishedResult(
  t: SsmTarget,
  commandId: string,
  last: { status?: string; details?: string },
  why: string,
  observedMs: number,
): SsmHostResult {
  const status = last.status ?? 'Unknown';
  const details = last.details ?? status;
  const seen = last.status ? `last status ${status === details ? status : `${status} (${details})`}` : 'SSM never showed the invocation';
  return {
    hostName: t.hostName, instanceId: t.instanceId, commandId, status, statusDetails: details, exitCode: null, stdoutTail: '', stderrTail: '', durationMs: observedMs, ok: false,
    message: `${label(t)}: no result: ${why} (${seen}). See: aws ssm get-command-invocation --command-id ${commandId} --instance-id ${t.instanceId} [SSM command ${commandId}]`,
  };
}
