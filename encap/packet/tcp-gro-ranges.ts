/**
 * GRO toward the TUN without copying payload: the same merge rule as TcpCoalescer (tcp-gro.ts),
 * but the merged packet is not built in an output slot. It is a header (virtio_net_hdr + one
 * IP/TCP header, written by finish() into a small header slot) followed by the payload ranges of
 * the merged segments, left in the receive slots where recvmmsg put them, for one writev.
 *
 * The segments must stay untouched until the write: the first one's header is the reference the
 * later ones are compared against, and every payload is written from where it lies.
 */
import { readU32 } from './checksum.js';
import { coalescibleHeaderLen, fixMergedHeader, sameFlow, writeMergedVnetHdr } from './tcp-gro.js';
import { VNET_HDR_LEN, writeEmptyVnetHdr } from './vnet-hdr.js';

const MAX_SUPER = 65535;
const PSH = 0x08;
/** Segments per merged packet; the kernel's own GRO stops at 64 too. */
export const MAX_MERGED_SEGMENTS = 64;
/** The most finish() writes: a vnet header and an IP (20) + TCP (up to 60) header. */
export const MERGED_HEADER_MAX = VNET_HDR_LEN + 80;

export class TcpRangeCoalescer {
  private buf!: Uint8Array;
  /** The first segment (its header is the merged packet's). */
  private first = 0;
  private firstLen = 0;
  private hdrLen = 0;
  private mss = 0;
  /** Bytes of the merged IP packet so far. */
  private total = 0;
  private segs = 0;
  private nextSeq = 0;
  private closed = false;
  private psh = false;
  /** Payload ranges of the merged segments (the first one's included), after finish(). */
  readonly offs = new Int32Array(MAX_MERGED_SEGMENTS);
  readonly lens = new Int32Array(MAX_MERGED_SEGMENTS);
  private n = 0;

  /** Segments in the open packet (0 = none open). */
  get segments(): number {
    return this.segs;
  }

  /** Ranges the packet finished last is made of after its header. */
  get rangeCount(): number {
    return this.n;
  }

  /** Starts a packet with the segment at (buf, off, len). */
  open(buf: Uint8Array, off: number, len: number): void {
    this.buf = buf;
    this.first = off;
    this.firstLen = len;
    this.total = len;
    this.segs = 1;
    this.closed = false;
    this.hdrLen = coalescibleHeaderLen(buf, off, len);
    this.n = 0;
    if (this.hdrLen > 0) {
      this.mss = len - this.hdrLen;
      this.nextSeq = (readU32(buf, off + 24) + this.mss) >>> 0;
      this.psh = (buf[off + 33]! & PSH) !== 0;
      this.closed = this.psh;
      this.offs[0] = off + this.hdrLen;
      this.lens[0] = this.mss;
      this.n = 1;
    }
  }

  /** Adds the segment at (buf, off, len) when the merge rule allows; returns whether it did. */
  tryAppend(buf: Uint8Array, off: number, len: number): boolean {
    if (this.segs === 0 || this.hdrLen === 0 || this.closed || buf !== this.buf) return false;
    const h = this.hdrLen;
    if (this.n === MAX_MERGED_SEGMENTS || coalescibleHeaderLen(buf, off, len) !== h) return false;
    const plen = len - h;
    if (plen > this.mss || this.total + plen > MAX_SUPER) return false;
    if (readU32(buf, off + 24) !== this.nextSeq) return false;
    if (!sameFlow(buf, off, buf, this.first, h)) return false;
    this.offs[this.n] = off + h;
    this.lens[this.n++] = plen;
    this.total += plen;
    this.segs++;
    this.nextSeq = (this.nextSeq + plen) >>> 0;
    const flags = buf[off + 33]!;
    if (flags & PSH) this.psh = true;
    if (plen < this.mss || flags & PSH) this.closed = true;
    return true;
  }

  /** Closes the open packet without writing it (no room for its header). */
  discard(): void {
    this.segs = 0;
    this.n = 0;
  }

  /**
   * Finishes the open packet: writes its header at (out, at) and returns the header's length;
   * the packet is then that header followed by ranges 0..rangeCount-1 (offs, lens). A packet of
   * one segment gets only a plain vnet header, followed by the whole segment as its one range.
   */
  finish(out: Uint8Array, at: number): number {
    const segs = this.segs;
    this.segs = 0;
    if (segs <= 1 || this.hdrLen === 0) {
      writeEmptyVnetHdr(out, at);
      this.offs[0] = this.first;
      this.lens[0] = this.firstLen;
      this.n = 1;
      return VNET_HDR_LEN;
    }
    const h = this.hdrLen;
    const hdr = at + VNET_HDR_LEN;
    const src = this.buf;
    for (let k = 0; k < h; k++) out[hdr + k] = src[this.first + k]!;
    if (this.psh) out[hdr + 33] = out[hdr + 33]! | PSH;
    fixMergedHeader(out, hdr, this.total);
    writeMergedVnetHdr(out, at, h, this.mss);
    return VNET_HDR_LEN + h;
  }
}
