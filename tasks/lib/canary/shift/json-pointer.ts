/**
 * Setting values in a JSON file at JSON pointers (RFC 6901), keeping the rest of the file as it
 * was (pure). The edit is textual (jsonc-parser's `modify`): only the text of a changed value is
 * replaced, so key order, spacing, line ends, number spellings (1.0, 1e3) and integers beyond
 * 2^53 elsewhere in the file stay byte for byte. A missing last key is inserted into its parent
 * (which must exist); that parent object may then be re-indented in the file's own indentation.
 */
import { isDeepStrictEqual } from 'node:util';
import { applyEdits, modify, type FormattingOptions } from 'jsonc-parser';

export interface PointerEdit {
  readonly pointer: string;
  readonly value: unknown;
}

/** '/flags/new~1catalog' -> ['flags', 'new/catalog'] */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer ${JSON.stringify(pointer)}: must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new Error(`JSON pointer ${JSON.stringify(pointer)}: ~ must be followed by 0 or 1`);
      return t.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

type Step = string | number;

/** The path to `pointer` in `doc` with array indices as numbers, or why it cannot be set there. */
function resolve(doc: unknown, pointer: string): { path: Step[]; current: unknown; exists: boolean } | { problem: string } {
  const tokens = parsePointer(pointer);
  if (!tokens.length) return { problem: `${pointer || '""'}: cannot replace the whole file` };
  const raw = pointer.slice(1).split('/');
  const path: Step[] = [];
  let node: unknown = doc;
  for (const [i, t] of tokens.entries()) {
    const where = i === 0 ? 'the file' : `/${raw.slice(0, i).join('/')}`;
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t) || Number(t) >= node.length)
        return { problem: `${pointer}: ${where} is an array of ${node.length} and ${JSON.stringify(t)} is not one of its indices` };
      path.push(Number(t));
      node = node[Number(t)];
    } else if (node !== null && typeof node === 'object') {
      path.push(t);
      const has = Object.prototype.hasOwnProperty.call(node, t);
      if (i === tokens.length - 1) return { path, current: has ? (node as Record<string, unknown>)[t] : undefined, exists: has };
      if (!has) return { problem: `${pointer}: /${raw.slice(0, i + 1).join('/')} does not exist (every parent of a flag must exist)` };
      node = (node as Record<string, unknown>)[t];
    } else return { problem: `${pointer}: ${where} is ${JSON.stringify(node)}, not an object or array` };
  }
  return { path, current: node, exists: true };
}

/** The file's own indentation and line end (for inserted keys). */
export function formattingOf(text: string): FormattingOptions {
  const indent = /\n([ \t]+)["{[\]}]/.exec(text)?.[1];
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (indent?.startsWith('\t')) return { insertSpaces: false, tabSize: 1, eol };
  return { insertSpaces: true, tabSize: indent?.length ?? 2, eol };
}

/** A value survives JSON (no undefined, functions, NaN, dates): what a flag's on/off may be. */
export function isJsonValue(v: unknown): boolean {
  try {
    return v !== undefined && isDeepStrictEqual(JSON.parse(JSON.stringify(v)), v);
  } catch {
    return false;
  }
}

/** Problems setting `edits` in this JSON text ([] when every pointer's parent exists). */
export function pointerProblems(text: string, edits: readonly PointerEdit[]): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return [`not valid JSON: ${(err as Error).message}`];
  }
  return edits.flatMap((e) => {
    const r = resolve(doc, e.pointer);
    const bad = isJsonValue(e.value) ? [] : [`${e.pointer}: the value ${String(e.value)} cannot be written as JSON`];
    return 'problem' in r ? [r.problem, ...bad] : bad;
  });
}

/**
 * `text` with every edit applied; `changed` lists the pointers whose value differed. Throws when
 * the text is not JSON or a pointer cannot be set; checks the result parses to exactly the
 * document with those values set (and nothing else changed).
 */
export function setPointers(text: string, edits: readonly PointerEdit[]): { text: string; changed: string[] } {
  const problems = pointerProblems(text, edits);
  if (problems.length) throw new Error(problems.join('; '));
  const expected: unknown = JSON.parse(text);
  const formattingOptions = formattingOf(text);
  let out = text;
  const changed: string[] = [];
  for (const e of edits) {
    const r = resolve(expected, e.pointer);
    if ('problem' in r) throw new Error(r.problem);
    if (r.exists && isDeepStrictEqual(r.current, e.value)) continue;
    out = applyEdits(out, modify(out, r.path, e.value, { formattingOptions }));
    // keep the expected document in step: set the value in place
    let node = expected as Record<string | number, unknown>;
    for (const p of r.path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
    Object.defineProperty(node, r.path.at(-1)!, { value: structuredClone(e.value), enumerable: true, writable: true, configurable: true });
    changed.push(e.pointer);
  }
  if (!isDeepStrictEqual(JSON.parse(out), expected)) throw new Error('editing the JSON changed more than the flags (nothing written): please report this file');
  return { text: out, changed };
}
