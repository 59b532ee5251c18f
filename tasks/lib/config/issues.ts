import type { z } from 'zod';

/** `verify.health.url`, `hosts[0].name` */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

/** One line per problem: `environments/staging.ts: verify.health.url: Invalid URL`. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) lines.push(`${file}: ${keyPath([...issue.path, k])}: unknown key (check its spelling; see README "Environment schema")`);
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      lines.push(`${file}: ${keyPath(issue.path)}: is required (expected ${issue.expected})`);
    } else {
      lines.push(`${file}: ${keyPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}
