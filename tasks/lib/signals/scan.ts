/**
 * Reads chosen fields out of one JSON line without building the object: the line's bytes are
 * walked once, values at the wanted paths are decoded, everything else is skipped (and checked:
 * a truncated or broken line is reported as malformed). About 5x faster than JSON.parse on the
 * seed's request records, and nothing is allocated for the fields nobody asked for.
 * Not checked, for speed: raw control characters inside strings that are skipped, and anything
 * after the last wanted field (the line must still end with `}`).
 */

export type FieldValue = string | number | boolean | null | undefined;

interface Node {
  /** Index in the output row when this path is wanted. */
  leaf: number;
  keys: { bytes: Buffer; node: Node }[];
  /** The last few string values read here, by their bytes: repeated values (a route, a version) are not decoded again. */
  cache: { bytes: Buffer; value: string }[];
  /** A time field: ISO text is turned into epoch ms straight from the bytes. */
  time: boolean;
}

/** Thrown (and caught by the reader) for a line that is not one JSON object. */
export class Malformed extends Error {}
const MALFORMED = new Malformed('malformed');

const node = (): Node => ({ leaf: -1, keys: [], cache: [], time: false });
const CACHE = 4;
const CACHED_MAX_BYTES = 48;

/** A compiled set of paths: scan(line) fills `row[i]` with the value at paths[i] (undefined when absent). */
export class FieldScanner {
  private readonly root = node();
  readonly row: FieldValue[];
  private found = 0;
  private readonly wanted: number;

  /** `timePath`: that field is read as a time (epoch ms), not as text. */
  constructor(readonly paths: readonly string[], timePath?: string) {
    paths.forEach((p, i) => {
      let n = this.root;
      for (const part of p.split('.')) {
        const bytes = Buffer.from(part, 'utf8');
        let next = n.keys.find((k) => k.bytes.equals(bytes))?.node;
        if (!next) {
          next = node();
          n.keys.push({ bytes, node: next });
        }
        n = next;
      }
      n.leaf = i;
      n.time = p === timePath;
    });
    this.row = new Array<FieldValue>(paths.length).fill(undefined);
    this.wanted = paths.length;
  }

  /**
   * Fills `row` from buf[start, end); throws Malformed when the line is not one JSON object. Once
   * every wanted field is read the rest is not parsed: the line must then still end with `}`
   * (a truncated line does not).
   */
  scan(buf: Buffer, start: number, end: number): FieldValue[] {
    this.row.fill(undefined);
    this.found = 0;
    let i = ws(buf, start, end);
    if (buf[i] !== 0x7b) throw MALFORMED;
    let last = end - 1;
    while (last > i && (buf[last] === 0x20 || buf[last] === 0x09 || buf[last] === 0x0d)) last--;
    if (buf[last] !== 0x7d) throw MALFORMED;
    i = this.object(buf, i, end, this.root);
    if (i >= 0 && ws(buf, i, end) !== end) throw MALFORMED;
    return this.row;
  }

  /** buf[i] is '{'; returns the index after the matching '}', or -1 when every wanted field was found (stop). */
  private object(buf: Buffer, i: number, end: number, at: Node): number {
    i++;
    if (buf[i]! <= 0x20) i = ws(buf, i, end);
    if (buf[i] === 0x7d) return i + 1;
    const keys = at.keys;
    for (;;) {
      if (this.found === this.wanted) return -1;
      if (buf[i] !== 0x22) throw MALFORMED;
      const keyEnd = stringEnd(buf, i, end);
      const child = keys.length ? findKey(at, buf, i + 1, keyEnd - 1) : undefined;
      i = keyEnd;
      if (buf[i]! <= 0x20) i = ws(buf, i, end);
      if (buf[i] !== 0x3a) throw MALFORMED;
      i++;
      if (buf[i]! <= 0x20) i = ws(buf, i, end);
      if (child === undefined) i = skipValue(buf, i, end);
      else if (child.leaf >= 0) {
        const start = i;
        i = skipValue(buf, i, end);
        this.row[child.leaf] = child.time ? (isoBytes(buf, start, i) ?? decode(buf, start, i)) : buf[start] === 0x22 ? cachedString(child, buf, start, i) : decode(buf, start, i);
        this.found++;
        if (child.keys.length && buf[start] === 0x7b && this.object(buf, start, end, child) < 0) return -1;
      } else if (child.keys.length && buf[i] === 0x7b) {
        i = this.object(buf, i, end, child);
        if (i < 0) return -1;
      } else i = skipValue(buf, i, end);
      const c = buf[i]! <= 0x20 ? buf[(i = ws(buf, i, end))] : buf[i];
      if (c === 0x2c) {
        i++;
        if (buf[i]! <= 0x20) i = ws(buf, i, end);
        continue;
      }
      if (c === 0x7d) return i + 1;
      throw MALFORMED;
    }
  }
}

