// EC2 discovery and preflight with the real SDK clients against the local AWS stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { discoverHosts } from '../../tasks/lib/aws/discover.ts';
import { ec2Preflight } from '../../tasks/lib/aws/ec2-preflight.ts';
import { AwsApiError, AwsCredentialsError } from '../../tasks/lib/aws/errors.ts';
import { resolveHosts } from '../../tasks/lib/aws/hosts.ts';
import type { AwsSettings } from '../../tasks/lib/aws/settings.ts';
import { CutoverError, ExitCode } from '../../tasks/lib/base/errors.ts';
import { TEST_ACCESS_KEY_ID, TEST_REGION, useTestAwsEnv } from '../support/aws/env.ts';
import { watchConnections, type ConnectionLog } from '../support/aws/net-guard.ts';
import { startAwsServer, type AwsServer } from '../support/aws/server.ts';

let aws: AwsServer;
let settings: AwsSettings;
let restoreEnv: () => void;
let net: ConnectionLog;
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const prod = { Role: 'api', Env: 'production' };

beforeAll(async () => {
  restoreEnv = useTestAwsEnv();
  net = watchConnections();
  aws = await startAwsServer({
    pageSize: 2,
    instances: [
      { instanceId: id(1), privateIp: '10.0.1.11', publicIp: '198.51.100.11', tags: { ...prod, Name: 'api-b' } },
      { instanceId: id(2), privateIp: '10.0.1.12', publicIp: '198.51.100.12', tags: { ...prod, Name: 'api-a' } },
      { instanceId: id(3), privateIp: '10.0.1.13', tags: { ...prod, Name: 'api-c' }, state: 'stopped' },
      { instanceId: id(4), privateIp: '10.0.1.14', publicIp: '198.51.100.14', tags: { ...prod } },
      { instanceId: id(5), privateIp: '10.0.1.15', publicIp: '198.51.100.15', tags: { ...prod, Name: 'api-d' }, ping: 'ConnectionLost' },
      { instanceId: id(6), privateIp: '10.0.2.16', tags: { Role: 'api', Env: 'staging', Name: 'stg' } },
      { instanceId: id(7), privateIp: '10.0.3.17', tags: { Role: 'db', Env: 'production', Name: 'db' }, managed: false, checks: { system: 'ok', instance: 'impaired' } },
    ],
  });
  settings = { region: TEST_REGION, endpoint: aws.endpoint };
});

afterAll(async () => {
  await aws?.close();
  net?.stop();
  restoreEnv?.();
  // everything went to the stand-in: no real AWS, no instance metadata service
  expect(net.notLoopback()).toEqual([]);
  expect(net.destinations.filter((d) => !d.startsWith('127.0.0.1:'))).toEqual([]);
  expect(net.destinations).toContain(aws.endpoint.replace('http://', ''));
});

