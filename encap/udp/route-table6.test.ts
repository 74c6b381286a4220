import { describe, expect, it } from 'vitest';
import { parseIpv6 } from '../../core/ipv6.js';
import { ipOfWords6, maskWord6, wordsOf6 } from '../../core/ipv6-words.js';
import { RouteTable6 } from './route-table6.js';

const words = (s: string): number[] => wordsOf6(parseIpv6(s)!);
const at = (s: string): Uint8Array =>
  Buffer.from(
    words(s)
      .map((w) => w.toString(16).padStart(8, '0'))
      .join(''),
    'hex',
  );

describe('ipv6 words', () => {
  it('are bytes 0-3 first, unsigned, and round-trip', () => {
    expect(words('fd00::1')).toEqual([0xfd000000, 0, 0, 1]);
    expect(words('ffff:ffff::8000:0')).toEqual([0xffffffff, 0, 0, 0x80000000]);
    const ip = parseIpv6('fd00:10:244:2::7')!;
    const [a, b, c, d] = wordsOf6(ip);
    expect(ipOfWords6(a, b, c, d)).toBe(ip);
    expect([0, 1, 2, 3].map((k) => maskWord6(64, k))).toEqual([0xffffffff, 0xffffffff, 0, 0]);
    expect([0, 1, 2, 3].map((k) => maskWord6(52, k))).toEqual([0xffffffff, 0xfffff000, 0, 0]);
    expect([0, 1, 2, 3].map((k) => maskWord6(0, k))).toEqual([0, 0, 0, 0]);
    expect([0, 1, 2, 3].map((k) => maskWord6(128, k))).toEqual([
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
  });
});

describe('RouteTable6', () => {
  it('finds the most specific route, misses outside all, and replaces a route of the same prefix', () => {
    const t = new RouteTable6<string>();
    t.set(words('fd00:10:244::'), 48, 'network');
    t.set(words('fd00:10:244:2::'), 64, 'peer2');
    t.set(words('fd00:10:244:3:ffff::'), 64, 'peer3'); // host bits are masked off
    expect(t.size).toBe(3);
    expect(t.lookup(at('fd00:10:244:2::7'), 0)).toBe('peer2');
    expect(t.lookup(at('fd00:10:244:3::1'), 0)).toBe('peer3');
    expect(t.lookup(at('fd00:10:244:9::1'), 0)).toBe('network');
    expect(t.lookup(at('fd00:10:245::1'), 0)).toBeUndefined();
    t.set(words('fd00:10:244:2::'), 64, 'peer2b');
    expect(t.size).toBe(3);
    expect(t.lookup(at('fd00:10:244:2::7'), 0)).toBe('peer2b');
    t.clear();
    expect(t.lookup(at('fd00:10:244:2::7'), 0)).toBeUndefined();
    expect(() => t.set(words('::'), 129, 'x')).toThrow(/0\.\.128/);
  });
  it('keeps many peers of one length apart (bucket collisions are compared in full)', () => {
    const t = new RouteTable6<number>();
    for (let i = 0; i < 4096; i++) t.set([0xfd000010, 0x02440000 + i, 0, 0], 64, i);
    for (let i = 0; i < 4096; i += 7) {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setUint32(0, 0xfd000010);
      new DataView(b.buffer).setUint32(4, 0x02440000 + i);
      new DataView(b.buffer).setUint32(12, 0x1234);
      expect(t.lookup(b, 0)).toBe(i);
    }
  });
});
