// The request log the seeds read: one JSON object per chat request in
// <dir>/predictions_YYYY-MM-DD.jsonl (UTC date of the record: a new file each day).
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export function openRequestLog(dir) {
  if (!dir) return { write() {}, close() {} };
  mkdirSync(dir, { recursive: true });
  let day = '';
  let out = null;
  return {
    write(record) {
      const d = record.timestamp.slice(0, 10);
      if (d !== day) {
        out?.end();
        day = d;
        out = createWriteStream(join(dir, `predictions_${d}.jsonl`), { flags: 'a' });
      }
      out.write(`${JSON.stringify(record)}\n`);
    },
    close() {
      out?.end();
    },
  };
}