function findKey(at: Node, buf: Buffer, s: number, e: number): Node | undefined {
  const len = e - s;
  outer: for (const k of at.keys) {
    if (k.bytes.length !== len) continue;
    for (let j = 0; j < len; j++) if (buf[s + j] !== k.bytes[j]) continue outer;
    return k.node;
  }
  // a key written with escapes (\u0061) is compared decoded: rare, so the slow way (looked for in the key only)
  for (let j = s; j < e; j++) {
    if (buf[j] !== 0x5c) continue;
    const key = JSON.parse(buf.toString('utf8', s - 1, e + 1)) as string;
    return at.keys.find((k) => k.bytes.toString('utf8') === key)?.node;
  }
  return undefined;
}

function ws(buf: Buffer, i: number, end: number): number {
  if (buf[i]! > 0x20) return i; // the usual case: no whitespace at all
  while (i < end) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    i++;
  }
  return i;
}

/** buf[i] is '"'; returns the index after the closing quote (found with memchr, escapes respected). */
function stringEnd(buf: Buffer, i: number, end: number): number {
  // short strings (keys, routes, versions): a loop costs less than a call into memchr
  const near = Math.min(end, i + 33);
  for (let k = i + 1; k < near; k++) {
    const c = buf[k]!;
    if (c === 0x22) return k + 1;
    if (c === 0x5c) {
      k++;
      continue;
    }
  }
  let j = near;
  for (;;) {
    const q = buf.indexOf(0x22, j);
    if (q < 0 || q >= end) throw MALFORMED;
    let back = 0;
    while (buf[q - 1 - back] === 0x5c) back++;
    if (back % 2 === 0) return q + 1; // an even run of backslashes escapes itself, not the quote
    j = q + 1;
  }
}

function skipValue(buf: Buffer, i: number, end: number): number {
  const c = buf[i];
  if (c === 0x22) return stringEnd(buf, i, end);
  if (c === 0x7b || c === 0x5b) return skipContainer(buf, i, end);
  if (c === 0x74) return lit4(buf, i, end, 0x72, 0x75, 0x65); // true
  if (c === 0x6e) return lit4(buf, i, end, 0x75, 0x6c, 0x6c); // null
  if (c === 0x66) return literal(buf, i, end, 'false');
  return numberEnd(buf, i, end);
}

function lit4(buf: Buffer, i: number, end: number, b: number, c: number, d: number): number {
  if (i + 4 > end || buf[i + 1] !== b || buf[i + 2] !== c || buf[i + 3] !== d) throw MALFORMED;
  return i + 4;
}

function literal(buf: Buffer, i: number, end: number, word: string): number {
  if (i + word.length > end) throw MALFORMED;
  for (let j = 0; j < word.length; j++) if (buf[i + j] !== word.charCodeAt(j)) throw MALFORMED;
  return i + word.length;
}

function numberEnd(buf: Buffer, i: number, end: number): number {
  let j = i;
  if (buf[j] === 0x2d) j++;
  const digits = j;
  while (j < end) {
    const c = buf[j]!;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) j++;
    else break;
  }
  if (j === digits || buf[digits]! < 0x30 || buf[digits]! > 0x39) throw MALFORMED;
  return j;
}

/** Arrays and objects skipped as a whole, strings inside respected, nesting balanced. */
function skipContainer(buf: Buffer, i: number, end: number): number {
  let depth = 0;
  for (let j = i; j < end; j++) {
    const c = buf[j]!;
    if (c === 0x22) j = stringEnd(buf, j, end) - 1;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return j + 1;
    }
  }
  throw MALFORMED;
}

/** A short string value, from the node's cache when the same bytes were seen lately. */
function cachedString(n: Node, buf: Buffer, s: number, e: number): FieldValue {
  const len = e - s;
  if (len > CACHED_MAX_BYTES) return decode(buf, s, e);
  outer: for (const c of n.cache) {
    if (c.bytes.length !== len) continue;
    for (let j = 0; j < len; j++) if (c.bytes[j] !== buf[s + j]) continue outer;
    return c.value;
  }
  const value = decode(buf, s, e) as string;
  if (n.cache.length >= CACHE) n.cache.shift();
  n.cache.push({ bytes: Buffer.from(buf.subarray(s, e)), value });
  return value;
}

let hourKey = -1;
let hourMs = 0;
const dig = (buf: Buffer, i: number) => buf[i]! - 48;
const two = (buf: Buffer, i: number) => dig(buf, i) * 10 + dig(buf, i + 1);

/**
 * `"2026-12-01T10:00:00.123Z"` (or `+01:00`) straight from the bytes to epoch ms; the hour's start
 * is remembered, so consecutive records cost a few digit reads. null for any other shape.
 */
