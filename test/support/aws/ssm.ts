// SSM Run Command as the fake runs it: invocations go Pending -> InProgress -> terminal, and the
// script runs on the sandbox host mapped to the instance, over SSH (as the agent would run it).
import { randomUUID } from 'node:crypto';
import { command, raw } from '../../../tasks/lib/commands/shell.ts';
import { SshRunner } from '../../../tasks/lib/runners/ssh.ts';
import { ApiError, type FakeInstance, type InvocationKnobs } from './model.ts';

export const STDOUT_KEEP = 24_000;
export const STDERR_KEEP = 8_000;

export interface Invocation {
  instanceId: string;
  status: string;
  details: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  start?: Date;
  end?: Date;
  polls: number;
  knobs: InvocationKnobs;
  abort: AbortController;
}

export interface CommandRec {
  commandId: string;
  request: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  requestedAt: Date;
  script: string;
  executionTimeout: number;
  maxConcurrency: number;
  maxErrors: number;
  errors: number;
  invocations: Map<string, Invocation>;
  done: Promise<void>;
}

export interface SshAccess {
  privateKeyPath: string;
  knownHostsPath: string;
}

const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);
const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((done) => {
    if (ms <= 0 || signal.aborted) return done();
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), done()), { once: true });
  });

/** "10" or "25%" of `of` targets. */
function amount(v: unknown, of: number, fallback: number, name: string, round: (n: number) => number): number {
  if (v === undefined) return fallback;
  const m = /^(\d+)(%?)$/.exec(String(v));
  if (!m) throw new ApiError('ValidationException', `1 validation error detected: Value '${String(v)}' at '${name}' failed to satisfy constraint`);
  return m[2] ? round((Number(m[1]) * of) / 100) : Number(m[1]);
}

export class SsmEngine {
  readonly commands = new Map<string, CommandRec>();
  private readonly runners = new Map<string, SshRunner>();

  constructor(
    private readonly instances: () => FakeInstance[],
    private readonly globalKnobs: () => InvocationKnobs,
    private readonly ssh: SshAccess | undefined,
  ) {}

  private find(id: string): FakeInstance | undefined {
    return this.instances().find((i) => i.instanceId === id);
  }

  sendCommand(req: Record<string, any>): object { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (req.DocumentName !== 'AWS-RunShellScript') throw new ApiError('InvalidDocument', `Document ${String(req.DocumentName)} does not exist (only AWS-RunShellScript here)`);
    const ids: string[] = req.InstanceIds ?? [];
    if (!ids.length || ids.length > 50) throw new ApiError('ValidationException', 'InstanceIds must have between 1 and 50 items');
    const bad = ids.filter((id) => {
      const i = this.find(id);
      return !i || !i.managed || i.state !== 'running';
    });
    if (bad.length) throw new ApiError('InvalidInstanceId', `Instances [[${bad.join(', ')}]] not in a valid state for account 000000000000`);
    const commands: unknown = req.Parameters?.commands;
    if (!Array.isArray(commands) || !commands.every((c) => typeof c === 'string')) throw new ApiError('InvalidParameters', 'Parameters.commands must be a list of strings');
    const execTimeout = Number(req.Parameters?.executionTimeout?.[0] ?? 3600);
    if (!Number.isInteger(execTimeout) || execTimeout < 1 || execTimeout > 172_800) throw new ApiError('InvalidParameters', 'executionTimeout must be 1..172800');
    const timeoutSeconds = req.TimeoutSeconds ?? 3600;
    if (timeoutSeconds < 30 || timeoutSeconds > 2_592_000) throw new ApiError('ValidationException', 'TimeoutSeconds must be 30..2592000');
    const rec: CommandRec = {
      commandId: randomUUID(), request: req, requestedAt: new Date(), script: commands.join('\n'), executionTimeout: execTimeout,
      maxConcurrency: Math.max(1, amount(req.MaxConcurrency, ids.length, 50, 'maxConcurrency', Math.ceil)),
      maxErrors: amount(req.MaxErrors, ids.length, 0, 'maxErrors', Math.floor),
      errors: 0, invocations: new Map(), done: Promise.resolve(),
    };
    for (const id of ids)
      rec.invocations.set(id, { instanceId: id, status: 'Pending', details: 'Pending', responseCode: -1, stdout: '', stderr: '', polls: 0, knobs: { ...this.globalKnobs(), ...this.find(id)!.knobs }, abort: new AbortController() });
    this.commands.set(rec.commandId, rec);
    rec.done = this.schedule(rec);
    return { Command: this.describe(rec) };
  }

