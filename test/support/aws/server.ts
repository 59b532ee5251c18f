/**
 * A local stand-in for AWS on 127.0.0.1 speaking the real wire protocols of the calls cutover
 * makes, so the real SDK clients run end to end (signing, serialization, pagination, errors):
 *   SSM  JSON 1.1 (X-Amz-Target: AmazonSSM.<Action>): SendCommand, GetCommandInvocation,
 *        CancelCommand, DescribeInstanceInformation; errors as {"__type": ...}
 *   EC2  Query API (Action=...&Version=2016-11-15, form-encoded), XML answers:
 *        DescribeInstances, DescribeInstanceStatus; errors as <Response><Errors><Error>...
 * Signatures are not verified, but every request must carry a SigV4 Authorization header for the
 * right service. It counts calls per action and can be told to throttle or to expire keys.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeInstances, describeInstanceStatus, ec2ErrorDocument } from './ec2.ts';
import { ApiError, instance, type FakeInstance, type InstanceSpec, type InvocationKnobs } from './model.ts';
import { SsmEngine, type CommandRec, type SshAccess } from './ssm.ts';

export interface AwsServerOptions {
  instances?: InstanceSpec[];
  /** How commands reach the sandbox hosts (the fleet's client key and known_hosts). */
  ssh?: SshAccess;
  /** Largest page EC2 and SSM describe calls answer (small, to prove pagination). Default 2. */
  pageSize?: number;
  /** Knobs for every invocation (an instance's own knobs win). */
  knobs?: InvocationKnobs;
}

export interface RequestLog {
  /** `SSM.SendCommand`, `EC2.DescribeInstances` */
  readonly call: string;
  readonly region: string;
  readonly accessKeyId: string;
  /** The decoded request: JSON for SSM, the form parameters for EC2. */
  readonly input: unknown;
  /** When the request arrived (performance.now() of this process): tests bound poll counts by it. */
  readonly atMs: number;
}

