/** The smallest pieces of the environment schema, shared by its sections: secrets, durations, URLs, names. */
import { z } from '../base/zod.ts';

/** A reference to a secret held in the process environment (or .env), never in this file. */
export const SecretRef = z
  .object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as CUTOVER_DB_PASSWORD') })
  .strict();
export type SecretRef = z.infer<typeof SecretRef>;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** '250ms', '30s', '5m', '1h' (or a number of milliseconds) -> milliseconds. */
export const Duration = z
  .union([z.number().int().nonnegative(), z.string().regex(DURATION, "must be a duration such as '250ms', '30s', '5m'")])
  .transform((v) => {
    if (typeof v === 'number') return v;
    const [, n, unit] = DURATION.exec(v)!;
    return Math.round(Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS]);
  });

/** A URL that may contain `{host}`, replaced by each host's address when probed. */
export const HostUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s.replaceAll('{host}', 'host.invalid'));
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'Invalid URL' },
);

export const NAME = /^[a-z0-9][a-z0-9._-]*$/i;
