/** SSM restart options and targets from an environment and its hosts (what the deploy graph passes). */
import type { Host } from '../config/schema.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { CutoverError } from '../base/errors.ts';
import type { SsmTarget } from './ssm-command.ts';
import type { SsmRestartOptions } from './ssm-restart.ts';
import { awsSettings, ssmConfig } from './settings.ts';

/** Every host as an SSM target; a host without instanceId is an error naming it. */
export function ssmTargets(hosts: readonly Host[]): SsmTarget[] {
  const missing = hosts.filter((h) => !h.instanceId).map((h) => h.name);
  if (missing.length) throw new CutoverError(`SSM restarts need an instanceId on every host; missing on: ${missing.join(', ')}`);
  return hosts.map((h) => ({ hostName: h.name, instanceId: h.instanceId! }));
}

/** ssmRestart options from the environment's aws and ssm sections; the caller adds signal and onUpdate. */
export function ssmRestartOptions(
  env: LoadedEnvironment,
  hosts: readonly Host[],
  what: { units: readonly string[]; sudo: boolean; maxConcurrency?: number | string; maxErrors?: number | string; comment?: string },
): SsmRestartOptions {
  const ssm = ssmConfig(env);
  return {
    settings: awsSettings(env),
    targets: ssmTargets(hosts),
    units: what.units,
    sudo: what.sudo,
    timeoutSeconds: ssm.timeoutSeconds,
    executionTimeoutSeconds: Math.ceil(ssm.executionTimeout / 1000),
    ...(what.maxConcurrency !== undefined ? { maxConcurrency: what.maxConcurrency } : {}),
    ...(what.maxErrors !== undefined ? { maxErrors: what.maxErrors } : {}),
    ...(ssm.cloudWatchLogGroup ? { cloudWatchLogGroup: ssm.cloudWatchLogGroup } : {}),
    ...(what.comment ? { comment: what.comment } : {}),
    pollMinMs: ssm.pollMin,
    pollMaxMs: ssm.pollMax,
    deadlineMs: ssm.deadline,
  };
}
