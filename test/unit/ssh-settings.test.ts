import { describe, expect, it } from 'vitest';
import { Host } from '../../tasks/lib/config/schema.ts';
import { expandTokens, hostConfig, hostMatches, parseSshConfig } from '../../tasks/lib/runners/ssh-config.ts';
import { sshSettings } from '../../tasks/lib/runners/ssh-settings.ts';

const FILE = ['User top-user', 'Host db-?', '  HostName %h.internal', '  Port 2201', 'Host web-* !web-admin', '  HostName 10.0.1.5', '  User web-user',
  '  IdentityFile ~/.ssh/web', 'Host bastion', '  HostName 203.0.113.4', '  User ops', 'Host *', '  Port 2222', '  IdentityFile ~/.ssh/all',
  '  ProxyJump bastion', 'Match host web-*', '  Port 1', ''].join('\n');
const config = parseSshConfig(FILE);
const input = (over: object = {}) => ({ ssh: { agent: false }, file: { label: '~/.ssh/config', config }, home: '/home/me', localUser: 'me', ...over });

describe('OpenSSH config matching', () => {
  it('patterns: * any run, ? exactly one character, ! excludes the block, case-insensitive name', () => {
    expect(hostMatches(['web-*'], 'web-1')).toBe(true);
    expect(hostMatches(['db-?'], 'db-')).toBe(false);
    expect(hostMatches(['db-?'], 'db-1')).toBe(true);
    expect(hostMatches(['web-*', '!web-admin'], 'web-admin')).toBe(false);
    expect(hostConfig(config, 'WEB-1').get('hostname')?.value).toBe('10.0.1.5');
  });
  it('the first value wins, lines before the first Host apply to all, Match is not read, IdentityFile accumulates', () => {
    const web = hostConfig(config, 'web-1');
    expect(web.get('user')).toEqual({ value: 'top-user', all: ['top-user'], block: '(top of the file)' });
    expect(web.get('port')?.value).toBe('2222');
    expect(web.get('identityfile')?.all).toEqual(['~/.ssh/web', '~/.ssh/all']);
    expect(hostConfig(config, 'web-admin').get('hostname')).toBeUndefined();
  });
  it('tokens', () => {
    expect(expandTokens('~/.ssh/%r@%h:%p-%u-%%', { host: 'h', original: 'o', port: 22, user: 'r', localUser: 'me', home: '/home/me' })).toBe('/home/me/.ssh/r@h:22-me-%');
  });
});

describe('SSH settings: the environment first, then the file, then defaults, each with its source', () => {
  it('file values where the environment says nothing; the hop looked up in the file too', () => {
    const s = sshSettings(Host.parse({ name: 'db-1', address: 'db-1' }), input());
    expect(s.address).toEqual({ value: 'db-1.internal', from: '~/.ssh/config (Host db-?)' });
    expect(s.port).toEqual({ value: 2201, from: '~/.ssh/config (Host db-?)' });
    expect(s.user).toEqual({ value: 'top-user', from: '~/.ssh/config ((top of the file))' });
    expect(s.keys).toEqual({ value: ['/home/me/.ssh/all'], from: '~/.ssh/config (Host *)' });
    expect(s.knownHosts).toEqual({ value: ['/home/me/.ssh/known_hosts'], from: 'default' });
    expect(s.jump.from).toBe('~/.ssh/config (Host *)');
    expect(s.jump.value.map((h) => [h.spec, h.address.value, h.port.value, h.user.value])).toEqual([['bastion', '203.0.113.4', 2222, 'top-user']]);
  });
  it('the environment wins: host values, then ssh.*; jump none; no file: defaults', () => {
    const s = sshSettings(Host.parse({ name: 'w', address: 'web-1', port: 22, user: 'u', jump: 'none' }), input({ ssh: { agent: false, user: 'su', knownHosts: '~/kh', jump: ['x@y:1'] }, privateKeyPath: '/k' }));
    expect([s.port.from, s.user.from, s.keys.from, s.knownHosts.value[0], s.jump.value]).toEqual(['environment (hosts[].port)', 'environment (hosts[].user)', 'environment (ssh.privateKey)', '/home/me/kh', []]);
    const plain = sshSettings(Host.parse({ name: 'w', address: '10.0.0.9' }), { ssh: { agent: true, jump: ['ops@b:2200'] }, home: '/h', localUser: 'me', agentSocket: '/tmp/a.sock' });
    expect(plain).toMatchObject({ address: { value: '10.0.0.9' }, port: { value: 22, from: 'default' }, user: { value: 'ec2-user', from: 'default' }, keys: { value: [] }, agent: { value: '/tmp/a.sock' } });
    expect(plain.jump.value.map((h) => [h.address.value, h.port.value, h.user.value])).toEqual([['b', 2200, 'ops']]);
  });
});
