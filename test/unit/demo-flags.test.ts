// The demo service's feature-flag reader over real files in a temporary folder: read at first use, again
// when the file is replaced (a rename, as cutover's canary writes it) or rewritten, never half-read.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript module of the demo service (no types)
import { openFlags, pointerGet } from '../../sandbox/demo-app/flags.mjs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function folder(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'demo-flags-'));
  dirs.push(d);
  return d;
}

/** Replaces `file` the way cutover does: a new file in the same folder, renamed over it. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

const RANKER = '/features/new_ranker/enabled';

describe('demo-app flags', () => {
  it('pointerGet follows RFC 6901: nested keys, ~1 and ~0, array indexes, absent paths', () => {
    const doc = { features: { new_ranker: { enabled: true }, 'a/b': 1, 'm~n': 2, list: [10, 20] } };
    expect(pointerGet(doc, RANKER)).toBe(true);
    expect(pointerGet(doc, '/features/a~1b')).toBe(1);
    expect(pointerGet(doc, '/features/m~0n')).toBe(2);
    expect(pointerGet(doc, '/features/list/1')).toBe(20);
    expect(pointerGet(doc, '/features/nope/enabled')).toBeUndefined();
    expect(pointerGet(doc, '/features/new_ranker/enabled/deeper')).toBeUndefined();
    expect(pointerGet(null, RANKER)).toBeUndefined();
    expect(pointerGet(doc, '')).toBe(doc);
    expect(() => pointerGet(doc, 'features')).toThrow(/must start with \//);
  });

  it('a flag is on only when its value is exactly true; the file is read again once replaced', () => {
    const file = path.join(folder(), 'flags.json');
    writeFileSync(file, JSON.stringify({ features: { new_ranker: { enabled: false } } }));
    const flags = openFlags(file);
    expect(flags.isOn(RANKER)).toBe(false);
    replace(file, JSON.stringify({ features: { new_ranker: { enabled: true } } }));
    expect(flags.isOn(RANKER)).toBe(true);
    replace(file, JSON.stringify({ features: { new_ranker: { enabled: 'true' } } }));
    expect(flags.isOn(RANKER)).toBe(false);
    // rewritten in place (a longer text: another size)
    writeFileSync(file, JSON.stringify({ features: { new_ranker: { enabled: true }, other: 1 } }));
    expect(flags.isOn(RANKER)).toBe(true);
  });

  it('a file that does not parse keeps the flags read before, and says so once; a missing file turns every flag off', () => {
    const file = path.join(folder(), 'flags.json');
    writeFileSync(file, JSON.stringify({ features: { new_ranker: { enabled: true } } }));
    const warnings: string[] = [];
    const flags = openFlags(file, { warn: (l: string) => warnings.push(l) });
    expect(flags.isOn(RANKER)).toBe(true);
    replace(file, '{"features": {"new_ranker": {"enabled": fal');
    expect(flags.isOn(RANKER)).toBe(true);
    expect(flags.isOn(RANKER)).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^demo-chat: flags file .*flags\.json does not parse \(.*\): the flags read before are kept$/);
    rmSync(file);
    expect(flags.isOn(RANKER)).toBe(false);
    expect(flags.isOn(RANKER)).toBe(false);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/cannot be read \(ENOENT\): every flag off$/);
    replace(file, JSON.stringify({ features: { new_ranker: { enabled: true } } }));
    expect(flags.isOn(RANKER)).toBe(true);
  });

  it('without a file name every flag is off', () => {
    expect(openFlags(undefined).isOn(RANKER)).toBe(false);
    expect(openFlags('').isOn(RANKER)).toBe(false);
  });
});
