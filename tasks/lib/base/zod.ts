/**
 * zod, from its CommonJS build. Its ES build loads its 60 locale modules (every entry point
 * re-exports them) one at a time through tsx's module hooks, which Node 20 runs on another thread,
 * a message each way per module; `require` loads the same files in this thread. Measured on a
 * 2-core machine (paired runs of `npx tsx` loading the local environment, 15 pairs): median wall
 * 0.95x, CPU 0.92x, peak memory 5 MB less. Types are the ES build's (one copy).
 */
import { createRequire } from 'node:module';
import type { z as Z } from 'zod';

export const z: typeof Z = (createRequire(import.meta.url)('zod') as { z: typeof Z }).z;

// the namespace side of `z` (z.infer, z.input, ...), merged with the value above
// eslint-disable-next-line @typescript-eslint/no-namespace -- a type-only namespace is the one way to give a value z.infer&co
export declare namespace z {
  type infer<T> = Z.infer<T>;
  type input<T> = Z.input<T>;
  type output<T> = Z.output<T>;
  type ZodType<O = unknown, I = unknown> = Z.ZodType<O, I>;
}
