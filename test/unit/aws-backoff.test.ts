import { describe, expect, it } from 'vitest';
import { nextDelay, pollDelays, sleep } from '../../tasks/lib/aws/backoff.ts';

describe('poll delays', () => {
  it('start at pollMin and double up to pollMax', () => {
    expect(pollDelays(250, 2000, 7)).toEqual([250, 500, 1000, 2000, 2000, 2000, 2000]);
    expect(pollDelays(300, 1000, 4)).toEqual([300, 600, 1000, 1000]);
    expect(pollDelays(500, 500, 3)).toEqual([500, 500, 500]);
  });

  it('a restart of about 1 s is seen done by the third poll (0.25 + 0.5 + 1 s)', () => {
    const at = pollDelays(250, 2000, 3).reduce<number[]>((acc, d) => [...acc, (acc.at(-1) ?? 0) + d], []);
    expect(at).toEqual([250, 750, 1750]);
  });

  it('never exceeds pollMax, even from a first delay above it', () => {
    expect(nextDelay(undefined, 5000, 2000)).toBe(2000);
    expect(nextDelay(1500, 250, 2000)).toBe(2000);
  });

  it('sleep ends at once when aborted', async () => {
    const ac = new AbortController();
    const t = performance.now();
    setTimeout(() => ac.abort(), 20);
    expect(await sleep(5000, ac.signal)).toBe(false);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(await sleep(1)).toBe(true);
  });
});
