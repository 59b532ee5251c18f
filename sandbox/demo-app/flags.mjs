// Feature flags of the demo service: one JSON file (DEMO_FLAGS_FILE), values found by JSON pointer
// (RFC 6901: '/features/new_ranker/enabled'). The file is read at start and again as soon as it
// changes (its inode, size or mtime: cutover's canary replaces it with a rename), checked at each
// lookup, so a flag turned on without a restart takes effect on the next request.
// A missing file means every flag off; a file that does not parse keeps the flags read before.
import { readFileSync, statSync } from 'node:fs';

/** The value at `pointer` in `doc`, or undefined. */
export function pointerGet(doc, pointer) {
  if (pointer === '') return doc;
  if (!pointer.startsWith('/')) throw new Error(`bad JSON pointer ${JSON.stringify(pointer)}: it must start with /`);
  let at = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (at === null || typeof at !== 'object' || !Object.prototype.hasOwnProperty.call(at, key)) return undefined;
    at = at[key];
  }
  return at;
}

/**
 * The flags in `file` (none without a file name). `isOn(pointer)`: the value there is `true`.
 * `warn(line)` is told when the file is missing, or does not parse (the previous flags are kept).
 */
export function openFlags(file, { warn = () => {} } = {}) {
  if (!file) return { isOn: () => false };
  let stamp = null;
  let doc = null;
  const refresh = () => {
    let s;
    try {
      s = statSync(file);
    } catch (e) {
      if (stamp !== 'missing') warn(`demo-chat: flags file ${file} cannot be read (${e.code ?? e.message}): every flag off`);
      stamp = 'missing';
      doc = null;
      return;
    }
    const now = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (now === stamp) return;
    stamp = now;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      warn(`demo-chat: flags file ${file} does not parse (${e.message}): the flags read before are kept`);
    }
  };
  return {
    isOn(pointer) {
      refresh();
      return pointerGet(doc, pointer) === true;
    },
  };
}
