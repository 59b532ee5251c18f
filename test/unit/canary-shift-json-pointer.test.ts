// Flags in a JSON file: values set at JSON pointers, the rest of the file kept byte for byte.
import { describe, expect, it } from 'vitest';
import { formattingOf, isJsonValue, parsePointer, pointerProblems, setPointers } from '../../tasks/lib/canary/shift/json-pointer.ts';

const FILE = `{
  "service": "api",
  "limits": { "max": 1.0, "big": 12345678901234567890, "exp": 1e3 },
  "flags": {
    "new_catalog": { "enabled": false, "rollout": 0 },
    "a/b": false,
    "t~x": false
  },
  "list": [ { "on": false }, 2 ]
}
`;

describe('parsePointer (RFC 6901)', () => {
  it('unescapes ~1 and ~0, in that order', () => {
    expect(parsePointer('/flags/a~1b')).toEqual(['flags', 'a/b']);
    expect(parsePointer('/flags/t~0x')).toEqual(['flags', 't~x']);
    expect(parsePointer('/a/~01')).toEqual(['a', '~1']);
    expect(parsePointer('')).toEqual([]);
    expect(() => parsePointer('flags')).toThrow('JSON pointer "flags": must start with /');
    expect(() => parsePointer('/a~2')).toThrow('~ must be followed by 0 or 1');
  });
});

describe('setPointers', () => {
  it('changes only the values: every other byte of the file stays (number spellings, integers past 2^53, spacing)', () => {
    const r = setPointers(FILE, [
      { pointer: '/flags/new_catalog/enabled', value: true },
      { pointer: '/flags/new_catalog/rollout', value: 100 },
      { pointer: '/flags/a~1b', value: true },
      { pointer: '/list/0/on', value: true },
    ]);
    expect(r.changed).toEqual(['/flags/new_catalog/enabled', '/flags/new_catalog/rollout', '/flags/a~1b', '/list/0/on']);
    expect(r.text).toBe(
      FILE.replace('"enabled": false, "rollout": 0', '"enabled": true, "rollout": 100')
        .replace('"a/b": false', '"a/b": true')
        .replace('{ "on": false }', '{ "on": true }'),
    );
  });

  it('a value already set is no change at all', () => {
    expect(setPointers(FILE, [{ pointer: '/flags/a~1b', value: false }])).toEqual({ text: FILE, changed: [] });
    expect(setPointers(FILE, [{ pointer: '/list/0', value: { on: false } }])).toEqual({ text: FILE, changed: [] });
  });

  it('a missing last key is added to its parent, in the file\'s indentation', () => {
    const r = setPointers('{\n    "flags": {\n        "x": false\n    }\n}\n', [{ pointer: '/flags/y', value: 'on' }]);
    expect(r.text).toBe('{\n    "flags": {\n        "x": false,\n        "y": "on"\n    }\n}\n');
    expect(setPointers('{\n\t"flags": {}\n}', [{ pointer: '/flags/y', value: true }]).text).toBe('{\n\t"flags": {\n\t\t"y": true\n\t}\n}');
  });

  it('objects and arrays as values', () => {
    const r = setPointers('{"flags": {"x": null}}', [{ pointer: '/flags/x', value: { mode: 'canary', share: [1, 2] } }]);
    expect(JSON.parse(r.text)).toEqual({ flags: { x: { mode: 'canary', share: [1, 2] } } });
  });

  it('refuses what it cannot set, naming the pointer and why', () => {
    expect(() => setPointers(FILE, [{ pointer: '/nope/x', value: true }])).toThrow('/nope/x: /nope does not exist (every parent of a flag must exist)');
    expect(() => setPointers(FILE, [{ pointer: '/list/5', value: true }])).toThrow('/list/5: /list is an array of 2 and "5" is not one of its indices');
    expect(() => setPointers(FILE, [{ pointer: '/list/-', value: true }])).toThrow('"-" is not one of its indices');
    expect(() => setPointers(FILE, [{ pointer: '/service/x', value: true }])).toThrow('/service/x: /service is "api", not an object or array');
    expect(() => setPointers('[1]', [{ pointer: '/x', value: true }])).toThrow('/x: the file is an array of 1');
    expect(() => setPointers('{"a": 1,}', [{ pointer: '/a', value: 2 }])).toThrow(/not valid JSON/);
    expect(() => setPointers('{"a": 1} // comment', [{ pointer: '/a', value: 2 }])).toThrow(/not valid JSON/);
  });
});

describe('checks', () => {
  it('pointerProblems lists every problem at once', () => {
    expect(pointerProblems(FILE, [{ pointer: '/flags/x', value: true }, { pointer: '/a/b', value: true }, { pointer: '/flags/y', value: () => 1 }])).toEqual([
      '/a/b: /a does not exist (every parent of a flag must exist)',
      '/flags/y: the value () => 1 cannot be written as JSON',
    ]);
  });

  it('JSON values only', () => {
    expect([true, 0, 'x', null, { a: [1] }].every(isJsonValue)).toBe(true);
    expect([undefined, Number.NaN, new Date(0), () => 1, { a: undefined }].some(isJsonValue)).toBe(false);
  });

  it("the file's own indentation and line ends", () => {
    expect(formattingOf('{\r\n    "a": 1\r\n}')).toEqual({ insertSpaces: true, tabSize: 4, eol: '\r\n' });
    expect(formattingOf('{\n\t"a": 1\n}')).toEqual({ insertSpaces: false, tabSize: 1, eol: '\n' });
    expect(formattingOf('{"a": 1}')).toEqual({ insertSpaces: true, tabSize: 2, eol: '\n' });
  });
});
