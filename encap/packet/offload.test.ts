/** GSO split and GRO coalescing, checked as properties against straightforward re-parsing. */
import { describe, expect, it } from 'vitest';
import { nativeChecksum } from '../../sys/native-io.js';
import { readU16, readU32, sum16 } from './checksum.js';
import { checkIpv4, Verdict } from './ipv4-packet.js';
import { completeChecksum, splitTcp4, type SplitResult } from './tcp-gso.js';
import { TcpCoalescer } from './tcp-gro.js';
import { makeTcp4, randomBytes, tcpChecksumOk } from '../../test/support/test-packets.js';
import { seededRandom, type Rng } from '../../test/support/seeded-random.js';
import { GSO_TCPV4, newVnetHdr, readVnetHdr, VNET_F_NEEDS_CSUM, VNET_HDR_LEN } from './vnet-hdr.js';

const A = 0x0af40101;
const B = 0x0af40202;

describe('native csum', () => {
  it('gives the RFC 1071 example sum and verifies the classic IPv4 header to 0xffff', () => {
    expect(nativeChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0, 8, 0)).toBe(
      0xddf2,
    );
    const header = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(~nativeChecksum(header, 0, 20, 0) & 0xffff).toBe(0xb861);
    header.writeUInt16BE(0xb861, 10);
    expect(nativeChecksum(header, 0, 20, 0)).toBe(0xffff);
  });

  it('equals the TS reference for every length, offset and seed (seeded property)', () => {
    const rng = seededRandom();
    for (let i = 0; i < 3000; i++) {
      const buf = rng.bytes(1600);
      const off = rng.int(100);
      const len = rng.int(1400);
      const seed = rng.int(65536);
      expect(nativeChecksum(buf, off, len, seed), `${rng.why}, off ${off} len ${len} seed ${seed}`).toBe(
        sum16(buf, off, len, seed),
      );
    }
  });
});

function randomSuper(rng: Rng): { pkt: Uint8Array; payload: Uint8Array; opts: Uint8Array; flags: number } {
  const payload = rng.bytes(1 + rng.int(60000));
  const opts = rng.chance(0.5) ? Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) : new Uint8Array(0);
  const flags =
    0x10 | (rng.chance(0.5) ? 0x08 : 0) | (rng.chance(0.2) ? 0x01 : 0) | (rng.chance(0.2) ? 0x80 : 0);
  const pkt = makeTcp4({
    src: A,
    dst: B,
    seq: rng.u32(),
    id: rng.int(65536),
    flags,
    options: opts,
    payload,
  });
  return { pkt, payload, opts, flags };
}

describe('GSO split', () => {
  const sums = [
    ['TS sum16', sum16],
    ['native csum', (b: Uint8Array, o: number, l: number, s: number) => nativeChecksum(b, o, l, s)],
  ] as const;
  for (const [name, sum] of sums) {
    it(`cuts super-packets into valid, complete segments (${name}, seeded property)`, () => {
      const rng = seededRandom();
      const res: SplitResult = { count: 0, stride: 0, bytes: 0 };
      for (let round = 0; round < 60; round++) {
        const mss = 500 + rng.int(1000);
        const { pkt, payload, opts, flags } = randomSuper(rng);
        const why = `${rng.why}, round ${round}, mss ${mss}`;
        const out = new Uint8Array(80_000);
        expect(splitTcp4(pkt, 0, pkt.length, mss, out, 16, out.length - 16, sum, res), why).toBe(true);
        expect(res.count, why).toBe(Math.ceil(payload.length / mss));
        expect(res.stride, why).toBe(40 + opts.length + mss);
        const got: number[] = [];
        for (let i = 0; i < res.count; i++) {
          const seg = 16 + i * res.stride;
          const len = readU16(out, seg + 2);
          expect(checkIpv4(out, seg, len), why).toBe(Verdict.Ok);
          expect(tcpChecksumOk(out, seg), why).toBe(true);
          expect(readU32(out, seg + 24), why).toBe((readU32(pkt, 24) + i * mss) >>> 0);
          expect(readU16(out, seg + 4), why).toBe((readU16(pkt, 4) + i) & 0xffff);
          const f = out[seg + 33]!;
          const last = i === res.count - 1;
          expect(f & 0x09, why).toBe(last ? flags & 0x09 : 0);
          expect(f & 0x80, why).toBe(i === 0 ? flags & 0x80 : 0);
          got.push(...out.subarray(seg + 40 + opts.length, seg + len));
        }
        expect(res.bytes, why).toBe(
          (res.count - 1) * res.stride + readU16(out, 16 + (res.count - 1) * res.stride + 2),
        );
        expect(Buffer.from(got).equals(Buffer.from(payload)), why).toBe(true);
      }
    });
  }

  it('refuses what is not TCPv4 or does not fit', () => {
    const res: SplitResult = { count: 0, stride: 0, bytes: 0 };
    const pkt = makeTcp4({ src: A, dst: B, payload: randomBytes(5000) });
    expect(splitTcp4(pkt, 0, pkt.length, 1000, new Uint8Array(100), 0, 100, sum16, res)).toBe(false);
    const udp = pkt.slice();
    udp[9] = 17;
    expect(splitTcp4(udp, 0, udp.length, 1000, new Uint8Array(9000), 0, 9000, sum16, res)).toBe(false);
  });

  it('completes a partial checksum', () => {
    const pkt = makeTcp4({ src: A, dst: B, payload: randomBytes(777) });
    const want = readU16(pkt, 36);
    // Turn the checksum into a CHECKSUM_PARTIAL one: the field holds the folded pseudo-header sum.
    pkt[36] = 0;
    pkt[37] = 0;
    const pseudo = sum16(pkt, 12, 8, 6 + (pkt.length - 20));
    pkt[36] = pseudo >>> 8;
    pkt[37] = pseudo & 0xff;
    expect(completeChecksum(pkt, 0, pkt.length, 20, 16, sum16)).toBe(true);
    expect(readU16(pkt, 36)).toBe(want);
  });
});