describe('EC2 discovery', () => {
  it('finds the running instances with every tag, following NextToken page by page', async () => {
    aws.resetCalls();
    const hosts = await discoverHosts(settings, { tags: prod, address: 'private', port: 22, user: 'ec2-user' });
    expect(hosts).toEqual([
      { name: 'api-a', address: '10.0.1.12', port: 22, user: 'ec2-user', instanceId: id(2), tags: { ...prod, Name: 'api-a' }, transport: 'ssh', pathPrefix: [] },
      { name: 'api-b', address: '10.0.1.11', port: 22, user: 'ec2-user', instanceId: id(1), tags: { ...prod, Name: 'api-b' }, transport: 'ssh', pathPrefix: [] },
      { name: 'api-d', address: '10.0.1.15', port: 22, user: 'ec2-user', instanceId: id(5), tags: { ...prod, Name: 'api-d' }, transport: 'ssh', pathPrefix: [] },
      { name: id(4), address: '10.0.1.14', port: 22, user: 'ec2-user', instanceId: id(4), tags: prod, transport: 'ssh', pathPrefix: [] },
    ]);
    // 4 matches, 2 per page: two signed Query API requests, the second with the first's NextToken
    expect(aws.callCounts()).toEqual({ 'EC2.DescribeInstances': 2 });
    const [first, second] = aws.requests.map((r) => r.input as Record<string, string>);
    expect(first).toEqual({
      Action: 'DescribeInstances', Version: '2016-11-15', MaxResults: '1000',
      'Filter.1.Name': 'tag:Role', 'Filter.1.Value.1': 'api', 'Filter.2.Name': 'tag:Env', 'Filter.2.Value.1': 'production',
      'Filter.3.Name': 'instance-state-name', 'Filter.3.Value.1': 'running',
    });
    expect(second).toEqual({ ...first, NextToken: expect.any(String) });
    expect(aws.requests.map((r) => [r.region, r.accessKeyId])).toEqual([[TEST_REGION, TEST_ACCESS_KEY_ID], [TEST_REGION, TEST_ACCESS_KEY_ID]]);
  });

  it('uses the public IP when asked', async () => {
    const hosts = await discoverHosts(settings, { tags: { ...prod, Name: 'api-a' }, address: 'public', port: 2222 });
    expect(hosts).toEqual([{ name: 'api-a', address: '198.51.100.12', port: 2222, instanceId: id(2), tags: { ...prod, Name: 'api-a' }, transport: 'ssh', pathPrefix: [] }]);
  });

  it('refuses when nothing matches (exit 2)', async () => {
    const err = await discoverHosts(settings, { tags: { Role: 'api', Env: 'qa' }, address: 'private', port: 22 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CutoverError);
    expect((err as CutoverError).exitCode).toBe(ExitCode.refused);
    expect((err as Error).message).toBe('EC2 discovery found no running instance with tags Role=api, Env=qa in eu-west-1; check the tags in hosts.ec2.tags and the region');
  });

  it('resolveHosts discovers for an environment with hosts.ec2', async () => {
    const config = Environment.parse({
      hosts: { ec2: { tags: { Env: 'staging' } } }, aws: { region: TEST_REGION, endpoint: aws.endpoint }, ssh: { privateKey: { env: 'K' } },
      app: { path: '/srv/app', repo: 'x' }, services: [{ unit: 'api', restart: 'ssm' }], verify: { health: { url: 'http://{host}/h' } },
    });
    const hosts = await resolveHosts({ name: 'stg', file: 'environments/stg.ts', config, secrets: {}, backupDir: '/tmp/stg' });
    // no port in the environment: the ssh config file's Port, else 22, applies at connection time
    expect(hosts).toEqual([{ name: 'stg', address: '10.0.2.16', instanceId: id(6), tags: { Role: 'api', Env: 'staging', Name: 'stg' }, transport: 'ssh', pathPrefix: [] }]);
  });
});

describe('EC2 preflight', () => {
  it('passes running, healthy, SSM-managed instances with three calls', async () => {
    aws.resetCalls();
    expect(await ec2Preflight(settings, [{ hostName: 'a', instanceId: id(1) }, { hostName: 'b', instanceId: id(2) }])).toEqual([]);
    expect(aws.callCounts()).toEqual({ 'EC2.DescribeInstanceStatus': 1, 'EC2.DescribeInstances': 1, 'SSM.DescribeInstanceInformation': 1 });
    expect(aws.requests.find((r) => r.call === 'EC2.DescribeInstanceStatus')!.input).toEqual({
      Action: 'DescribeInstanceStatus', Version: '2016-11-15', IncludeAllInstances: 'true', 'InstanceId.1': id(1), 'InstanceId.2': id(2),
    });
    expect(aws.requests.find((r) => r.call === 'SSM.DescribeInstanceInformation')!.input).toEqual({ Filters: [{ Key: 'InstanceIds', Values: [id(1), id(2)] }], MaxResults: 50 });
  });

  it('a stopped instance, an offline agent, an unmanaged or impaired or missing instance: each named with its state', async () => {
    const targets = [3, 5, 7, 99].map((n) => ({ hostName: `h${n}`, instanceId: id(n) }));
    expect(await ec2Preflight(settings, targets)).toEqual([
      `h3 (${id(3)}): instance is stopped (Client.UserInitiatedShutdown: User initiated shutdown); start it (aws ec2 start-instances --instance-ids ${id(3)}) or take the host out of the environment`,
      expect.stringMatching(new RegExp(`^h5 \\(${id(5)}\\): SSM agent is ConnectionLost, last ping \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: SSM cannot reach the instance; check the agent \\(systemctl status amazon-ssm-agent\\) and its network$`)),
      `h7 (${id(7)}): status checks not ok: system ok, instance impaired (aws ec2 describe-instance-status --instance-ids ${id(7)})`,
      `h7 (${id(7)}): not managed by SSM (no SSM agent registered for it): start the SSM agent and give the instance profile the AmazonSSMManagedInstanceCore policy`,
      `h99 (${id(99)}): no such EC2 instance in eu-west-1 (terminated and gone, or in another region or account?)`,
    ]);
  });

  it('without SSM restarts it does not ask SSM', async () => {
    aws.resetCalls();
    expect(await ec2Preflight(settings, [{ hostName: 'h7', instanceId: id(7) }], { ssm: false })).toEqual([
      `h7 (${id(7)}): status checks not ok: system ok, instance impaired (aws ec2 describe-instance-status --instance-ids ${id(7)})`,
    ]);
    expect(aws.calls('SSM.')).toBe(0);
  });

  it('throttled calls are retried by the SDK and succeed', async () => {
    aws.resetCalls();
    aws.throttle('EC2.DescribeInstances', 2);
    aws.throttle('SSM.DescribeInstanceInformation', 1);
    expect(await ec2Preflight(settings, [{ hostName: 'a', instanceId: id(1) }])).toEqual([]);
    expect(aws.callCounts()).toEqual({ 'EC2.DescribeInstanceStatus': 1, 'EC2.DescribeInstances': 3, 'SSM.DescribeInstanceInformation': 2 });
  });
});

describe('credentials and endpoints', () => {
  it('no credentials anywhere: a clear refusal naming every source tried, and no AWS request sent', async () => {
    const undo = useTestAwsEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    aws.resetCalls();
    try {
      const err = await ec2Preflight(settings, [{ hostName: 'a', instanceId: id(1) }], { ssm: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsCredentialsError);
      expect((err as AwsCredentialsError).exitCode).toBe(ExitCode.refused);
      expect((err as AwsCredentialsError).tried).toEqual([
        'environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set',
        "profile 'default' (the default profile): /nonexistent/cutover-test/credentials does not exist; /nonexistent/cutover-test/config does not exist",
        'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE): not set',
        'container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI): not set',
        'EC2 instance role (instance metadata service): disabled by AWS_EC2_METADATA_DISABLED=true',
      ]);
      expect((err as Error).message).toMatch(/^no AWS credentials for EC2\.DescribeInstances \(eu-west-1 at http:\/\/127\.0\.0\.1:\d+\)\. Tried, in order:\n/);
      expect(aws.calls()).toBe(0);
    } finally {
      undo();
    }
  });

  it('a profile that does not exist is named', async () => {
    const err = await discoverHosts({ ...settings, profile: 'prod-deploy', source: 'environments/production.ts' }, { tags: prod, address: 'private', port: 22 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsCredentialsError);
    expect((err as AwsCredentialsError).tried.slice(0, 2)).toEqual([
      'environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: skipped because a profile is set (aws.profile in environments/production.ts)',
      "profile 'prod-deploy' (aws.profile in environments/production.ts): /nonexistent/cutover-test/credentials does not exist; /nonexistent/cutover-test/config does not exist",
    ]);
  });

  it('expired credentials: AWS says so, and the message says where they came from', async () => {
    const key = 'AKIDEXPIREDTEST00002';
    aws.expireKey(key);
    const undo = useTestAwsEnv({ AWS_ACCESS_KEY_ID: key });
    try {
      const err = await ec2Preflight(settings, [{ hostName: 'a', instanceId: id(1) }], { ssm: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsCredentialsError);
      expect((err as Error).message).toBe(
        `AWS rejected the credentials for EC2.DescribeInstances (eu-west-1 at ${aws.endpoint}): RequestExpired: Request has expired. ` +
          'They came from the environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; they are expired or not valid. Refresh them (aws sso login, new keys or session token, or check the machine clock) and run again.',
      );
    } finally {
      undo();
    }
  });

  it('an endpoint that does not answer is named', async () => {
    const dead = await startAwsServer();
    const endpoint = dead.endpoint;
    await dead.close();
    const err = await discoverHosts({ region: TEST_REGION, endpoint, maxAttempts: 1 }, { tags: prod, address: 'private', port: 22 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsApiError);
    expect((err as Error).message).toBe(`cannot reach AWS for EC2.DescribeInstances (eu-west-1 at ${endpoint}): ECONNREFUSED: connect ECONNREFUSED ${endpoint.replace('http://', '')}. Check the network, the region, and aws.endpoint.`);
  });
});
