/**
 * sealBatch and openBatch (sys/native/aead.c) with hostile arguments: wrong kinds of typed array,
 * bad counts, key indexes outside `keys`, message ranges outside the slab (including ranges whose
 * end overflows int32 or size_t). Each must throw a TypeError or RangeError naming the function,
 * before any byte changes: the slab's guard bytes stay intact and a refused batch leaves even its
 * valid messages untouched.
 */
import { describe, expect, it } from 'vitest';
import {
  NOT_I32,
  NOT_U8,
  SLAB,
  checksInt,
  fn,
  guardedSlab,
  i32,
  rejects,
  sys,
} from '../test/support/native-hostile.js';

const NOT_U64: unknown[] = [
  new BigInt64Array(2),
  new Float64Array(2),
  new Uint32Array(4),
  new Uint8Array(16),
  new Int32Array(4),
  [0n, 0n],
  null,
];
const keys2 = (): Uint8Array => new Uint8Array(64).fill(7);
const ctr = (n: number): BigUint64Array => new BigUint64Array(n);

/** Ranges that must be refused for a seal of a SLAB-byte slab (the tag needs 16 bytes after). */
const BAD_SEAL_RANGES: [number, number][] = [
  [-1, 10],
  [0, -1],
  [SLAB - 16 - 99, 100], // the tag would pass the end by one byte
  [SLAB - 15, 0], // an empty message still needs its tag's room
  [SLAB, 0],
  [2 ** 31 - 1, 2 ** 31 - 1],
  [1, 2 ** 31 - 16], // len + 16 overflows int32
  [0, 2 ** 31 - 1],
  [-(2 ** 31), 2 ** 31 - 1], // off + len = -1: wraps to SIZE_MAX if summed as size_t
  [-16, 16],
];
/** Ranges that must be refused for an open (lens counts the tag, so at least 16). */
const BAD_OPEN_RANGES: [number, number][] = [
  [0, 15],
  [0, 0],
  [-1, 16],
  [SLAB - 16, 17],
  [2 ** 31 - 1, 16],
  [-(2 ** 31), 2 ** 31 - 1],
  [16, -16],
];

describe('sealBatch', () => {
  const args = (): unknown[] => [
    keys2(),
    i32(0, 1),
    ctr(2),
    new Uint8Array(4096),
    i32(0, 2048),
    i32(100, 100),
    2,
  ];
  it('rejects wrong kinds of array, bad counts and counts past any array', () => {
    rejects('sealBatch', args(), 0, NOT_U8, 'TypeError');
    rejects('sealBatch', args(), 1, NOT_I32, 'TypeError');
    rejects('sealBatch', args(), 2, NOT_U64, 'TypeError');
    rejects('sealBatch', args(), 3, NOT_U8, 'TypeError');
    rejects('sealBatch', args(), 4, NOT_I32, 'TypeError');
    rejects('sealBatch', args(), 5, NOT_I32, 'TypeError');
    checksInt('sealBatch', args(), 6);
    rejects('sealBatch', args(), 6, [3, 2 ** 31 - 1], 'RangeError');
    // Each per-message array one short of n.
    rejects('sealBatch', args(), 1, [i32(0)], 'RangeError');
    rejects('sealBatch', args(), 2, [ctr(1)], 'RangeError');
    rejects('sealBatch', args(), 4, [i32(0)], 'RangeError');
    rejects('sealBatch', args(), 5, [i32(100)], 'RangeError');
  });

  it('rejects keys that are not whole 32-byte keys, and key indexes outside them', () => {
    rejects(
      'sealBatch',
      args(),
      0,
      [new Uint8Array(33), new Uint8Array(31), new Uint8Array(65)],
      'RangeError',
    );
    rejects('sealBatch', args(), 0, [new Uint8Array(0), new Uint8Array(32)], 'RangeError'); // index 1 needs 2 keys
    rejects(
      'sealBatch',
      args(),
      1,
      [i32(0, 2), i32(-1, 0), i32(0, 2 ** 31 - 1), i32(-(2 ** 31), 0)],
      'RangeError',
    );
  });

  it('refuses a range outside the slab before writing anything, even the valid messages before it', () => {
    const { slab, intact } = guardedSlab();
    slab.fill(0x11);
    for (const [off, len] of BAD_SEAL_RANGES) {
      expect(
        () => sys.sealBatch(keys2(), i32(0, 0), ctr(2), slab, i32(0, off), i32(64, len), 2),
        `${off}+${len}`,
      ).toThrow(RangeError);
      expect(intact(), `guard bytes after ${off}+${len}`).toBe(true);
      expect(
        slab.every((b) => b === 0x11),
        `message 0 untouched after ${off}+${len}`,
      ).toBe(true);
    }
  });

  it('seals a message whose tag ends exactly at the end of the slab, and nothing past it', () => {
    const { slab, intact } = guardedSlab();
    sys.sealBatch(keys2(), i32(0), ctr(1), slab, i32(SLAB - 116), i32(100), 1);
    expect(intact()).toBe(true);
    sys.sealBatch(keys2(), i32(0), ctr(1), slab, i32(SLAB - 16), i32(0), 1);
    expect(intact()).toBe(true);
  });

  it('treats a detached buffer as empty: any message is outside it', () => {
    const slabBuf = new ArrayBuffer(256);
    const slab = new Uint8Array(slabBuf);
    structuredClone(slabBuf, { transfer: [slabBuf] });
    expect(() => sys.sealBatch(keys2(), i32(0), ctr(1), slab, i32(0), i32(0), 1)).toThrow(RangeError);
    const keyBuf = new ArrayBuffer(64);
    const keys = new Uint8Array(keyBuf);
    structuredClone(keyBuf, { transfer: [keyBuf] });
    expect(() => sys.sealBatch(keys, i32(0), ctr(1), new Uint8Array(64), i32(0), i32(0), 1)).toThrow(
      RangeError,
    );
  });
});