describe('GRO coalescing', () => {
  const res: SplitResult = { count: 0, stride: 0, bytes: 0 };
  const segmentsOf = (pkt: Uint8Array, mss: number): Uint8Array[] => {
    const out = new Uint8Array(80_000);
    splitTcp4(pkt, 0, pkt.length, mss, out, 0, out.length, sum16, res);
    return Array.from({ length: res.count }, (_, i) =>
      out.slice(i * res.stride, i * res.stride + readU16(out, i * res.stride + 2)),
    );
  };

  it('merges a split super-packet back into one, with a GSO vnet header (seeded property)', () => {
    const rng = seededRandom();
    for (let round = 0; round < 40; round++) {
      const mss = 1200 + rng.int(200);
      const payload = rng.bytes(mss * (2 + rng.int(30)) + rng.int(mss));
      const why = `${rng.why}, round ${round}, mss ${mss}`;
      const pkt = makeTcp4({ src: A, dst: B, seq: 5000, flags: 0x18, payload });
      const segs = segmentsOf(pkt, mss);
      const co = new TcpCoalescer();
      const slot = new Uint8Array(70_000);
      expect(co.open(slot, 0, slot.length, segs[0]!, 0, segs[0]!.length), why).toBe(true);
      for (const s of segs.slice(1)) expect(co.tryAppend(s, 0, s.length), why).toBe(true);
      const n = co.finish();
      expect(n, why).toBe(VNET_HDR_LEN + pkt.length);
      const h = readVnetHdr(slot, 0, newVnetHdr());
      expect(h, why).toEqual({
        flags: VNET_F_NEEDS_CSUM,
        gsoType: GSO_TCPV4,
        hdrLen: 40,
        gsoSize: mss,
        csumStart: 20,
        csumOffset: 16,
      });
      const merged = slot.subarray(VNET_HDR_LEN, n);
      expect(checkIpv4(merged, 0, merged.length), why).toBe(Verdict.Ok);
      expect(Buffer.from(merged.subarray(40)).equals(Buffer.from(payload)), why).toBe(true);
      expect(merged[33], why).toBe(0x18);
      // Completing the partial checksum gives the original packet's checksum.
      completeChecksum(merged, 0, merged.length, 20, 16, sum16);
      expect(tcpChecksumOk(merged), why).toBe(true);
    }
  });

  it('does not merge across flows, gaps, or after a short segment', () => {
    const mss = 1000;
    const segs = segmentsOf(makeTcp4({ src: A, dst: B, seq: 1, payload: randomBytes(5 * mss) }), mss);
    const other = segmentsOf(
      makeTcp4({ src: A, dst: B, sport: 1, seq: 1 + mss, payload: randomBytes(2 * mss) }),
      mss,
    );
    const co = new TcpCoalescer();
    const slot = new Uint8Array(70_000);
    co.open(slot, 0, slot.length, segs[0]!, 0, segs[0]!.length);
    expect(co.tryAppend(other[0]!, 0, other[0]!.length)).toBe(false); // other port
    expect(co.tryAppend(segs[2]!, 0, segs[2]!.length)).toBe(false); // gap
    expect(co.tryAppend(segs[1]!, 0, segs[1]!.length)).toBe(true);
    const short = makeTcp4({ src: A, dst: B, seq: 1 + 2 * mss, payload: randomBytes(10) });
    expect(co.tryAppend(short, 0, short.length)).toBe(true);
    expect(co.tryAppend(segs[3]!, 0, segs[3]!.length)).toBe(false); // closed by the short one
    expect(co.segments).toBe(3);
    const syn = makeTcp4({ src: A, dst: B, flags: 0x02, payload: randomBytes(0) });
    co.finish();
    co.open(slot, 0, slot.length, syn, 0, syn.length);
    expect(co.finish()).toBe(VNET_HDR_LEN + syn.length);
    expect(slot[0]).toBe(0); // plain packet: empty vnet header
  });
});
