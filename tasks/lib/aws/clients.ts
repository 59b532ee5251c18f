/**
 * SSM and EC2 clients, imported lazily (the SDK costs ~0.3 s to load: only the paths that call AWS
 * pay for it). Each client counts the HTTP requests it makes, retries included.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { ec2ClientClass } from './ec2-modules.ts';
import type { AwsSettings } from './settings.ts';

export interface Counted<C> {
  readonly client: C;
  /** HTTP requests made so far (every attempt of every call). */
  calls(): number;
  destroy(): void;
}

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

function clientConfig(s: AwsSettings) {
  return {
    region: s.region,
    ...(s.profile ? { profile: s.profile } : {}),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    maxAttempts: s.maxAttempts ?? 4,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 5000, requestTimeout: 15_000 },
    logger: SILENT, // the SDK would console.warn (e.g. profile and key variables both set) inside a running task list
  };
}

interface Stack {
  middlewareStack: { add(mw: (next: (a: unknown) => Promise<unknown>) => (a: unknown) => Promise<unknown>, o: { step: 'deserialize'; name: string }): void };
}

function counted<C extends Stack & { destroy(): void }>(client: C): Counted<C> {
  let n = 0;
  // the deserialize step runs once per attempt (the retry loop is outside it)
  client.middlewareStack.add((next) => (args) => (n++, next(args)), { step: 'deserialize', name: 'cutoverCountCalls' });
  return { client, calls: () => n, destroy: () => client.destroy() };
}

function quietSdk(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // the SDK warns on Node 20
}

export async function ssmClient(s: AwsSettings): Promise<Counted<SSMClient>> {
  quietSdk();
  const { SSMClient } = await import('@aws-sdk/client-ssm');
  return counted(new SSMClient(clientConfig(s)) as SSMClient & Stack);
}

export async function ec2Client(s: AwsSettings): Promise<Counted<EC2Client>> {
  quietSdk();
  const EC2 = await ec2ClientClass();
  return counted(new EC2(clientConfig(s)) as EC2Client & Stack);
}
