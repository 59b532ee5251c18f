// The EC2 Query API calls cutover makes, answered in EC2's XML (namespace 2016-11-15).
import { randomUUID } from 'node:crypto';
import { ApiError, STATE_CODES, type FakeInstance } from './model.ts';

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
type Node = string | number | boolean | Node[] | { [tag: string]: Node | undefined } | undefined;

/** {a: 1, b: [{c: 2}]} -> <a>1</a><b><item><c>2</c></item></b>: EC2 wraps list members in <item>. */
export function toXml(node: Node): string {
  if (node === undefined) return '';
  if (Array.isArray(node)) return node.map((n) => `<item>${toXml(n)}</item>`).join('');
  if (typeof node === 'object') return Object.entries(node).map(([k, v]) => (v === undefined ? '' : `<${k}>${toXml(v)}</${k}>`)).join('');
  return esc(String(node));
}

export function ec2Document(action: string, body: Record<string, Node>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NS}">${toXml({ requestId: randomUUID(), ...body })}</${action}Response>`;
}

export function ec2ErrorDocument(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${toXml({ Errors: { Error: { Code: code, Message: message } } })}<RequestID>${randomUUID()}</RequestID></Response>`;
}

/** Filter.1.Name=tag:Role&Filter.1.Value.1=api -> [{name, values}]; InstanceId.N -> ids. */
export function listParam(p: URLSearchParams, prefix: string): string[] {
  const out: [number, string][] = [];
  for (const [k, v] of p) {
    const m = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)$`).exec(k);
    if (m) out.push([Number(m[1]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

export function filtersOf(p: URLSearchParams): { name: string; values: string[] }[] {
  const out: { name: string; values: string[] }[] = [];
  for (let n = 1; p.has(`Filter.${n}.Name`); n++) out.push({ name: p.get(`Filter.${n}.Name`)!, values: listParam(p, `Filter.${n}.Value`) });
  return out;
}

function matches(i: FakeInstance, f: { name: string; values: string[] }): boolean {
  if (f.name === 'instance-id') return f.values.includes(i.instanceId);
  if (f.name === 'instance-state-name') return f.values.includes(i.state);
  if (f.name === 'tag-key') return f.values.some((k) => k in i.tags);
  if (f.name.startsWith('tag:')) {
    const v = i.tags[f.name.slice(4)];
    return v !== undefined && f.values.includes(v);
  }
  throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
}

interface Page<T> {
  items: T[];
  next?: string;
}

function paginate<T>(all: T[], p: URLSearchParams, pageSize: number): Page<T> {
  const max = p.get('MaxResults');
  if (max === null) return { items: all }; // without MaxResults EC2 answers everything at once
  const n = Number(max);
  if (!(n >= 5 && n <= 1000)) throw new ApiError('InvalidParameterValue', `Value (${max}) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  const start = p.get('NextToken') ? Number(Buffer.from(p.get('NextToken')!, 'base64url').toString()) : 0;
  const size = Math.min(n, pageSize);
  const end = start + size;
  return { items: all.slice(start, end), next: end < all.length ? Buffer.from(String(end)).toString('base64url') : undefined };
}

const state = (i: FakeInstance) => ({ code: STATE_CODES[i.state], name: i.state });

function instanceXml(i: FakeInstance): Record<string, Node> {
  const stopped = i.state === 'stopped' || i.state === 'stopping';
  return {
    instanceId: i.instanceId, imageId: 'ami-0123456789abcdef0', instanceState: state(i), privateDnsName: `ip-${i.privateIp.replaceAll('.', '-')}.ec2.internal`,
    dnsName: '', instanceType: 't3.micro', launchTime: '2026-01-01T00:00:00.000Z', placement: { availabilityZone: 'us-east-1a', tenancy: 'default' },
    privateIpAddress: i.privateIp, ipAddress: i.state === 'running' ? i.publicIp : undefined,
    stateReason: stopped ? { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' } : undefined,
    tagSet: Object.entries(i.tags).map(([key, value]) => ({ key, value })),
  };
}

export function describeInstances(all: FakeInstance[], p: URLSearchParams, pageSize: number): string {
  const ids = listParam(p, 'InstanceId');
  if (ids.length && p.has('MaxResults')) throw new ApiError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  const missing = ids.filter((id) => !all.some((i) => i.instanceId === id));
  if (missing.length) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' do${missing.length > 1 ? '' : 'es'} not exist`);
  const filters = filtersOf(p);
  const found = all.filter((i) => (!ids.length || ids.includes(i.instanceId)) && filters.every((f) => matches(i, f)));
  const page = paginate(found, p, pageSize);
  return ec2Document('DescribeInstances', {
    reservationSet: page.items.map((i) => ({ reservationId: `r-${i.instanceId.slice(2)}`, ownerId: '000000000000', groupSet: [], instancesSet: [instanceXml(i)] })),
    nextToken: page.next,
  });
}

export function describeInstanceStatus(all: FakeInstance[], p: URLSearchParams, pageSize: number): string {
  const ids = listParam(p, 'InstanceId');
  if (ids.length && p.has('MaxResults')) throw new ApiError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  const missing = ids.filter((id) => !all.some((i) => i.instanceId === id));
  if (missing.length) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' do${missing.length > 1 ? '' : 'es'} not exist`);
  const everyState = p.get('IncludeAllInstances') === 'true';
  const found = all.filter((i) => (!ids.length || ids.includes(i.instanceId)) && (everyState || i.state === 'running'));
  const page = paginate(found, p, pageSize);
  const check = (s: string) => ({ status: s, details: [{ name: 'reachability', status: s === 'ok' ? 'passed' : s === 'impaired' ? 'failed' : s }] });
  return ec2Document('DescribeInstanceStatus', {
    instanceStatusSet: page.items.map((i) => ({
      instanceId: i.instanceId, availabilityZone: 'us-east-1a', instanceState: state(i),
      systemStatus: i.state === 'running' ? check(i.checks.system) : { status: 'not-applicable' },
      instanceStatus: i.state === 'running' ? check(i.checks.instance) : { status: 'not-applicable' },
      eventsSet: [],
    })),
    nextToken: page.next,
  });
}
