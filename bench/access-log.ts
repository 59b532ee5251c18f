/** Who served a request through the local canary fleet's nginx: read from its JSON access log, as it is written. */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { getOnce } from '../test/support/nginx.ts';

/**
 * `GET url` through nginx (a new connection each time), then the name of the upstream that served
 * it, from the access log's next line for that path (nginx writes it as the request ends: waited
 * for). Only this caller may request `path` through that nginx.
 */
export function servedByFromLog(url: string, accessLog: string, names: ReadonlyMap<string, string>): () => Promise<string> {
  const path = new URL(url).pathname;
  let offset = statSync(accessLog).size;
  const next = (): string | null => {
    const size = statSync(accessLog).size;
    if (size <= offset) return null;
    const buf = Buffer.alloc(size - offset);
    const fd = openSync(accessLog, 'r');
    try {
      readSync(fd, buf, 0, buf.length, offset);
    } finally {
      closeSync(fd);
    }
    const end = buf.lastIndexOf(0x0a) + 1; // complete lines only
    let found: string | null = null;
    let consumed = 0;
    for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
      consumed += Buffer.byteLength(line) + 1;
      if (!line.includes(path)) continue;
      const l = JSON.parse(line) as { uri: string; upstream_addr: string };
      if (l.uri !== path) continue;
      found = names.get(l.upstream_addr) ?? l.upstream_addr;
      break; // one request, one line: the rest is read next time
    }
    offset += found ? consumed : end;
    return found;
  };
  return async () => {
    await getOnce(url);
    for (const deadline = Date.now() + 2000; Date.now() < deadline; await sleep(1)) {
      const who = next();
      if (who) return who;
    }
    throw new Error(`no line for ${path} in ${accessLog} within 2 s`);
  };
}
