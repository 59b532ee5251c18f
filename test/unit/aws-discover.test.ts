import type { Instance } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { hostNameOf, hostsFromInstances, tagsText } from '../../tasks/lib/aws/discover.ts';

const inst = (id: string, name: string | undefined, priv?: string, pub?: string): Instance => ({
  InstanceId: id,
  PrivateIpAddress: priv,
  PublicIpAddress: pub,
  Tags: [{ Key: 'Role', Value: 'api' }, ...(name === undefined ? [] : [{ Key: 'Name', Value: name }])],
});
const spec = { tags: { Role: 'api' }, address: 'private' as const, port: 22 };

describe('discovered hosts', () => {
  it('are named from the Name tag (made safe), else the instance id', () => {
    expect(hostNameOf(inst('i-0aaaaaaaaaaaaaaa1', 'api-1'))).toBe('api-1');
    expect(hostNameOf(inst('i-0aaaaaaaaaaaaaaa1', 'Prod API #2 (eu)'))).toBe('Prod-API-2-eu');
    expect(hostNameOf(inst('i-0aaaaaaaaaaaaaaa1', '--'))).toBe('i-0aaaaaaaaaaaaaaa1');
    expect(hostNameOf(inst('i-0aaaaaaaaaaaaaaa1', undefined))).toBe('i-0aaaaaaaaaaaaaaa1');
  });

  it('map to Host objects with the instance id, sorted by name; a shared Name gets the instance id added', () => {
    const { hosts, problems } = hostsFromInstances(
      [inst('i-0bbbbbbbbbbbbbbb2', 'web', '10.0.0.2'), inst('i-0aaaaaaaaaaaaaaa1', 'web', '10.0.0.1'), inst('i-0ccccccccccccccc3', 'api', '10.0.0.3'), inst('i-0ddddddddddddddd4', undefined, '10.0.0.4')],
      { ...spec, user: 'ubuntu', port: 2222 },
    );
    expect(problems).toEqual([]);
    expect(hosts).toEqual([
      { name: 'api', address: '10.0.0.3', port: 2222, user: 'ubuntu', instanceId: 'i-0ccccccccccccccc3', tags: { Role: 'api', Name: 'api' }, transport: 'ssh', pathPrefix: [] },
      { name: 'i-0ddddddddddddddd4', address: '10.0.0.4', port: 2222, user: 'ubuntu', instanceId: 'i-0ddddddddddddddd4', tags: { Role: 'api' }, transport: 'ssh', pathPrefix: [] },
      { name: 'web-i-0aaaaaaaaaaaaaaa1', address: '10.0.0.1', port: 2222, user: 'ubuntu', instanceId: 'i-0aaaaaaaaaaaaaaa1', tags: { Role: 'api', Name: 'web' }, transport: 'ssh', pathPrefix: [] },
      { name: 'web-i-0bbbbbbbbbbbbbbb2', address: '10.0.0.2', port: 2222, user: 'ubuntu', instanceId: 'i-0bbbbbbbbbbbbbbb2', tags: { Role: 'api', Name: 'web' }, transport: 'ssh', pathPrefix: [] },
    ]);
  });

  it('use the public IP when asked, and an instance without it is a problem, not skipped', () => {
    const { hosts, problems } = hostsFromInstances([inst('i-0aaaaaaaaaaaaaaa1', 'a', '10.0.0.1', '198.51.100.7'), inst('i-0bbbbbbbbbbbbbbb2', 'b', '10.0.0.2')], { ...spec, address: 'public' });
    expect(hosts.map((h) => [h.name, h.address])).toEqual([['a', '198.51.100.7']]);
    expect(problems).toEqual(["b (i-0bbbbbbbbbbbbbbb2): has no public IP address (hosts.ec2.address is 'public')"]);
  });

  it('tags read as Key=Value', () => {
    expect(tagsText({ Role: 'api', Env: 'production' })).toBe('Role=api, Env=production');
  });
});
