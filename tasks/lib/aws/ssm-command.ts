/** The SendCommand request cutover makes, as data (what --dry-run prints). Pure. */
import type { SendCommandCommandInput } from '@aws-sdk/client-ssm';
import { and, raw } from '../commands/shell.ts';
import { systemd } from '../commands/systemd.ts';

/** SendCommand takes at most 50 instance ids. */
export const MAX_INSTANCE_IDS = 50;

export interface SsmTarget {
  /** The host's name in the environment (output, history). */
  readonly hostName: string;
  readonly instanceId: string;
}

/** How the command is sent: the same fields for a restart and for any script. */
export interface SendOptions {
  readonly targets: readonly SsmTarget[];
  /** Delivery timeout: SendCommand TimeoutSeconds (30..2592000). */
  readonly timeoutSeconds: number;
  /** AWS-RunShellScript executionTimeout (1..172800). */
  readonly executionTimeoutSeconds: number;
  /** How many instances run it at once: a count or a percentage ('25%'); default 50 (SSM's default). */
  readonly maxConcurrency?: number | string;
  /** Errors after which SSM stops sending it to more instances; default 0 (SSM's default). */
  readonly maxErrors?: number | string;
  /** Also send the output to this CloudWatch Logs group. */
  readonly cloudWatchLogGroup?: string;
  /** Shown in the SSM console (cut at 100 characters); default `cutover: restart UNITS`. */
  readonly comment?: string;
}

export interface RestartSpec {
  /** systemd units, restarted together. */
  readonly units: readonly string[];
  /** Prefix systemctl restart with `sudo -n`. */
  readonly sudo: boolean;
}

/** `[sudo -n ]systemctl restart -- UNITS && systemctl is-active -- UNITS`, every unit quoted once. */
export function restartScript(units: readonly string[], sudo: boolean): string {
  return and(raw(systemd.restart(units, sudo).script), raw(systemd.isActive(units).script)).text;
}

/** The SendCommand input for AWS-RunShellScript running `commands` on the targets. */
export function runShellScriptRequest(o: SendOptions & { readonly commands: readonly string[] }): SendCommandCommandInput {
  return {
    DocumentName: 'AWS-RunShellScript',
    InstanceIds: o.targets.map((t) => t.instanceId),
    ...(o.comment ? { Comment: o.comment.slice(0, 100) } : {}),
    Parameters: { commands: [...o.commands], executionTimeout: [String(o.executionTimeoutSeconds)] },
    TimeoutSeconds: o.timeoutSeconds,
    MaxConcurrency: String(o.maxConcurrency ?? 50),
    MaxErrors: String(o.maxErrors ?? 0),
    ...(o.cloudWatchLogGroup ? { CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: o.cloudWatchLogGroup } } : {}),
  };
}

/** Exactly the SendCommand input ssmRestart sends for these options. */
export function sendCommandRequest(o: SendOptions & RestartSpec): SendCommandCommandInput {
  return runShellScriptRequest({ ...o, comment: o.comment ?? `cutover: restart ${o.units.join(' ')}`, commands: [restartScript(o.units, o.sudo)] });
}
