/**
 * The scatter-gather GSO split and GRO merge against the copying ones (tcp-gso.ts splitTcp4,
 * tcp-gro.ts TcpCoalescer), which are the reference: gathered, their ranges must give the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { nativeChunkSums } from '../../sys/native-io.js';
import { readU16, sum16 } from './checksum.js';
import {
  chunkSums16,
  SEGMENT_BAD,
  SEGMENT_NO_ROOM,
  segmentTcp4,
  splitTcp4,
  type SegmentPlan,
} from './tcp-gso.js';
import { TcpCoalescer } from './tcp-gro.js';
import { MAX_MERGED_SEGMENTS, TcpRangeCoalescer } from './tcp-gro-ranges.js';
import { makeTcp4, makeUdp4, randomBytes } from '../../test/support/test-packets.js';

const A = 0x0af40101;
const B = 0x0af40202;
const nativeChunks = nativeChunkSums;

const newPlan = (): SegmentPlan => ({ count: 0, hdrLen: 0, mss: 0, payloadOff: 0, payloadLen: 0 });

function randomTso(): { pkt: Uint8Array; mss: number } {
  const mss = 88 + ((Math.random() * 1400) | 0);
  const opts =
    Math.random() < 0.5 ? Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) : new Uint8Array(0);
  const flags =
    0x10 |
    (Math.random() < 0.5 ? 0x08 : 0) |
    (Math.random() < 0.2 ? 0x01 : 0) |
    (Math.random() < 0.2 ? 0x80 : 0);
  const payload = randomBytes((Math.random() * 64000) | 0);
  const pkt = makeTcp4({
    src: A,
    dst: B,
    seq: (Math.random() * 2 ** 32) >>> 0,
    id: (Math.random() * 65536) | 0,
    flags,
    options: opts,
    payload,
  });
  return { pkt, mss };
}

describe('native csumChunks', () => {
  it('equals the TS reference for every range and chunk size (property)', () => {
    // Room for the most chunks a case can have (4700 bytes in chunks of 1).
    const out = new Uint32Array(4700);
    const want = new Uint32Array(4700);
    for (let i = 0; i < 500; i++) {
      const buf = randomBytes(5000);
      const off = (Math.random() * 200) | 0;
      const len = (Math.random() * 4700) | 0;
      const chunk = 1 + ((Math.random() * 1500) | 0);
      const n = nativeChunkSums(buf, off, len, chunk, out);
      expect(n).toBe(chunkSums16(buf, off, len, chunk, want));
      expect([...out.subarray(0, n)]).toEqual([...want.subarray(0, n)]);
      if (n > 0) expect(out[0]).toBe(sum16(buf, off, Math.min(chunk, len)));
    }
  });

  it('refuses ranges outside the buffer, a short out array and the wrong array kinds', () => {
    const buf = new Uint8Array(100);
    const out = new Uint32Array(4);
    expect(() => nativeChunkSums(buf, 90, 20, 10, out)).toThrow(RangeError);
    expect(() => nativeChunkSums(buf, 90, 20, 10, out)).toThrow(/csumChunks: len must be .* 0\.\.10\b/);
    expect(() => nativeChunkSums(buf, -1, 10, 10, out)).toThrow(/csumChunks: off must be .* 0\.\.100\b/);
    expect(() => nativeChunkSums(buf, 0, 2 ** 31 - 1, 10, out)).toThrow(/csumChunks: len must be/);
    expect(() => nativeChunkSums(buf, 0, 10, 0, out)).toThrow(/csumChunks: chunk must be/);
    expect(() => nativeChunkSums(buf, 0, 100, 10, out)).toThrow(/fewer entries/);
    expect(() => nativeChunkSums(buf, 0, 10, 10, new Int32Array(4) as unknown as Uint32Array)).toThrow(
      /csumChunks: out must be a Uint32Array, got an Int32Array/,
    );
  });
});

describe('scatter-gather GSO split', () => {
  for (const [name, chunkSum] of [
    ['TS chunk sums', chunkSums16],
    ['native csumChunks', nativeChunks],
  ] as const) {
    it(`headers + payload ranges equal splitTcp4's segments byte for byte (${name}, property)`, () => {
      const sums = new Uint32Array(1024);
      const plan = newPlan();
      const ref = { count: 0, stride: 0, bytes: 0 };
      for (let round = 0; round < 80; round++) {
        const { pkt, mss } = randomTso();
        const hdrs = new Uint8Array(1024 * 60 + 8);
        const wrote = segmentTcp4(pkt, 0, pkt.length, mss, hdrs, 8, hdrs.length - 8, sums, chunkSum, plan);
        const out = new Uint8Array(200_000);
        expect(splitTcp4(pkt, 0, pkt.length, mss, out, 0, out.length, sum16, ref)).toBe(true);
        expect(wrote).toBe(plan.count * plan.hdrLen);
        expect(plan.count).toBe(ref.count);
        expect(plan.hdrLen + plan.mss).toBe(ref.stride);
        for (let i = 0; i < plan.count; i++) {
          const h = hdrs.subarray(8 + i * plan.hdrLen, 8 + (i + 1) * plan.hdrLen);
          const plen = Math.min(mss, plan.payloadLen - i * mss);
          const p = pkt.subarray(plan.payloadOff + i * mss, plan.payloadOff + i * mss + plen);
          const seg = out.subarray(i * ref.stride, i * ref.stride + readU16(out, i * ref.stride + 2));
          expect(Buffer.concat([h, p]).equals(Buffer.from(seg))).toBe(true);
        }
      }
    });
  }

  it('leaves a lead gap in front of each header, untouched, with the same headers as without (property)', () => {
    const sums = new Uint32Array(1024);
    const plan = newPlan();
    for (let round = 0; round < 40; round++) {
      const { pkt, mss } = randomTso();
      const lead = 1 + (round % 30);
      const flat = new Uint8Array(1024 * 60);
      const bare = segmentTcp4(pkt, 0, pkt.length, mss, flat, 0, flat.length, sums, chunkSums16, plan);
      const gapped = new Uint8Array(1024 * 90).fill(0xa5);
      const wrote = segmentTcp4(
        pkt,
        0,
        pkt.length,
        mss,
        gapped,
        0,
        gapped.length,
        sums,
        chunkSums16,
        plan,
        lead,
      );
      const step = lead + plan.hdrLen;
      expect(wrote).toBe(plan.count * step);
      expect(bare).toBe(plan.count * plan.hdrLen);
      for (let i = 0; i < plan.count; i++) {
        expect(gapped.subarray(i * step, i * step + lead).every((b) => b === 0xa5)).toBe(true);
        const h = gapped.subarray(i * step + lead, (i + 1) * step);
        expect(
          Buffer.from(h).equals(Buffer.from(flat.subarray(i * plan.hdrLen, (i + 1) * plan.hdrLen))),
        ).toBe(true);
      }
      expect(gapped[wrote]).toBe(0xa5); // nothing written past the last header
    }
    // The room asked for includes the gaps.
    const pkt = makeTcp4({ src: A, dst: B, payload: randomBytes(10_000) });
    const hdrs = new Uint8Array(4096);
    expect(segmentTcp4(pkt, 0, pkt.length, 1000, hdrs, 0, 619, sums, chunkSums16, plan, 22)).toBe(
      SEGMENT_NO_ROOM,
    );
    expect(segmentTcp4(pkt, 0, pkt.length, 1000, hdrs, 0, 620, sums, chunkSums16, plan, 22)).toBe(620);
  });

  it('says when the headers do not fit, and refuses what is not TCPv4', () => {
    const sums = new Uint32Array(1024);
    const plan = newPlan();
    const pkt = makeTcp4({ src: A, dst: B, payload: randomBytes(10_000) });
    const hdrs = new Uint8Array(4096);
    expect(segmentTcp4(pkt, 0, pkt.length, 1000, hdrs, 0, 399, sums, chunkSums16, plan)).toBe(
      SEGMENT_NO_ROOM,
    );
    expect(segmentTcp4(pkt, 0, pkt.length, 1000, hdrs, 0, 400, sums, chunkSums16, plan)).toBe(400);
    const udp = makeUdp4(A, B, randomBytes(3000));
    expect(segmentTcp4(udp, 0, udp.length, 1000, hdrs, 0, 4096, sums, chunkSums16, plan)).toBe(SEGMENT_BAD);
    expect(segmentTcp4(pkt, 0, pkt.length, 1, hdrs, 0, 4096, sums, chunkSums16, plan)).toBe(SEGMENT_BAD);
  });
});

describe('scatter-gather GRO merge', () => {
  const ref = { count: 0, stride: 0, bytes: 0 };
  /** A split super-packet's segments, back to back in one slab (as UDP GRO hands them). */
  const segmentsIn = (pkt: Uint8Array, mss: number, slab: Uint8Array, at: number): [number, number][] => {
    const out = new Uint8Array(200_000);
    splitTcp4(pkt, 0, pkt.length, mss, out, 0, out.length, sum16, ref);
    const segs: [number, number][] = [];
    for (let i = 0; i < ref.count; i++) {
      const len = readU16(out, i * ref.stride + 2);
      slab.set(out.subarray(i * ref.stride, i * ref.stride + len), at);
      segs.push([at, len]);
      at += len;
    }
    return segs;
  };

  it("header + ranges equal TcpCoalescer's merged packet, for runs of any length (property)", () => {
    for (let round = 0; round < 60; round++) {
      const mss = 500 + ((Math.random() * 1000) | 0);
      const n = 1 + ((Math.random() * 70) | 0);
      const payload = randomBytes(mss * n - ((Math.random() * mss) | 0));
      const flags = Math.random() < 0.5 ? 0x18 : 0x10;
      const pkt = makeTcp4({ src: A, dst: B, seq: (Math.random() * 2 ** 32) >>> 0, flags, payload });
      const slab = new Uint8Array(300_000);
      const segs = segmentsIn(pkt, mss, slab, 0);
      const rco = new TcpRangeCoalescer();
      const refOut = new Uint8Array(70_000);
      const hdrAt = 250_000;
      let i = 0;
      while (i < segs.length) {
        const [o, l] = segs[i]!;
        rco.open(slab, o, l);
        for (let j = i + 1; j < segs.length && rco.tryAppend(slab, segs[j]![0], segs[j]![1]); j++);
        const mergedSegs = rco.segments;
        // The reference merges the same run, and refuses the next segment too unless the range
        // coalescer stopped at its segment cap (the reference has only the 64 KiB one).
        const co = new TcpCoalescer();
        co.open(refOut, 0, refOut.length, slab, o, l);
        for (let k = i + 1; k < i + mergedSegs; k++)
          expect(co.tryAppend(slab, segs[k]![0], segs[k]![1])).toBe(true);
        const next = segs[i + mergedSegs];
        if (next && mergedSegs < MAX_MERGED_SEGMENTS)
          expect(co.tryAppend(slab, next[0], next[1])).toBe(false);
        const want = refOut.slice(0, co.finish());
        const h = rco.finish(slab, hdrAt);
        const parts = [slab.subarray(hdrAt, hdrAt + h)];
        for (let r = 0; r < rco.rangeCount; r++)
          parts.push(slab.subarray(rco.offs[r]!, rco.offs[r]! + rco.lens[r]!));
        expect(Buffer.concat(parts).equals(Buffer.from(want))).toBe(true);
        i += mergedSegs;
      }
    }
  });

  it('stops at 64 segments and leaves the receive slots untouched', () => {
    const mss = 600;
    const pkt = makeTcp4({ src: A, dst: B, seq: 7, flags: 0x10, payload: randomBytes(mss * 100) });
    const slab = new Uint8Array(300_000);
    const segs = segmentsIn(pkt, mss, slab, 0);
    const before = slab.slice(0, 200_000);
    const rco = new TcpRangeCoalescer();
    rco.open(slab, segs[0]![0], segs[0]![1]);
    let merged = 1;
    while (rco.tryAppend(slab, segs[merged]![0], segs[merged]![1])) merged++;
    expect(merged).toBe(MAX_MERGED_SEGMENTS);
    rco.finish(slab, 250_000);
    expect(Buffer.from(slab.subarray(0, 200_000)).equals(Buffer.from(before))).toBe(true);
  });

  it('writes a lone or non-TCP packet as a plain vnet header and the whole packet', () => {
    const slab = new Uint8Array(4096);
    const udp = makeUdp4(A, B, randomBytes(100));
    slab.set(udp, 100);
    slab.fill(0xff, 3000, 3010);
    const rco = new TcpRangeCoalescer();
    rco.open(slab, 100, udp.length);
    expect(rco.tryAppend(slab, 100, udp.length)).toBe(false);
    expect(rco.finish(slab, 3000)).toBe(10);
    expect([...slab.subarray(3000, 3010)]).toEqual(new Array(10).fill(0));
    expect([rco.rangeCount, rco.offs[0], rco.lens[0]]).toEqual([1, 100, udp.length]);
  });
});
