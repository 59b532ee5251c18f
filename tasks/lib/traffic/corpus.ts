/** The traffic corpus: scenario -> weight and requests; a weighted pick that keeps PII under its per-minute cap. */
import { z } from '../base/zod.ts';

const Request = z.union([z.string().min(1).transform((message) => ({ message })), z.object({ message: z.string().min(1) }).strict()]);

export const Corpus = z
  .object({
    scenarios: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i),
        z.object({ weight: z.number().positive(), pii: z.boolean().default(false), requests: z.array(Request).min(1) }).strict(),
      )
      .refine((s) => Object.keys(s).length > 0, 'needs at least one scenario'),
  })
  .strict();
export type Corpus = z.output<typeof Corpus>;

export interface Pick {
  readonly scenario: string;
  readonly message: string;
  readonly pii: boolean;
}

/** Weighted choice by `rand()` in [0,1); a PII scenario over its cap this minute is swapped for a non-PII one. */
export class Picker {
  private readonly entries: { name: string; weight: number; pii: boolean; requests: { message: string }[] }[];
  private readonly piiTimes: number[] = [];
  private readonly next = new Map<string, number>();

  constructor(
    corpus: Corpus,
    private readonly rand: () => number,
    private readonly piiMaxPerMin?: number,
  ) {
    this.entries = Object.entries(corpus.scenarios).map(([name, s]) => ({ name, ...s }));
  }

  pick(now: number): Pick {
    while (this.piiTimes.length && this.piiTimes[0]! <= now - 60_000) this.piiTimes.shift();
    const piiFull = this.piiMaxPerMin !== undefined && this.piiTimes.length >= this.piiMaxPerMin;
    const pool = piiFull ? this.entries.filter((e) => !e.pii) : this.entries;
    const chosen = weighted(pool.length ? pool : this.entries, this.rand());
    if (chosen.pii) this.piiTimes.push(now);
    const i = this.next.get(chosen.name) ?? Math.floor(this.rand() * chosen.requests.length);
    this.next.set(chosen.name, (i + 1) % chosen.requests.length); // walk the scenario's requests in turn
    return { scenario: chosen.name, message: chosen.requests[i]!.message, pii: chosen.pii };
  }
}

function weighted<T extends { weight: number }>(items: readonly T[], r: number): T {
  const total = items.reduce((a, e) => a + e.weight, 0);
  let x = r * total;
  for (const e of items) if ((x -= e.weight) < 0) return e;
  return items[items.length - 1]!;
}

/** A small seeded generator (mulberry32): the same seed, the same traffic. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
