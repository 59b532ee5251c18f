import { describe, expect, it } from 'vitest';
import { journal, parseHostNow } from '../../tasks/lib/commands/journal.ts';
import { decodeMessage, formatEntry, hostNow, hostNowAndPids, JournalScanner, MAX_REPORTED_ENTRIES, runJournalScan, scanJournal } from '../../tasks/lib/probes/journal.ts';
import { RecordingRunner } from '../../tasks/lib/runners/recorder.ts';

const line = (o: Record<string, unknown>) => JSON.stringify({ _SYSTEMD_UNIT: 'demo-chat.service', __REALTIME_TIMESTAMP: '1712345678123456', PRIORITY: '6', ...o });

describe('journal builders (exact strings)', () => {
  it('hostNow reads the host clock, read-only', () => {
    expect(journal.hostNow()).toEqual({ script: 'date +%s.%N', readOnly: true });
    expect(journal.hostNow(['demo-chat', 'worker@1'])).toEqual({ script: 'date +%s.%N && systemctl show -p MainPID --value -- demo-chat worker@1', readOnly: true });
  });

  it('since: -u per unit, @epoch, json, no -p, bounded', () => {
    expect(journal.since(['a', 'b'], '1712345678.123456789', { lines: 500 })).toEqual({
      script: 'journalctl -u a -u b --since @1712345678.123456789 -o json --no-pager -q -a -n 500',
      readOnly: true,
    });
    expect(journal.since(['conversation-service'], 1712345678.5, { lines: 10, sudo: true }).script).toBe(
      'sudo -n journalctl -u conversation-service --since @1712345678.500000 -o json --no-pager -q -a -n 10',
    );
    expect(journal.since(['we ird;unit'], '1', { lines: 1 }).script).toBe(`journalctl -u 'we ird;unit' --since @1 -o json --no-pager -q -a -n 1`);
  });

  it('since with the units\' states first, in the same command (the end of a deploy\'s verification)', () => {
    expect(journal.since(['a', 'b'], '1', { lines: 10, sudo: true, states: ['a', 'b c'] })).toEqual({
      script: `printf '\\036states %s\\n' "$(echo $(systemctl is-active -- a 'b c'))"\nsudo -n journalctl -u a -u b --since @1 -o json --no-pager -q -a -n 10`,
      readOnly: true,
    });
  });

  it('since refuses what would widen or break the scan', () => {
    expect(() => journal.since([], '1', { lines: 10 })).toThrow('needs at least one unit');
    expect(() => journal.since(['a'], '$(id)', { lines: 10 })).toThrow('not epoch seconds: "$(id)"');
    expect(() => journal.since(['a'], '1', { lines: 0 })).toThrow('lines must be a positive integer, got 0');
  });

  it('parseHostNow', () => {
    expect(parseHostNow('1712345678.123456789\n')).toBe('1712345678.123456789');
    expect(() => parseHostNow('1712345678.%N\n')).toThrow(`the host's clock answered "1712345678.%N", not epoch seconds`);
  });
});

