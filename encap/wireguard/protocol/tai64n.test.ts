/**
 * TAI64N labels (cr.yp.to/libtai/tai64.html): second s of TAI after 1970 is 2^62 + s, and UNIX
 * time runs 10 s behind TAI at the epoch, so UNIX 0 is 400000000000000a. wireguard-go's own
 * timestamp decodes in wireguard-go.test.ts; here the encoding and the ordering replay
 * protection relies on.
 */
import { describe, expect, it } from 'vitest';
import { compareTai64n, tai64n, tai64nToMs } from './tai64n.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('tai64n', () => {
  it('labels the UNIX epoch 2^62 + 10 with big-endian seconds then nanoseconds', () => {
    expect(hex(tai64n(0))).toBe('400000000000000a00000000');
    expect(hex(tai64n(1_000))).toBe('400000000000000b00000000');
    // 2026-12-02T04:00:00Z is UNIX 1796184000 (0x6b0f97c0); + 10 = 0x6b0f97ca.
    expect(hex(tai64n(Date.UTC(2026, 11, 2, 4, 0, 0)))).toBe('400000006b0f97ca00000000');
  });

  it('rounds nanoseconds down to 2^24 ns so the fine clock does not leak', () => {
    const t = tai64n(500); // 500 ms = 500 000 000 ns → 0x1d000000 after masking
    expect(hex(t.subarray(8))).toBe('1d000000');
    expect(hex(tai64n(16).subarray(8))).toBe('00000000'); // under 16.8 ms rounds to 0
    expect(hex(tai64n(17).subarray(8))).toBe('01000000');
  });

  it('orders labels by time, byte-wise', () => {
    const a = tai64n(Date.UTC(2026, 0, 1));
    const b = tai64n(Date.UTC(2026, 0, 1) + 20);
    const c = tai64n(Date.UTC(2027, 0, 1));
    expect(compareTai64n(a, b)).toBe(-1);
    expect(compareTai64n(c, b)).toBe(1);
    expect(compareTai64n(a, tai64n(Date.UTC(2026, 0, 1)))).toBe(0);
    expect(tai64nToMs(c)).toBe(Date.UTC(2027, 0, 1));
  });

  it('refuses nonsense clocks', () => {
    expect(() => tai64n(-1)).toThrow(/non-negative/);
    expect(() => tai64n(Number.NaN)).toThrow(/non-negative/);
  });
});