describe('openBatch', () => {
  const args = (): unknown[] => [
    keys2(),
    i32(0, 1),
    ctr(2),
    new Uint8Array(4096),
    i32(0, 2048),
    i32(100, 100),
    new Uint8Array(2),
    2,
  ];
  it('rejects wrong kinds of array, bad counts and counts past any array', () => {
    rejects('openBatch', args(), 0, NOT_U8, 'TypeError');
    rejects('openBatch', args(), 1, NOT_I32, 'TypeError');
    rejects('openBatch', args(), 2, NOT_U64, 'TypeError');
    rejects('openBatch', args(), 3, NOT_U8, 'TypeError');
    rejects('openBatch', args(), 4, NOT_I32, 'TypeError');
    rejects('openBatch', args(), 5, NOT_I32, 'TypeError');
    rejects('openBatch', args(), 6, NOT_U8, 'TypeError');
    checksInt('openBatch', args(), 7);
    rejects('openBatch', args(), 7, [3], 'RangeError');
    rejects('openBatch', args(), 6, [new Uint8Array(1)], 'RangeError'); // ok one short of n
    rejects('openBatch', args(), 2, [ctr(1)], 'RangeError');
    rejects('openBatch', args(), 1, [i32(0, 2), i32(-1, 0)], 'RangeError');
  });

  it('refuses ranges shorter than a tag or outside the slab, leaving slab and ok untouched', () => {
    const { slab, intact } = guardedSlab();
    slab.fill(0x22);
    const ok = Uint8Array.of(9, 9);
    for (const [off, len] of BAD_OPEN_RANGES) {
      expect(
        () => sys.openBatch(keys2(), i32(0, 0), ctr(2), slab, i32(0, off), i32(64, len), ok, 2),
        `${off}+${len}`,
      ).toThrow(RangeError);
      expect(intact(), `guard bytes after ${off}+${len}`).toBe(true);
      expect(
        slab.every((b) => b === 0x22),
        `slab untouched after ${off}+${len}`,
      ).toBe(true);
      expect([...ok]).toEqual([9, 9]);
    }
  });

  it('opens garbage ending exactly at the slab end as refused (ok 0), writing nothing past it', () => {
    const { slab, intact } = guardedSlab();
    const ok = Uint8Array.of(9);
    expect(sys.openBatch(keys2(), i32(0), ctr(1), slab, i32(SLAB - 116), i32(116), ok, 1)).toBe(0);
    expect(ok[0]).toBe(0);
    expect(intact()).toBe(true);
  });

  it('names the function in every message', () => {
    expect(() =>
      fn('openBatch')(keys2(), i32(0), ctr(1), new Uint8Array(64), i32(0), i32(8), new Uint8Array(1), 1),
    ).toThrow(/^openBatch: message 0 \(offs 0, lens 8\) must be at least its 16-byte tag/);
    expect(() => fn('sealBatch')(keys2(), i32(5), ctr(1), new Uint8Array(64), i32(0), i32(8), 1)).toThrow(
      /^sealBatch: keyIdx\[0\] must be 0\.\.1 \(keys holds 2\), got 5/,
    );
  });
});