  private describe(rec: CommandRec): object {
    const r = rec.request;
    return {
      CommandId: rec.commandId, DocumentName: r.DocumentName, DocumentVersion: '$DEFAULT', Comment: r.Comment ?? '', ExpiresAfter: rec.requestedAt.getTime() / 1000 + (r.TimeoutSeconds ?? 3600) + rec.executionTimeout,
      Parameters: r.Parameters, InstanceIds: r.InstanceIds, Targets: [], RequestedDateTime: rec.requestedAt.getTime() / 1000, Status: 'Pending', StatusDetails: 'Pending',
      MaxConcurrency: String(r.MaxConcurrency ?? '50'), MaxErrors: String(r.MaxErrors ?? '0'), TargetCount: rec.invocations.size, CompletedCount: 0, ErrorCount: 0, DeliveryTimedOutCount: 0,
      TimeoutSeconds: r.TimeoutSeconds ?? 3600, CloudWatchOutputConfig: r.CloudWatchOutputConfig ?? { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  /** MaxConcurrency invocations at a time; past MaxErrors, the ones not started are Terminated. */
  private async schedule(rec: CommandRec): Promise<void> {
    const queue = [...rec.invocations.values()];
    const worker = async () => {
      for (let inv = queue.shift(); inv; inv = queue.shift()) {
        if (TERMINAL.has(inv.status)) continue; // cancelled while queued
        if (rec.errors > rec.maxErrors) {
          this.finish(inv, 'Cancelled', 'Terminated');
          continue;
        }
        await this.run(rec, inv);
      }
    };
    await Promise.all(Array.from({ length: Math.min(rec.maxConcurrency, queue.length) }, worker));
  }

  private finish(inv: Invocation, status: string, details: string): void {
    if (TERMINAL.has(inv.status)) return; // CancelCommand got there first
    inv.status = status;
    inv.details = details;
    inv.end = new Date();
  }

  private async run(rec: CommandRec, inv: Invocation): Promise<void> {
    const k = inv.knobs;
    const signal = inv.abort.signal;
    await wait(k.pendingMs ?? 0, signal);
    if (signal.aborted) return;
    const inst = this.find(inv.instanceId);
    if (k.undeliverable || !inst || inst.state !== 'running') return this.finish(inv, 'Failed', 'Undeliverable');
    // an offline agent never picks it up: Delivery Timed Out at once, not after TimeoutSeconds (>= 30 s)
    if (k.timeout === 'delivery' || inst.ping !== 'Online') return this.finish(inv, 'TimedOut', 'Delivery Timed Out');
    if (k.cancelled) return this.finish(inv, 'Cancelled', 'Canceled');
    inv.status = 'InProgress';
    inv.details = 'In Progress';
    inv.start = new Date();
    const minDone = wait(k.inProgressMs ?? 0, signal);
    if (k.timeout === 'execution') {
      await minDone;
      rec.errors++;
      return this.finish(inv, 'TimedOut', 'Execution Timed Out');
    }
    const r = await this.exec(inst, rec, inv);
    await minDone;
    if (signal.aborted) return;
    inv.responseCode = r.code ?? -1;
    if (r.timedOut) {
      rec.errors++;
      return this.finish(inv, 'TimedOut', 'Execution Timed Out');
    }
    if (r.code === 0) return this.finish(inv, 'Success', 'Success');
    rec.errors++;
    this.finish(inv, 'Failed', 'Failed');
  }

  /** The script as one bash command on the mapped host; SSM keeps the FIRST 24,000/8,000 characters. */
  private async exec(inst: FakeInstance, rec: CommandRec, inv: Invocation): Promise<{ code: number | null; timedOut: boolean }> {
    if (!inst.ssh || !this.ssh) {
      inv.stderr = `fake SSM: no sandbox host is mapped to ${inst.instanceId}`;
      return { code: 1, timedOut: false };
    }
    let runner = this.runners.get(inst.instanceId);
    if (!runner) {
      runner = new SshRunner(inst.ssh, { ...this.ssh, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 });
      this.runners.set(inst.instanceId, runner);
    }
    const keep = (limit: number, field: 'stdout' | 'stderr') => (chunk: string) => {
      if (inv[field].length < limit) inv[field] = (inv[field] + chunk).slice(0, limit);
    };
    try {
      const r = await runner.exec(command(raw(rec.script)), { timeoutMs: rec.executionTimeout * 1000, signal: inv.abort.signal, onStdout: keep(STDOUT_KEEP, 'stdout'), onStderr: keep(STDERR_KEEP, 'stderr') });
      return { code: r.code, timedOut: !!r.error?.startsWith('timed out') };
    } catch (err) {
      inv.stderr = `fake SSM: ${(err as Error).message}`;
      return { code: 1, timedOut: false };
    }
  }

  getCommandInvocation(req: { CommandId?: string; InstanceId?: string }): object {
    const rec = this.commands.get(req.CommandId ?? '');
    if (!rec) throw new ApiError('InvalidCommandId', `Command ${String(req.CommandId)} does not exist`);
    const inv = rec.invocations.get(req.InstanceId ?? '');
    if (!inv) throw new ApiError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation');
    if (inv.polls < (inv.knobs.missingPolls ?? 0)) {
      inv.polls++;
      throw new ApiError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation');
    }
    inv.polls++;
    const iso = (d?: Date) => d?.toISOString() ?? '';
    const elapsed = inv.start ? `PT${(((inv.end ?? new Date()).getTime() - inv.start.getTime()) / 1000).toFixed(3)}S` : '';
    const cw = rec.request.CloudWatchOutputConfig;
    return {
      CommandId: rec.commandId, InstanceId: inv.instanceId, Comment: rec.request.Comment ?? '', DocumentName: 'AWS-RunShellScript', DocumentVersion: '$DEFAULT', PluginName: 'aws:runShellScript',
      ResponseCode: inv.responseCode, ExecutionStartDateTime: iso(inv.start), ExecutionElapsedTime: elapsed, ExecutionEndDateTime: iso(inv.end),
      Status: inv.status, StatusDetails: inv.details, StandardOutputContent: inv.stdout, StandardOutputUrl: '', StandardErrorContent: inv.stderr, StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: cw?.CloudWatchLogGroupName ?? '', CloudWatchOutputEnabled: !!cw?.CloudWatchOutputEnabled },
    };
  }

  cancelCommand(req: { CommandId?: string; InstanceIds?: string[] }): object {
    const rec = this.commands.get(req.CommandId ?? '');
    if (!rec) throw new ApiError('InvalidCommandId', `Command ${String(req.CommandId)} does not exist`);
    for (const inv of rec.invocations.values()) {
      if (req.InstanceIds?.length && !req.InstanceIds.includes(inv.instanceId)) continue;
      if (TERMINAL.has(inv.status)) continue;
      this.finish(inv, 'Cancelled', 'Canceled');
      inv.abort.abort();
    }
    return {};
  }

  describeInstanceInformation(req: { Filters?: { Key: string; Values: string[] }[]; InstanceInformationFilterList?: { key: string; valueSet: string[] }[]; MaxResults?: number; NextToken?: string }, pageSize: number): object {
    if (req.MaxResults !== undefined && (req.MaxResults < 5 || req.MaxResults > 50)) throw new ApiError('ValidationException', 'MaxResults must be 5..50');
    let list = this.instances().filter((i) => i.managed);
    for (const f of [...(req.Filters ?? []), ...(req.InstanceInformationFilterList ?? []).map((f) => ({ Key: f.key, Values: f.valueSet }))]) {
      if (f.Key === 'InstanceIds') list = list.filter((i) => f.Values.includes(i.instanceId));
      else if (f.Key === 'PingStatus') list = list.filter((i) => f.Values.includes(pingOf(i)));
      else throw new ApiError('InvalidFilterKey', `filter key ${f.Key} is not supported here`);
    }
    const start = req.NextToken ? Number(Buffer.from(req.NextToken, 'base64url').toString()) : 0;
    const size = Math.min(req.MaxResults ?? 50, pageSize);
    const page = list.slice(start, start + size);
    const next = start + size < list.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
    return {
      InstanceInformationList: page.map((i) => ({
        InstanceId: i.instanceId, PingStatus: pingOf(i), LastPingDateTime: Date.now() / 1000 - (pingOf(i) === 'Online' ? 10 : 3600), AgentVersion: '3.3.0.0', IsLatestVersion: true,
        PlatformType: 'Linux', PlatformName: 'Amazon Linux', PlatformVersion: '2023', ResourceType: 'EC2Instance', IPAddress: i.privateIp, ComputerName: `ip-${i.privateIp.replaceAll('.', '-')}`,
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  async close(): Promise<void> {
    for (const rec of this.commands.values()) for (const inv of rec.invocations.values()) inv.abort.abort();
    await Promise.all([...this.commands.values()].map((c) => c.done));
    await Promise.all([...this.runners.values()].map((r) => r.close()));
  }
}

/** A stopped instance's agent is not connected, whatever its knob says. */
const pingOf = (i: FakeInstance): string => (i.state === 'running' ? i.ping : 'ConnectionLost');
