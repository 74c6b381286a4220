import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/seeded-random.js';
import { SlotBatch, SlotPool } from './pool.js';

describe('SlotPool', () => {
  it('hands out each slot once and takes it back', () => {
    const pool = new SlotPool(4, 2048, 16);
    const got = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
    expect(new Set(got).size).toBe(4);
    expect(pool.acquire()).toBe(-1);
    expect(pool.inUse).toBe(4);
    expect(got.every((s) => s >= 0 && s < 4)).toBe(true);
    pool.release(got[2]!);
    expect([pool.inUse, pool.available]).toEqual([3, 1]);
    expect(pool.acquire()).toBe(got[2]);
    // every slot goes back, and the same four come out again
    for (const s of got) pool.release(s);
    expect([pool.inUse, pool.available]).toEqual([0, 4]);
    expect(new Set([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()])).toEqual(new Set(got));
  });

  it('refuses a double release, and a release of a slot never acquired', () => {
    const pool = new SlotPool(2, 64);
    const s = pool.acquire();
    pool.release(s);
    expect(() => pool.release(s)).toThrow(/released twice/);
    expect(() => pool.release(1 - s)).toThrow(/never acquired/);
    expect(pool.available).toBe(2);
  });

  it('keeps its accounting over many random batches (no leak)', () => {
    const pool = new SlotPool(64, 256, 10);
    const batch = new SlotBatch(pool);
    const rng = seededRandom();
    for (let round = 0; round < 5000; round++) {
      const want = rng.int(70);
      for (let i = 0; i < want; i++) {
        const s = batch.take();
        if (s < 0) break;
        expect(pool.dataOffsetOf(s)).toBe(s * 256 + 10);
      }
      expect(batch.count, rng.why).toBe(Math.min(want, 64));
      const mark = rng.int(batch.count);
      batch.releaseFrom(mark);
      expect(pool.inUse, rng.why).toBe(mark);
      batch.releaseAll();
      expect(pool.inUse).toBe(0);
    }
    expect(pool.available).toBe(64);
    expect(pool.dataCapacity).toBe(246);
  });

  it('keeps packet bytes in a plain ArrayBuffer (V8 copies shared memory word by word)', () => {
    const pool = new SlotPool(2, 128);
    expect(pool.slab.buffer).toBeInstanceOf(ArrayBuffer);
    expect(pool.slab.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  it('gives resident slots for good, as many as it has, and refuses when it has none', () => {
    const pool = new SlotPool(4, 256, 16);
    const offs = new Int32Array(8);
    expect(pool.acquireResident(offs, 3, 'test')).toBe(3);
    expect(new Set(offs.subarray(0, 3)).size).toBe(3);
    for (const o of offs.subarray(0, 3)) expect(o % 256).toBe(16); // data offset: after the headroom
    expect(pool.acquireResident(offs, 8, 'test')).toBe(1);
    expect(pool.available).toBe(0);
    expect(() => pool.acquireResident(offs, 1, 'TxEngine')).toThrow(/TxEngine: the pool has no slot/);
  });
});
