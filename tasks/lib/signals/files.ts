/** Corpus and question files: YAML or JSON (by extension), checked by a zod schema, every problem named with the file. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError, UsageError } from '../base/errors.ts';
import { REPO_ROOT } from '../config/load.ts';
import { keyPath } from '../config/issues.ts';

export async function loadDataFile<T extends z.ZodType>(file: string, schema: T, what: string): Promise<z.output<T>> {
  const abs = path.resolve(REPO_ROOT, file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new UsageError(`${what} ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = /\.json$/i.test(abs) ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (err) {
    throw new ConfigError([`${file}: not valid ${/\.json$/i.test(abs) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  const r = schema.safeParse(data);
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${file}: ${keyPath(i.path)}: ${i.message}`));
  return r.data;
}

/** The request body with `{message}` replaced in every string (JSON-safe), as text. */
export function requestBody(template: unknown, message: string): string | undefined {
  if (template === undefined) return undefined;
  const walk = (v: unknown): unknown =>
    typeof v === 'string' ? v.replaceAll('{message}', message) : Array.isArray(v) ? v.map(walk) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)])) : v;
  return JSON.stringify(walk(template));
}
