import { describe, expect, it } from 'vitest';
import { fieldAt, readVersion } from '../../tasks/lib/probes/health.ts';
import { chatRequest, chatTimeoutMs } from '../../tasks/lib/probes/chat.ts';
import { describeFetchError, probeUrl } from '../../tasks/lib/probes/http.ts';
import { percentile } from '../../tasks/lib/probes/latency.ts';
import { excerpt, formatMs, mask, maskUrl } from '../../tasks/lib/probes/text.ts';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  it('over 1..100', () => {
    expect([percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99), percentile(hundred, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile(hundred, 0)).toBe(1);
  });
  it('small samples take a real value, never an interpolation or a mean', () => {
    expect([percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95), percentile([10, 20, 30, 40], 99)]).toEqual([20, 40, 40]);
    expect([percentile([3, 1000], 50), percentile([3, 1000], 51)]).toEqual([3, 1000]);
    expect(percentile([7], 99)).toBe(7);
    const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    expect([percentile(twenty, 50), percentile(twenty, 95), percentile(twenty, 99)]).toEqual([100, 190, 200]);
  });
  it('no values is an error', () => {
    expect(() => percentile([], 50)).toThrow('percentile of no values');
  });
});

describe('version extraction', () => {
  it('dot paths', () => {
    const json = { version: 'v1.1.0', build: { tag: 'v2', n: 3 }, items: [{ tag: 'x' }] };
    expect(fieldAt(json, 'version')).toBe('v1.1.0');
    expect(fieldAt(json, 'build.tag')).toBe('v2');
    expect(fieldAt(json, 'items.0.tag')).toBe('x');
    expect(fieldAt(json, 'build.missing')).toBeUndefined();
    expect(fieldAt(json, 'version.length')).toBeUndefined();
    expect(fieldAt(json, 'constructor')).toBeUndefined();
  });
  it('readVersion says what is wrong', () => {
    expect(readVersion('{"status":"healthy","version":"v1.1.0"}', 'version')).toEqual({ ok: true, version: 'v1.1.0' });
    expect(readVersion('{"app":{"version":12}}', 'app.version')).toEqual({ ok: true, version: '12' });
    expect(readVersion('OK', 'version')).toEqual({ ok: false, problem: `the body is not JSON, so it has no field 'version'` });
    expect(readVersion('{"status":"ok"}', 'version')).toEqual({ ok: false, problem: `the body has no field 'version'` });
    expect(readVersion('{"version":{"tag":"v1"}}', 'version')).toEqual({ ok: false, problem: `field 'version' is {"tag":"v1"}, not a version string` });
  });
});

describe('request shaping and reporting text', () => {
  it('probeUrl replaces {host}, brackets IPv6', () => {
    expect(probeUrl('http://{host}:8001/api/v1/health', '10.0.1.12')).toBe('http://10.0.1.12:8001/api/v1/health');
    expect(probeUrl('http://{host}:8001/h', '::1')).toBe('http://[::1]:8001/h');
    expect(probeUrl('https://status.example.com/h', '10.0.0.1')).toBe('https://status.example.com/h');
  });
  it('chatRequest: JSON body with content type, raw string body as is, GET without body', () => {
    const cfg = { url: 'http://{host}:1/c', method: 'POST' as const, body: { user_id: 1, message: 'Mes dépenses' }, headers: { Authorization: 'Bearer t0ken-abc' }, expectStatus: 200, expectContains: [], latencyBudget: 1000 };
    expect(chatRequest(cfg, '127.0.0.1')).toEqual({
      method: 'POST',
      url: 'http://127.0.0.1:1/c',
      headers: { Authorization: 'Bearer t0ken-abc', 'content-type': 'application/json' },
      body: '{"user_id":1,"message":"Mes dépenses"}',
    });
    expect(chatRequest({ ...cfg, body: 'q=1', headers: { 'Content-Type': 'text/plain' } }, 'h').body).toBe('q=1');
    expect(chatRequest({ ...cfg, body: { a: 1 }, headers: { 'Content-Type': 'application/vnd.x+json' } }, 'h').headers).toEqual({ 'Content-Type': 'application/vnd.x+json' });
    expect(chatRequest({ ...cfg, method: 'GET' }, 'h')).toEqual({ method: 'GET', url: 'http://h:1/c', headers: { Authorization: 'Bearer t0ken-abc' } });
    expect(chatTimeoutMs(4000)).toBe(9000);
  });
  it('mask, excerpt, maskUrl, formatMs', () => {
    expect(mask('{"user":"a","password":"p4ss","api_key":"k\\"y","accessToken":"z"}')).toBe('{"user":"a","password":"***","api_key":"***","accessToken":"***"}');
    expect(mask('key s3cret in text', ['s3cret'])).toBe('key *** in text');
    expect(excerpt('a\n  b\n', [], 10)).toBe('a b');
    expect(excerpt('abcdefghijkl', [], 5)).toBe('abcde…');
    expect(maskUrl('http://u:pw@h:1/x?t=tok123', ['tok123'])).toBe('http://u:***@h:1/x?t=***');
    expect([formatMs(150), formatMs(999.6), formatMs(15000), formatMs(1234)]).toEqual(['150 ms', '1000 ms', '15.0 s', '1.2 s']);
  });
  it('describeFetchError digs out the cause', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
    expect(describeFetchError(refused)).toBe('connection refused (ECONNREFUSED)');
    const other = new TypeError('fetch failed', { cause: Object.assign(new Error('weird thing'), { code: 'EWEIRD' }) });
    expect(describeFetchError(other)).toBe('weird thing (EWEIRD)');
    expect(describeFetchError(new TypeError('fetch failed'))).toBe('request failed');
  });
});
