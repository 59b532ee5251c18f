/** AWS and SSM settings of an environment, with their defaults filled in. No SDK import here. */
import { Ssm, type EnvironmentConfig } from '../config/schema.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { ConfigError } from '../base/errors.ts';

export interface AwsSettings {
  readonly region: string;
  /** Profile in ~/.aws/config or ~/.aws/credentials; else AWS_PROFILE, else the default chain. */
  readonly profile?: string;
  /** Endpoint URL for SSM and EC2 both (VPC endpoints, tests). */
  readonly endpoint?: string;
  /** Attempts per API call, the SDK's retries included (throttling, 5xx, network); default 4. */
  readonly maxAttempts?: number;
  /** The environment file the settings come from, for messages. */
  readonly source?: string;
}

export type SsmConfig = EnvironmentConfig['ssm'] & {};

export function awsSettings(env: LoadedEnvironment): AwsSettings {
  const aws = env.config.aws;
  if (!aws) throw new ConfigError([`${env.file}: aws: is required (region, and optionally profile and endpoint)`]);
  return { region: aws.region, profile: aws.profile, endpoint: aws.endpoint, source: env.file };
}

/** The environment's `ssm` section, or the defaults when it has none. */
export function ssmConfig(env: LoadedEnvironment): SsmConfig {
  return env.config.ssm ?? Ssm.parse({});
}