describe('scanJournal', () => {
  const criteria = { priority: 'err' as const, failPatterns: ['Traceback', 'FATAL\\b'] };

  it('reports entries at err or worse and pattern matches at any priority, nothing else', () => {
    const out = [
      line({ PRIORITY: '6', MESSAGE: 'GET /api/v1/health 200 1ms' }),
      line({ PRIORITY: '4', MESSAGE: 'GET /nope 404 0ms' }),
      line({ PRIORITY: '3', MESSAGE: 'ERROR conversation_service: boom', __REALTIME_TIMESTAMP: '1712345679000000' }),
      line({ PRIORITY: '2', MESSAGE: 'crit thing', _SYSTEMD_UNIT: 'search-service.service' }),
      line({ PRIORITY: '6', MESSAGE: 'Traceback (most recent call last):' }),
      line({ PRIORITY: '7', MESSAGE: 'FATALITY is not FATAL' }),
      line({ PRIORITY: '7', MESSAGE: 'FATALITY alone' }),
    ].join('\n');
    const r = scanJournal(`${out}\n`, criteria);
    expect(r.scanned).toBe(7);
    expect(r.unparsable).toBe(0);
    expect(r.offending).toBe(4);
    expect(r.entries).toEqual([
      { unit: 'demo-chat.service', time: '2024-04-05T19:34:39.000Z', timestampUs: 1712345679000000, priority: 'err', message: 'ERROR conversation_service: boom', reason: 'priority' },
      { unit: 'search-service.service', time: '2024-04-05T19:34:38.123Z', timestampUs: 1712345678123456, priority: 'crit', message: 'crit thing', reason: 'priority' },
      { unit: 'demo-chat.service', time: '2024-04-05T19:34:38.123Z', timestampUs: 1712345678123456, priority: 'info', message: 'Traceback (most recent call last):', reason: { pattern: 'Traceback' } },
      { unit: 'demo-chat.service', time: '2024-04-05T19:34:38.123Z', timestampUs: 1712345678123456, priority: 'debug', message: 'FATALITY is not FATAL', reason: { pattern: 'FATAL\\b' } },
    ]);
    expect(formatEntry(r.entries[2]!)).toBe('2024-04-05T19:34:38.123Z demo-chat.service info [matches /Traceback/]: Traceback (most recent call last):');
  });

  it('the threshold is inclusive and moves with the configured priority', () => {
    const out = ['4', '5', '6'].map((p) => line({ PRIORITY: p, MESSAGE: `p${p}` })).join('\n');
    expect(scanJournal(out, { priority: 'warning', failPatterns: [] }).entries.map((e) => e.message)).toEqual(['p4']);
    expect(scanJournal(out, { priority: 'notice', failPatterns: [] }).entries.map((e) => e.priority)).toEqual(['warning', 'notice']);
    expect(scanJournal(out, { priority: 'emerg', failPatterns: [] }).offending).toBe(0);
  });

  it('decodes byte-array messages (non-UTF-8) and null messages', () => {
    const bytes = [...Buffer.from('Traceback: caf'), 0xe9, 0xff];
    const r = scanJournal([line({ MESSAGE: bytes }), line({ PRIORITY: '3', MESSAGE: null })].join('\n'), criteria);
    expect(r.entries.map((e) => e.message)).toEqual(['Traceback: caf\uFFFD\uFFFD', '(message not shown by journalctl: too large, or binary)']);
    expect(decodeMessage([104, 105])).toBe('hi');
    expect(decodeMessage(Array.from(Buffer.from('é ok', 'utf8')))).toBe('é ok');
    expect(decodeMessage(undefined)).toBe('');
  });

  it('counts lines that are not JSON objects, and -- No entries --', () => {
    const r = scanJournal(['-- No entries --', '[1,2]', 'null', line({ PRIORITY: '3', MESSAGE: 'x' })].join('\n'), criteria);
    expect([r.scanned, r.unparsable, r.offending]).toEqual([1, 3, 1]);
  });

  it('excerpts long messages and masks secrets in them', () => {
    const r = scanJournal(line({ PRIORITY: '3', MESSAGE: `db login failed for password hunter2xyz ${'x'.repeat(400)}` }), { ...criteria, secrets: ['hunter2xyz'] });
    const m = r.entries[0]!.message;
    expect(m.startsWith('db login failed for password *** xxx')).toBe(true);
    expect(m.length).toBe(301);
    expect(m.endsWith('…')).toBe(true);
  });

  it('keeps at most MAX_REPORTED_ENTRIES and counts the rest', () => {
    const out = Array.from({ length: MAX_REPORTED_ENTRIES + 7 }, (_, i) => line({ PRIORITY: '3', MESSAGE: `e${i}` })).join('\n');
    const r = scanJournal(out, criteria);
    expect([r.entries.length, r.offending, r.scanned]).toEqual([MAX_REPORTED_ENTRIES, MAX_REPORTED_ENTRIES + 7, MAX_REPORTED_ENTRIES + 7]);
  });

  it('streams: lines split across chunks anywhere parse the same', () => {
    const out = [line({ PRIORITY: '3', MESSAGE: 'first é' }), line({ MESSAGE: 'ok' }), line({ MESSAGE: 'Traceback here' })].join('\n') + '\n';
    const whole = scanJournal(out, criteria);
    for (const cut of [1, 7, 50, out.length - 1]) {
      const s = new JournalScanner(criteria);
      s.push(out.slice(0, cut));
      s.push(out.slice(cut));
      expect(s.end()).toEqual(whole);
    }
    expect(whole.offending).toBe(2);
  });
});