function isoBytes(buf: Buffer, s: number, e: number): number | null {
  if (buf[s] !== 0x22 || e - s < 22 || buf[s + 5] !== 0x2d || buf[s + 8] !== 0x2d || (buf[s + 11] !== 0x54 && buf[s + 11] !== 0x20) || buf[s + 14] !== 0x3a || buf[s + 17] !== 0x3a) return null;
  const key = ((two(buf, s + 1) * 100 + two(buf, s + 3)) * 10000 + two(buf, s + 6) * 100 + two(buf, s + 9)) * 100 + two(buf, s + 12);
  if (key !== hourKey) {
    const t = Date.UTC(two(buf, s + 1) * 100 + two(buf, s + 3), two(buf, s + 6) - 1, two(buf, s + 9), two(buf, s + 12));
    if (Number.isNaN(t)) return null;
    hourKey = key;
    hourMs = t;
  }
  let ms = 0;
  let i = s + 20;
  if (buf[i] === 0x2e) {
    let scale = 100;
    i++;
    while (buf[i]! >= 0x30 && buf[i]! <= 0x39) {
      ms += dig(buf, i) * scale;
      scale /= 10;
      i++;
    }
  }
  let offset = 0;
  const z = buf[i];
  if (z === 0x5a && i === e - 2) offset = 0;
  else if ((z === 0x2b || z === 0x2d) && i === e - 7 && buf[i + 3] === 0x3a) offset = (z === 0x2b ? 1 : -1) * (two(buf, i + 1) * 60 + two(buf, i + 4));
  else return null;
  return hourMs + two(buf, s + 15) * 60_000 + two(buf, s + 18) * 1000 + Math.round(ms) - offset * 60_000;
}

/** The value in buf[s, e): numbers, strings, booleans and null decoded; objects and arrays as their JSON text. */
function decode(buf: Buffer, s: number, e: number): FieldValue {
  const c = buf[s]!;
  if (c === 0x22) {
    for (let j = s + 1; j < e - 1; j++) if (buf[j]! === 0x5c || buf[j]! >= 0x80) return JSON.parse(buf.toString('utf8', s, e)) as string;
    return buf.toString('latin1', s + 1, e - 1);
  }
  if (c === 0x74) return true;
  if (c === 0x66) return false;
  if (c === 0x6e) return null;
  if (c === 0x7b || c === 0x5b) return buf.toString('utf8', s, e);
  return parseNumber(buf, s, e);
}

function parseNumber(buf: Buffer, s: number, e: number): number {
  let j = s;
  let neg = false;
  if (buf[j] === 0x2d) {
    neg = true;
    j++;
  }
  let int = 0;
  while (j < e && buf[j]! >= 0x30 && buf[j]! <= 0x39) int = int * 10 + (buf[j++]! - 0x30);
  if (j === e && int <= Number.MAX_SAFE_INTEGER) return neg ? -int : int;
  if (buf[j] === 0x2e) {
    let frac = 0;
    let scale = 1;
    let k = j + 1;
    while (k < e && buf[k]! >= 0x30 && buf[k]! <= 0x39 && scale < 1e15) {
      frac = frac * 10 + (buf[k++]! - 0x30);
      scale *= 10;
    }
    const whole = int * scale + frac;
    if (k === e && whole <= Number.MAX_SAFE_INTEGER) {
      const v = whole / scale; // two exact integers: one correctly rounded division, the same double as Number(text)
      return neg ? -v : v;
    }
  }
  const v = Number(buf.toString('latin1', s, e));
  if (Number.isNaN(v)) throw MALFORMED;
  return v;
}

/** Epoch ms of a record's time field: ISO 8601 text (fast path for the usual shape), or epoch s / ms. */
export function timeOf(v: FieldValue): number | null {
  if (typeof v === 'number') return v < 1e11 ? v * 1000 : v;
  if (typeof v !== 'string' || v.length < 10) return null;
  const fast = isoFast(v);
  if (fast !== null) return fast;
  if (/^\d+(\.\d+)?$/.test(v)) return timeOf(Number(v));
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

const d2 = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);

/** `2026-12-01T10:00:00.123Z`, `...+01:00`, `2026-12-01T10:00:00Z`: Date.UTC from the digits; null for anything else. */
function isoFast(s: string): number | null {
  if (s.length < 20 || s[4] !== '-' || s[7] !== '-' || (s[10] !== 'T' && s[10] !== ' ') || s[13] !== ':' || s[16] !== ':') return null;
  let i = 19;
  let ms = 0;
  if (s[i] === '.') {
    let scale = 100;
    i++;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
      ms += (s.charCodeAt(i) - 48) * scale;
      scale /= 10;
      i++;
    }
  }
  let offsetMin = 0;
  const z = s[i];
  if (z === 'Z' && i === s.length - 1) offsetMin = 0;
  else if ((z === '+' || z === '-') && s.length === i + 6 && s[i + 3] === ':') offsetMin = (z === '+' ? 1 : -1) * (d2(s, i + 1) * 60 + d2(s, i + 4));
  else return null;
  const year = d2(s, 0) * 100 + d2(s, 2);
  const t = Date.UTC(year, d2(s, 5) - 1, d2(s, 8), d2(s, 11), d2(s, 14), d2(s, 17)) + Math.round(ms);
  return Number.isNaN(t) ? null : t - offsetMin * 60_000;
}
