/**
 * AWS failures as CutoverErrors whose messages say what was tried and what to do. Pure apart from
 * reading process.env and the shared config files (for "what was tried").
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CutoverError, ExitCode } from '../base/errors.ts';
import type { AwsSettings } from './settings.ts';

/** No credentials were found, or AWS rejected them (expired, revoked, wrong). */
export class AwsCredentialsError extends CutoverError {
  constructor(
    message: string,
    readonly tried: readonly string[],
  ) {
    super(message, ExitCode.refused);
  }
}

/** An AWS API call failed for another reason (permissions, bad request, unreachable endpoint). */
export class AwsApiError extends CutoverError {
  constructor(
    readonly call: string,
    readonly code: string,
    message: string,
  ) {
    super(message, ExitCode.refused);
  }
}

/** The error code an SDK error carries (`InvocationDoesNotExist`, `ThrottlingException`, `ECONNREFUSED`). */
export function errorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; Code?: string } | null;
  return e?.Code ?? (e?.name && e.name !== 'Error' ? e.name : undefined) ?? e?.code ?? 'Error';
}

export const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled']);
const REJECTED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'InvalidClientTokenId', 'UnrecognizedClientException', 'AuthFailure', 'SignatureDoesNotMatch', 'InvalidSignatureException', 'IncompleteSignature', 'MissingAuthenticationToken']);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']);

export interface SourceFacts {
  readonly env: NodeJS.ProcessEnv;
  /** The text of a file, or null when it does not exist. */
  readonly readFile: (p: string) => string | null;
  readonly home: string;
}

const realFacts = (): SourceFacts => ({
  env: process.env,
  readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
  home: os.homedir(),
});

/** The profile the default chain uses, and why. */
export function profileOf(settings: Pick<AwsSettings, 'profile' | 'source'>, env: NodeJS.ProcessEnv): { name: string; from: string; explicit: boolean } {
  if (settings.profile) return { name: settings.profile, from: `aws.profile in ${settings.source ?? 'the environment file'}`, explicit: true };
  if (env.AWS_PROFILE) return { name: env.AWS_PROFILE, from: 'AWS_PROFILE', explicit: true };
  return { name: 'default', from: 'the default profile', explicit: false };
}

/** One line per source the SDK's default credential chain looks at, with what it found. */
export function credentialSources(settings: Pick<AwsSettings, 'profile' | 'source'>, facts: SourceFacts = realFacts()): string[] {
  const { env } = facts;
  const profile = profileOf(settings, env);
  const keys = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY;
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE || path.join(facts.home, '.aws', 'credentials');
  const configFile = env.AWS_CONFIG_FILE || path.join(facts.home, '.aws', 'config');
  const inFile = (file: string, header: RegExp) => {
    const text = facts.readFile(file);
    if (text === null) return `${file} does not exist`;
    return header.test(text) ? `${file} has it` : `${file} does not have it`;
  };
  const esc = profile.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const lines = [
    profile.explicit
      ? `environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: skipped because a profile is set (${profile.from})`
      : `environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: ${keys ? 'set' : 'not set'}`,
    `profile '${profile.name}' (${profile.from}): ${inFile(credentialsFile, new RegExp(`^\\s*\\[\\s*${esc}\\s*\\]`, 'm'))}; ${inFile(configFile, new RegExp(`^\\s*\\[\\s*(profile\\s+)?${esc}\\s*\\]`, 'm'))}`,
    `web identity token (AWS_WEB_IDENTITY_TOKEN_FILE): ${env.AWS_WEB_IDENTITY_TOKEN_FILE ? 'set' : 'not set'}`,
    `container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI): ${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI ? 'set' : 'not set'}`,
    `EC2 instance role (instance metadata service): ${env.AWS_EC2_METADATA_DISABLED === 'true' ? 'disabled by AWS_EC2_METADATA_DISABLED=true' : 'no credentials from it (not on EC2, or no instance profile attached)'}`,
  ];
  return lines;
}

/** Where the credentials in use most likely came from, for "AWS rejected them" messages. */
function likelySource(settings: AwsSettings, env: NodeJS.ProcessEnv): string {
  const p = profileOf(settings, env);
  if (p.explicit) return `profile '${p.name}' (${p.from})`;
  if (env.AWS_ACCESS_KEY_ID) return 'the environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY' + (env.AWS_SESSION_TOKEN ? '/AWS_SESSION_TOKEN' : '');
  return "the default profile or the instance role";
}

const TODO_MISSING =
  'Give cutover credentials: set AWS_PROFILE (or aws.profile) to a profile that has them (for SSO: aws sso login --profile NAME), ' +
  'or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or run on an EC2 instance with an instance profile.';

/**
 * Turns an SDK error of `call` (`SSM.SendCommand`) into a CutoverError naming the call, the
 * region and endpoint, and what to do. Errors that are already CutoverErrors pass through.
 */
export function awsError(err: unknown, call: string, settings: AwsSettings, facts?: SourceFacts): CutoverError {
  if (err instanceof CutoverError) return err;
  const code = errorCode(err);
  const detail = ((err as Error)?.message ?? String(err)).replace(/\.+$/, '');
  const where = `${settings.region}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
  if (code === 'CredentialsProviderError' || /could not load credentials/i.test(detail)) {
    const tried = credentialSources(settings, facts);
    return new AwsCredentialsError(
      `no AWS credentials for ${call} (${where}). Tried, in order:\n${tried.map((t) => `  - ${t}`).join('\n')}\n  (the SDK said: ${detail})\n${TODO_MISSING}`,
      tried,
    );
  }
  if (REJECTED.has(code)) {
    const env = (facts ?? realFacts()).env;
    const from = likelySource(settings, env);
    return new AwsCredentialsError(
      `AWS rejected the credentials for ${call} (${where}): ${code}: ${detail}. They came from ${from}; they are expired or not valid. ` +
        `Refresh them (aws sso login, new keys or session token, or check the machine clock) and run again.`,
      [from],
    );
  }
  if (DENIED.has(code))
    return new AwsApiError(call, code, `${call} (${where}) was denied: ${code}: ${detail}. The identity cutover runs as needs permission for ${call.replace(/^(\w+)\./, (_, s: string) => `${s.toLowerCase()}:`)}.`);
  if (NETWORK.has(code))
    return new AwsApiError(call, code, `cannot reach AWS for ${call} (${where}): ${code}: ${detail}. Check the network, the region, and aws.endpoint.`);
  return new AwsApiError(call, code, `${call} (${where}) failed: ${code}: ${detail}`);
}
