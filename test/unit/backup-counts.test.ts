import { describe, expect, it } from 'vitest';
import { compareRowCounts, dataState, RowCountSink } from '../../tasks/lib/backup/counts.ts';

/** Writes `text` into a sink in chunks of `size` bytes (a multi-byte character may be split), then ends it. */
async function feed(sink: RowCountSink, text: string, size: number): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) sink.write(bytes.subarray(i, i + size));
  await new Promise<void>((resolve) => sink.end(resolve));
}

describe('RowCountSink (counts parsed as they stream)', () => {
  it('every line, across chunk boundaries and split UTF-8 characters, however many', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `schéma ${i}.tåble\t${i}`);
    const sink = new RowCountSink();
    await feed(sink, `${lines.join('\n')}\n`, 7);
    expect(Object.keys(sink.counts)).toHaveLength(5000);
    expect([sink.counts['schéma 0.tåble'], sink.counts['schéma 4999.tåble'], sink.lines, sink.problem]).toEqual([0, 4999, 5000, null]);
  });

  it('the last line without a newline counts; an odd line is a problem, never a throw', async () => {
    const ok = new RowCountSink();
    await feed(ok, 'public.a\t1\npublic.b\t2', 3);
    expect(ok.counts).toEqual({ 'public.a': 1, 'public.b': 2 });
    const bad = new RowCountSink();
    await feed(bad, 'public.a\t1\nERROR: oops\npublic.b\t2\n', 100);
    expect([bad.problem, bad.counts]).toEqual(['unexpected row count line: "ERROR: oops"', { 'public.a': 1 }]);
  });

  it('with a header: the snapshot line first, as soon as it arrives; then the counts', async () => {
    const sink = new RowCountSink({ header: true });
    sink.write('snapshot\t00000003-0000001B-1\t15.18 (Debian)\npubl');
    expect(await sink.header).toEqual({ snapshot: '00000003-0000001B-1', serverVersion: '15.18 (Debian)' });
    await feed(sink, 'ic.a\t4\n', 2);
    expect(sink.counts).toEqual({ 'public.a': 4 });
    const early = new RowCountSink({ header: true });
    await feed(early, '', 1);
    await expect(early.header).rejects.toThrow('the session ended before it exported a snapshot');
    expect(sink.isCounted).toBe(false);
    const wrong = new RowCountSink({ header: true });
    await feed(wrong, 'public.a\t4\n', 100);
    await expect(wrong.header).rejects.toThrow('expected the snapshot line first, got "public.a\\t4"');
  });

  it('with a header, the marker line ends the counts: `counted` resolves; a line after it is a problem; without a header it is not a count', async () => {
    const sink = new RowCountSink({ header: true });
    sink.write('snapshot\t00000003-0000001B-1\t15\npublic.a\t4\ncoun');
    expect(sink.isCounted).toBe(false);
    sink.write('ted\n');
    await sink.counted;
    expect([sink.isCounted, sink.counts, sink.problem]).toEqual([true, { 'public.a': 4 }, null]);
    await feed(sink, 'public.b\t1\n', 100);
    expect([sink.problem, sink.counts]).toEqual(['unexpected output after the counts: "public.b\\t1"', { 'public.a': 4 }]);
    const plain = new RowCountSink();
    await feed(plain, 'public.a\t4\ncounted\n', 100);
    expect([plain.isCounted, plain.problem]).toEqual([false, 'unexpected row count line: "counted"']);
  });
});

describe('compareRowCounts and dataState', () => {
  it('names every table that differs or exists on one side only', () => {
    expect(compareRowCounts({ 'public.a': 1, 'public.b': 2 }, { 'public.a': 1, 'public.c': 0 })).toEqual([
      'public.b: 2 in the backup, absent now',
      'public.c: absent in the backup, 0 now',
    ]);
  });

  it('before, backup, neither, unknown', () => {
    const before = { 'public.a': 3, 'public.b': 1 };
    const backup = { 'public.a': 0, 'public.b': 1 };
    expect(dataState({ 'public.a': 3, 'public.b': 1 }, before, backup)).toBe('as-before');
    expect(dataState({ 'public.a': 0, 'public.b': 1 }, before, backup)).toBe('as-backup');
    expect(dataState({ 'public.a': 1, 'public.b': 1 }, before, backup)).toBe('unknown');
    expect(dataState(null, before, backup)).toBe('unknown');
    expect(dataState(before, before, before)).toBe('as-before');
  });
});
