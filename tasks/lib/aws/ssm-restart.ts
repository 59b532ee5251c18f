/**
 * Restarts through SSM Run Command: ONE SendCommand (AWS-RunShellScript) for all targets, SSM's
 * own fleet engine doing MaxConcurrency/MaxErrors, then each invocation polled
 * (GetCommandInvocation) to a terminal status with deploy-sized delays and an overall deadline.
 */
import type { SendCommandCommandInput } from '@aws-sdk/client-ssm';
import { CutoverError, ExitCode } from '../base/errors.ts';
import { nextDelay, sleep } from './backoff.ts';
import { ssmClient } from './clients.ts';
import { awsError, AwsApiError, errorCode, THROTTLING } from './errors.ts';
import { MAX_INSTANCE_IDS, runShellScriptRequest, sendCommandRequest, type RestartSpec, type SendOptions, type SsmTarget } from './ssm-command.ts';
import { invocationResult, isTerminal, seconds, unfinishedResult, type MessageContext, type SsmHostResult } from './ssm-status.ts';
import type { AwsSettings } from './settings.ts';

export interface SsmUpdate {
  readonly hostName: string;
  readonly instanceId: string;
  readonly commandId: string;
  readonly status: string;
  readonly statusDetails: string;
  /** Since SendCommand. */
  readonly elapsedMs: number;
}

export interface PollOptions {
  /** First delay between polls of an invocation; doubles up to pollMaxMs. */
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
  /** Stop polling this long after SendCommand; unfinished invocations are then cancelled. */
  readonly deadlineMs: number;
  /** Abort: polling stops, CancelCommand is sent, and an `interrupted` CutoverError is thrown. */
  readonly signal?: AbortSignal;
  /** Called when a host's invocation changes status (for task output). */
  readonly onUpdate?: (u: SsmUpdate) => void;
}

export interface SsmRestartOptions extends SendOptions, RestartSpec, PollOptions {
  readonly settings: AwsSettings;
}

export interface SsmRunResult {
  readonly commandId: string;
  /** Exactly what was sent. */
  readonly request: SendCommandCommandInput;
  /** In the order of the targets. */
  readonly hosts: SsmHostResult[];
  /** Every host ended in Success. */
  readonly ok: boolean;
  /** SSM HTTP requests made (SendCommand, polls, retries, CancelCommand). */
  readonly apiCalls: number;
  readonly durationMs: number;
}

/** Restart `units` on every target through one SSM command; one result per host (never throws for a host's failure). */
export function ssmRestart(o: SsmRestartOptions): Promise<SsmRunResult> {
  const what = `restart of ${o.units.join(' ')}`;
  return runAndPoll(o, sendCommandRequest(o), { what, units: o.units, ...messageTimeouts(o) });
}

/** Any AWS-RunShellScript commands, sent and polled like a restart. */
export function ssmRun(o: SendOptions & PollOptions & { readonly settings: AwsSettings; readonly commands: readonly string[]; readonly what: string }): Promise<SsmRunResult> {
  return runAndPoll(o, runShellScriptRequest(o), { what: o.what, ...messageTimeouts(o) });
}

const messageTimeouts = (o: SendOptions) => ({ timeoutSeconds: o.timeoutSeconds, executionTimeoutSeconds: o.executionTimeoutSeconds, cloudWatchLogGroup: o.cloudWatchLogGroup });

function checkTargets(targets: readonly SsmTarget[]): void {
  if (!targets.length) throw new CutoverError('SSM: no targets to send the command to');
  if (targets.length > MAX_INSTANCE_IDS) throw new CutoverError(`SSM: ${targets.length} targets, but one SendCommand takes at most ${MAX_INSTANCE_IDS} instance ids; use rollout batches of at most ${MAX_INSTANCE_IDS}`);
  const seen = new Map<string, string>();
  for (const t of targets) {
    const other = seen.get(t.instanceId);
    if (other) throw new CutoverError(`SSM: hosts ${other} and ${t.hostName} have the same instance id ${t.instanceId}`);
    seen.set(t.instanceId, t.hostName);
  }
}