export interface AwsServer {
  /** `http://127.0.0.1:PORT`: aws.endpoint for both clients. */
  readonly endpoint: string;
  readonly instances: FakeInstance[];
  readonly requests: RequestLog[];
  /** Calls per `Service.Action`, throttled and failed ones included. */
  calls(prefix?: string): number;
  callCounts(): Record<string, number>;
  resetCalls(): void;
  /** Answer the next `n` calls of `call` (`SSM.GetCommandInvocation`) with the protocol's throttling error. */
  throttle(call: string, n: number): void;
  /** Requests signed with this access key id get ExpiredTokenException (SSM) / RequestExpired (EC2). */
  expireKey(accessKeyId: string): void;
  knobs: InvocationKnobs;
  find(instanceId: string): FakeInstance;
  command(commandId: string): CommandRec;
  /** Resolves when every invocation of every command has ended (or at once). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$/;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => done(Buffer.concat(parts).toString('utf8')));
    req.on('error', fail);
  });
}

export async function startAwsServer(opts: AwsServerOptions = {}): Promise<AwsServer> {
  const instances = (opts.instances ?? []).map(instance);
  const pageSize = opts.pageSize ?? 2;
  const counts = new Map<string, number>();
  const throttles = new Map<string, number>();
  const expired = new Set<string>();
  const requests: RequestLog[] = [];
  const self = { knobs: { ...opts.knobs } as InvocationKnobs };
  const ssm = new SsmEngine(() => instances, () => self.knobs, opts.ssh);

  const ssmAction = (action: string, input: any): object => { // eslint-disable-line @typescript-eslint/no-explicit-any
    switch (action) {
      case 'SendCommand': return ssm.sendCommand(input);
      case 'GetCommandInvocation': return ssm.getCommandInvocation(input);
      case 'CancelCommand': return ssm.cancelCommand(input);
      case 'DescribeInstanceInformation': return ssm.describeInstanceInformation(input, pageSize);
      default: throw new ApiError('UnknownOperationException', `fake SSM does not implement ${action}`);
    }
  };
  const ec2Action = (action: string, p: URLSearchParams): string => {
    if (p.get('Version') !== '2016-11-15') throw new ApiError('InvalidParameterValue', `unsupported Version ${p.get('Version')}`);
    if (action === 'DescribeInstances') return describeInstances(instances, p, pageSize);
    if (action === 'DescribeInstanceStatus') return describeInstanceStatus(instances, p, pageSize);
    throw new ApiError('InvalidAction', `The action ${action} is not valid for this web service.`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const target = req.headers['x-amz-target'];
    const isSsm = typeof target === 'string';
    const send = (status: number, text: string) => {
      res.writeHead(status, isSsm ? { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() } : { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': randomUUID() });
      res.end(text);
    };
    const fail = (e: ApiError) => send(e.status, isSsm ? JSON.stringify({ __type: e.code, message: e.message }) : ec2ErrorDocument(e.code, e.message));
    let call = 'unknown';
    try {
      const form = isSsm ? null : new URLSearchParams(body);
      if (isSsm) {
        if (req.headers['content-type'] !== 'application/x-amz-json-1.1') throw new ApiError('SerializationException', 'expected application/x-amz-json-1.1');
        if (!target.startsWith('AmazonSSM.')) throw new ApiError('UnknownOperationException', `unknown target ${target}`);
        call = `SSM.${target.slice('AmazonSSM.'.length)}`;
      } else {
        if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) throw new ApiError('InvalidParameterValue', 'expected a form-encoded Query API request');
        call = `EC2.${form!.get('Action')}`;
      }
      counts.set(call, (counts.get(call) ?? 0) + 1);
      const auth = AUTH.exec(String(req.headers.authorization ?? ''));
      const service = isSsm ? 'ssm' : 'ec2';
      if (!auth || auth[3] !== service) throw new ApiError(isSsm ? 'MissingAuthenticationTokenException' : 'AuthFailure', `request is not signed with SigV4 for ${service}`, 403);
      const input = isSsm ? (JSON.parse(body || '{}') as unknown) : Object.fromEntries(form!);
      requests.push({ call, region: auth[2]!, accessKeyId: auth[1]!, input, atMs: performance.now() });
      if (expired.has(auth[1]!))
        throw isSsm ? new ApiError('ExpiredTokenException', 'The security token included in the request is expired') : new ApiError('RequestExpired', 'Request has expired.');
      const left = throttles.get(call) ?? 0;
      if (left > 0) {
        throttles.set(call, left - 1);
        throw isSsm ? new ApiError('ThrottlingException', 'Rate exceeded') : new ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      if (isSsm) send(200, JSON.stringify(ssmAction(call.slice(4), input)));
      else send(200, ec2Action(call.slice(4), form!));
    } catch (err) {
      fail(err instanceof ApiError ? err : new ApiError('InternalFailure', (err as Error).message, 500));
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    instances,
    requests,
    calls: (prefix = '') => [...counts].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0),
    callCounts: () => Object.fromEntries([...counts].sort()),
    resetCalls: () => {
      counts.clear();
      requests.length = 0;
    },
    throttle: (call, n) => void throttles.set(call, n),
    expireKey: (key) => void expired.add(key),
    get knobs() {
      return self.knobs;
    },
    set knobs(k: InvocationKnobs) {
      self.knobs = k;
    },
    find(id) {
      const i = instances.find((x) => x.instanceId === id);
      if (!i) throw new Error(`fake AWS: no instance ${id}`);
      return i;
    },
    command(id) {
      const c = ssm.commands.get(id);
      if (!c) throw new Error(`fake AWS: no command ${id}`);
      return c;
    },
    settled: () => Promise.all([...ssm.commands.values()].map((c) => c.done)).then(() => {}),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await ssm.close();
    },
  };
}
