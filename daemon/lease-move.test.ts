import { describe, expect, it } from 'vitest';
import { LeaseMove } from './lease-move.js';

function harness(failures: number) {
  const log: string[] = [];
  const delays: number[] = [];
  const abort = new AbortController();
  let inFlight = 0;
  let maxInFlight = 0;
  let passes = 0;
  const gates: Array<() => void> = [];
  const move = new LeaseMove({
    signal: abort.signal,
    sleep: async (ms) => {
      delays.push(ms);
    },
    setReady: (r) => log.push(`ready=${r}`),
    onFailure: (err, ms) => log.push(`failed: ${(err as Error).message}, retry in ${ms}`),
    pass: async () => {
      passes++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Each pass waits for the test to let it finish, so requests can arrive mid-pass.
      await new Promise<void>((r) => gates.push(r));
      inFlight--;
      if (failures-- > 0) throw new Error('etcd unavailable');
    },
  });
  const release = async (): Promise<void> => {
    for (let i = 0; i < 10 && gates.length === 0; i++) await Promise.resolve();
    gates.shift()?.();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { move, log, delays, abort, release, stats: () => ({ passes, maxInFlight }) };
}

describe('LeaseMove', () => {
  it('runs one pass at a time: conflicts during a move fold into one more pass after it', async () => {
    const h = harness(0);
    const done = h.move.request();
    void h.move.request();
    void h.move.request();
    await h.release();
    await h.release();
    await done;
    expect(h.stats()).toEqual({ passes: 2, maxInFlight: 1 });
    expect(h.log).toEqual(['ready=false', 'ready=true']);
    expect(h.move.active).toBe(false);
  });

  it('is not ready while a pass fails, and retries with a doubling backoff until one succeeds', async () => {
    const h = harness(2);
    const done = h.move.request();
    await h.release();
    await h.release();
    await h.release();
    await done;
    expect(h.log).toEqual([
      'ready=false',
      'failed: etcd unavailable, retry in 500',
      'failed: etcd unavailable, retry in 1000',
      'ready=true',
    ]);
    expect(h.delays).toEqual([500, 1000]);
  });

  it('ends without becoming ready when the daemon stops mid-move', async () => {
    const h = harness(1);
    const done = h.move.request();
    h.abort.abort();
    await h.release();
    await done;
    expect(h.log).toEqual(['ready=false']);
    expect(h.stats().passes).toBe(1);
  });
});