describe('runJournalScan through a recorder', () => {
  const host = { name: 'web-1', address: '10.0.1.12', port: 22, user: 'ec2-user' };
  const cfg = { priority: 'err' as const, failPatterns: ['Traceback'] };
  const SCRIPT = 'sudo -n journalctl -u conversation-service -u search-service --since @1712345678.5 -o json --no-pager -q -a -n 10000';

  it('journalctl failing is a failed scan that says what ran, how it ended and its stderr', async () => {
    const rec = new RecordingRunner(host, { reply: () => ({ code: 1, stderr: 'Failed to open journal: Permission denied\n' }) });
    const r = await runJournalScan(rec, ['conversation-service', 'search-service'], '1712345678.5', cfg, { sudo: true });
    expect(rec.commands.map((c) => c.script)).toEqual([SCRIPT]);
    expect(r).toEqual({
      name: 'journal',
      ok: false,
      detail: `journal scan of conversation-service, search-service on web-1 failed: \`${SCRIPT}\` exited 1 after 0 ms: Failed to open journal: Permission denied`,
      requested: { method: 'exec', url: `web-1: ${SCRIPT}` },
      got: { status: 1, body: 'Failed to open journal: Permission denied' },
      waitedMs: 0,
      attempts: 1,
      entries: [],
      offending: 0,
      scanned: 0,
      unparsable: 0,
    });
  });

  it('output that comes back without streaming is scanned too', async () => {
    const stdout = [line({ PRIORITY: '3', MESSAGE: 'boom' }), line({ MESSAGE: 'fine' })].join('\n') + '\n';
    const rec = new RecordingRunner(host, { reply: () => ({ stdout }) });
    const r = await runJournalScan(rec, ['demo-chat'], '1712345678.5', cfg, { lines: 50 });
    expect([r.ok, r.scanned, r.offending]).toEqual([false, 2, 1]);
    expect(r.detail).toBe(
      '1 of 2 entries of demo-chat since @1712345678.5 (2024-04-05T19:34:38.500Z, host clock) are priority err or worse, or matching /Traceback/:\n' +
        '  2024-04-05T19:34:38.123Z demo-chat.service err: boom',
    );
  });

  it('with the units\' states: the first line says them, the rest is the journal', async () => {
    const stdout = `\x1estates active failed\n${line({ PRIORITY: '3', MESSAGE: 'boom' })}\n${line({ MESSAGE: 'fine' })}\n`;
    const rec = new RecordingRunner(host, { reply: () => ({ stdout }) });
    const r = await runJournalScan(rec, ['demo-chat'], '1712345678.5', cfg, { lines: 50, states: ['demo-chat', 'demo-search'] });
    expect(r.unitStates).toEqual(['active', 'failed']);
    expect([r.ok, r.scanned, r.offending, r.unparsable]).toEqual([false, 2, 1, 0]);
    expect(rec.commands[0]!.script).toMatch(/^printf '\\036states %s\\n' "\$\(echo \$\(systemctl is-active -- demo-chat demo-search\)\)"\njournalctl /);
  });

  it('hostNow asks the host', async () => {
    const rec = new RecordingRunner(host, { reply: () => ({ stdout: '1712345678.123456789\n' }) });
    expect(await hostNow(rec)).toBe('1712345678.123456789');
    expect(rec.commands).toEqual([{ script: 'date +%s.%N', readOnly: true }]);
  });

  it('the processes that ran before the restart are left out: their last errors, while draining, are not the new release\'s', async () => {
    const line = (pid: number, msg: string) => JSON.stringify({ PRIORITY: '3', MESSAGE: msg, _PID: String(pid), __REALTIME_TIMESTAMP: '1712345678000000', _SYSTEMD_UNIT: 'demo-chat.service' });
    const out = [line(41, 'old process: 500 while draining'), line(42, 'new process: boom')].join('\n');
    expect(scanJournal(out, { priority: 'err', failPatterns: [], excludePids: ['41'] }).entries.map((e) => e.message)).toEqual(['new process: boom']);
    expect(scanJournal(out, { priority: 'err', failPatterns: [] }).offending).toBe(2);
    const rec = new RecordingRunner(host, { reply: () => ({ stdout: '1712345678.5\n41\n0\n' }) });
    expect(await hostNowAndPids(rec, ['demo-chat', 'worker'])).toEqual({ now: '1712345678.5', pids: ['41'] });
  });
});
