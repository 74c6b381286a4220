import { describe, expect, it } from 'vitest';
import { Backoff, realSleep } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap, and starts over after reset', () => {
    const b = new Backoff(100, 500);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 500, 500]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('refuses a cap below the initial delay', () => {
    expect(() => new Backoff(100, 50)).toThrow(RangeError);
  });
});

describe('realSleep', () => {
  it('returns at once when the signal is already aborted, and on abort while waiting', async () => {
    const c = new AbortController();
    c.abort();
    await realSleep(3_600_000, c.signal);
    const d = new AbortController();
    const p = realSleep(3_600_000, d.signal);
    d.abort();
    await p; // a one-hour timer would time the test out if abort did not end it
  });
});