/** Errors worth another poll: the invocation not created yet, throttling, AWS-side or network trouble. */
function retryable(err: unknown): boolean {
  const code = errorCode(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode ?? 0;
  return code === 'InvocationDoesNotExist' || THROTTLING.has(code) || status >= 500 || /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|TimeoutError)$/.test(code);
}

const ABORTED = Symbol('aborted');

async function runAndPoll(o: SendOptions & PollOptions & { readonly settings: AwsSettings }, request: SendCommandCommandInput, ctx: MessageContext): Promise<SsmRunResult> {
  checkTargets(o.targets);
  const interrupted = (commandId?: string) =>
    new CutoverError(
      commandId
        ? `interrupted while SSM command ${commandId} ran (${ctx.what}); CancelCommand was sent, but hosts may already have run it: check each with aws ssm list-command-invocations --command-id ${commandId}`
        : `interrupted before SSM accepted the ${ctx.what}; if it did, it shows in the SSM console`,
      ExitCode.interrupted,
    );
  if (o.signal?.aborted) throw interrupted();
  const { SendCommandCommand, GetCommandInvocationCommand, CancelCommandCommand } = await import('@aws-sdk/client-ssm');
  const ssm = await ssmClient(o.settings);
  const cancel = async (commandId: string, instanceIds?: string[]) => {
    // best effort, and bounded: the run is already failing or interrupted
    await ssm.client.send(new CancelCommandCommand({ CommandId: commandId, ...(instanceIds ? { InstanceIds: instanceIds } : {}) }), { abortSignal: AbortSignal.timeout(5000) }).catch(() => {});
  };
  try {
    const started = performance.now();
    const sent = await ssm.client.send(new SendCommandCommand(request), { abortSignal: o.signal }).catch((err: unknown) => {
      if (o.signal?.aborted) throw interrupted();
      throw awsError(err, 'SSM.SendCommand', o.settings);
    });
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new AwsApiError('SSM.SendCommand', 'NoCommandId', 'SSM.SendCommand answered without a CommandId');
    const deadline = started + o.deadlineMs;
    const elapsed = () => Math.round(performance.now() - started);

    const poll = async (t: SsmTarget): Promise<SsmHostResult | typeof ABORTED> => {
      let delay: number | undefined;
      const last: { status?: string; details?: string } = {};
      for (;;) {
        delay = nextDelay(delay, o.pollMinMs, o.pollMaxMs);
        if (!(await sleep(Math.max(0, Math.min(delay, deadline - performance.now())), o.signal))) return ABORTED;
        try {
          const inv = await ssm.client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: t.instanceId }), { abortSignal: o.signal });
          if (inv.Status !== last.status || inv.StatusDetails !== last.details) {
            last.status = inv.Status;
            last.details = inv.StatusDetails;
            o.onUpdate?.({ hostName: t.hostName, instanceId: t.instanceId, commandId, status: inv.Status ?? 'Unknown', statusDetails: inv.StatusDetails ?? '', elapsedMs: elapsed() });
          }
          if (isTerminal(inv.Status, inv.StatusDetails)) return invocationResult(t, commandId, inv, ctx, elapsed());
        } catch (err) {
          if (o.signal?.aborted) return ABORTED;
          if (!retryable(err)) return unfinishedResult(t, commandId, last, `${awsError(err, 'SSM.GetCommandInvocation', o.settings).message}; CancelCommand was sent`, elapsed());
        }
        if (performance.now() >= deadline) return unfinishedResult(t, commandId, last, `no terminal status within the deadline of ${seconds(o.deadlineMs)}; CancelCommand was sent`, elapsed());
      }
    };

    const polled = await Promise.all(o.targets.map(poll));
    if (polled.includes(ABORTED)) {
      await cancel(commandId);
      throw interrupted(commandId);
    }
    const hosts = polled as SsmHostResult[];
    const stuck = hosts.filter((h) => !isTerminal(h.status, h.statusDetails)).map((h) => h.instanceId);
    if (stuck.length) await cancel(commandId, stuck);
    return { commandId, request, hosts, ok: hosts.every((h) => h.ok), apiCalls: ssm.calls(), durationMs: elapsed() };
  } finally {
    ssm.destroy();
  }
}
