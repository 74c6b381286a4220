import { describe, expect, it } from 'vitest';
import { SlotPool } from './pool.js';

describe('SlotPool', () => {
  it('hands out each slot once and takes it back', () => {
    const pool = new SlotPool(4, 2048, 16);
    const got = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
    expect(new Set(got).size).toBe(4);
    expect(pool.acquire()).toBe(-1);
    expect(pool.inUse).toBe(4);
    pool.release(got[2]!);
    expect(pool.acquire()).toBe(got[2]);
    expect(() => pool.release(99 % 4 === got[0] ? got[1]! : got[0]!)).not.toThrow();
  });

  it('refuses a double release', () => {
    const pool = new SlotPool(2, 64);
    const s = pool.acquire();
    pool.release(s);
    expect(() => pool.release(s)).toThrow(/released twice/);
  });

  it('keeps its accounting over many random batches (no leak)', () => {
    const pool = new SlotPool(64, 256, 10);
    const batch = new Int32Array(64);
    for (let round = 0; round < 5000; round++) {
      const want = (Math.random() * 70) | 0;
      let n = 0;
      for (let i = 0; i < want; i++) {
        const s = pool.acquire();
        if (s < 0) break;
        batch[n++] = s;
        expect(pool.dataOffsetOf(s)).toBe(s * 256 + 10);
      }
      pool.releaseBatch(batch, n);
      expect(pool.inUse).toBe(0);
    }
    expect(pool.available).toBe(64);
    expect(pool.dataCapacity).toBe(246);
  });

  it('lives in shared memory', () => {
    const pool = new SlotPool(2, 128);
    expect(pool.slab.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});
