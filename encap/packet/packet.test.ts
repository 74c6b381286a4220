import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/seeded-random.js';
import { addFold, checksum, readU16, readU32, sum16, updateChecksum, writeU16 } from './checksum.js';
import { buildNetUnreachable, wantsUnreachable } from './icmp-unreachable.js';
import { checkIpv4, decrementTtl, Verdict } from './ipv4-packet.js';
import { makeTcp4, makeUdp4, randomBytes, tcpChecksumOk } from '../../test/support/test-packets.js';

const A = 0x0af40101; // 10.244.1.1
const B = 0x0af40202; // 10.244.2.2

/** Hex to bytes, for known answers copied from their sources. */
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
/**
 * The worked example of an IPv4 header checksum (Wikipedia, "Internet checksum"; also in many
 * textbooks): UDP, TTL 64, 192.168.0.1 -> 192.168.0.199, checksum 0xb861. Total length 0x73.
 */
const CLASSIC_HEADER = '4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7';
const classicPacket = (): Uint8Array => {
  const p = new Uint8Array(0x73);
  p.set(hex(CLASSIC_HEADER));
  return p;
};

describe('checksum', () => {
  it('matches the RFC 1071 example (section 3, "numerical examples")', () => {
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(sum16(b, 0, 8)).toBe(0xddf2);
    expect(checksum(b, 0, 8)).toBe(0x220d);
    // an odd length pads the last byte with a zero octet (RFC 1071 section 4.1)
    expect(sum16(b, 0, 7)).toBe(0xddf2 - 0xf7);
  });

  it('gives the known checksum of the classic IPv4 header, and verifies it to zero', () => {
    const h = hex(CLASSIC_HEADER);
    expect(checksum(h, 0, 20)).toBe(0); // a valid header sums to 0xffff
    writeU16(h, 10, 0);
    expect(checksum(h, 0, 20)).toBe(0xb861);
    expect(checkIpv4(classicPacket(), 0, 0x73)).toBe(Verdict.Ok);
  });

  it('updates incrementally as RFC 1624 section 4 does (eqn. 3, no -0 answer)', () => {
    // m = 0x5555 -> m' = 0x3285 with the other octets summing to 0xcd7a: HC 0xdd2f -> 0x0000.
    // RFC 1141's eqn. 2 gives 0xffff here, which a receiver verifying by eqn. 3 arithmetic rejects.
    expect(updateChecksum(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
    expect(~addFold(0xcd7a, 0x5555) & 0xffff).toBe(0xdd2f);
  });

  it('updates incrementally exactly like a full recompute (seeded property)', () => {
    const rng = seededRandom();
    for (let i = 0; i < 2000; i++) {
      const b = rng.bytes(20);
      writeU16(b, 10, 0);
      writeU16(b, 10, checksum(b, 0, 20));
      const word = 2 * rng.int(10);
      if (word === 10) continue;
      const old = readU16(b, word);
      const neu = rng.int(65536);
      writeU16(b, word, neu);
      const inc = updateChecksum(readU16(b, 10), old, neu);
      writeU16(b, 10, inc);
      expect(checksum(b, 0, 20), rng.why).toBe(0);
    }
  });
});

describe('ipv4 checks', () => {
  const pkt = makeTcp4({ src: A, dst: B, payload: randomBytes(100) });
  it('accepts a well-formed packet', () => expect(checkIpv4(pkt, 0, pkt.length)).toBe(Verdict.Ok));
  it('names each defect', () => {
    expect(checkIpv4(pkt, 0, 19)).toBe(Verdict.TooShort);
    const v6 = pkt.slice();
    v6[0] = 0x65;
    expect(checkIpv4(v6, 0, v6.length)).toBe(Verdict.NotIpv4);
    const ihl = pkt.slice();
    ihl[0] = 0x44;
    expect(checkIpv4(ihl, 0, ihl.length)).toBe(Verdict.BadIhl);
    expect(checkIpv4(pkt, 0, pkt.length - 1)).toBe(Verdict.BadLength);
    const sum = pkt.slice();
    sum[10]! ^= 0xff;
    expect(checkIpv4(sum, 0, sum.length)).toBe(Verdict.BadHeaderChecksum);
  });

  it('never throws on random bytes (seeded fuzz)', () => {
    const rng = seededRandom();
    expect(() => {
      for (let i = 0; i < 20000; i++) {
        const b = rng.bytes(rng.int(80));
        if (rng.chance(0.5) && b.length > 0) b[0] = 0x45;
        checkIpv4(b, 0, b.length);
      }
    }, rng.why).not.toThrow();
  });

  it('decrements TTL to the known checksum of the classic header (0xb861 -> 0xb961)', () => {
    const p = classicPacket();
    expect(decrementTtl(p, 0)).toBe(true);
    expect(Array.from(p.subarray(0, 20))).toEqual(
      Array.from(hex('4500 0073 0000 4000 3f11 b961 c0a8 0001 c0a8 00c7')),
    );
  });

  it('decrements TTL keeping the header checksum valid, and refuses at 1', () => {
    for (let ttl = 2; ttl < 256; ttl++) {
      const p = makeTcp4({ src: A, dst: B, ttl, payload: randomBytes(10) });
      expect(decrementTtl(p, 0)).toBe(true);
      expect(p[8]).toBe(ttl - 1);
      expect(checkIpv4(p, 0, p.length)).toBe(Verdict.Ok);
    }
    const p = makeTcp4({ src: A, dst: B, ttl: 1, payload: randomBytes(10) });
    expect(decrementTtl(p, 0)).toBe(false);
    expect(p[8]).toBe(1);
  });
});

describe('ICMP net unreachable', () => {
  it('quotes the header plus 8 bytes, from our address, with valid checksums', () => {
    const p = makeUdp4(A, 0x0a630101, randomBytes(50));
    expect(wantsUnreachable(p, 0)).toBe(true);
    const out = new Uint8Array(200);
    const n = buildNetUnreachable(p, 0, out, 4, 0x0af40100);
    expect(n).toBe(20 + 8 + 28);
    expect(checkIpv4(out, 4, n)).toBe(Verdict.Ok);
    expect(readU32(out, 4 + 12)).toBe(0x0af40100);
    expect(readU32(out, 4 + 16)).toBe(A);
    expect(out[4 + 8]).toBe(8);
    expect([out[24], out[25]]).toEqual([3, 0]);
    expect(checksum(out, 24, n - 20)).toBe(0);
    expect(Array.from(out.subarray(32, 32 + 28))).toEqual(Array.from(p.subarray(0, 28)));
  });

  it('is not sent for ICMP or non-first fragments', () => {
    const icmp = makeUdp4(A, B, randomBytes(8));
    icmp[9] = 1;
    expect(wantsUnreachable(icmp, 0)).toBe(false);
    const frag = makeUdp4(A, B, randomBytes(8));
    writeU16(frag, 6, 0x0010);
    expect(wantsUnreachable(frag, 0)).toBe(false);
  });
});

describe('test packet builders', () => {
  it('produce valid TCP checksums', () => {
    expect(tcpChecksumOk(makeTcp4({ src: A, dst: B, payload: randomBytes(999) }))).toBe(true);
  });
});
