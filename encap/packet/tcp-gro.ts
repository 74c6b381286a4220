/**
 * TCP receive coalescing toward the TUN (the "GRO" step): consecutive in-order segments of one
 * flow, as a peer's GSO split produced them, are merged into one super-packet with a
 * virtio_net_hdr (GSO_TCPV4, NEEDS_CSUM), so the kernel gets one write instead of dozens.
 *
 * Merge rule (a subset of the kernel's tcp_gro_receive): same addresses, ports, TOS, TTL, IP
 * flags, ACK number, window and options; no IP options, no fragments; only ACK (and PSH on the
 * last) flags; each segment's seq follows the previous one; every segment but the last carries
 * exactly the first one's payload size; the result stays under 64 KiB.
 */
import { copyBytes, pseudoHeaderSum, readU16, readU32, writeU16 } from './checksum.js';
import { refreshHeaderChecksum, PROTO_TCP } from './ipv4-packet.js';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, writeEmptyVnetHdr } from './vnet-hdr.js';

const MAX_SUPER = 65535;
const ACK = 0x10;
const PSH = 0x08;

/** Builds one output packet at a time into a caller-owned slot. */
export class TcpCoalescer {
  private out!: Uint8Array;
  private base = 0;
  private cap = 0;
  /** Bytes of IP+TCP headers of the open packet, 0 when the open packet is not coalescible. */
  private hdrLen = 0;
  private mss = 0;
  private total = 0;
  private segs = 0;
  private nextSeq = 0;
  private closed = false;

  /** Number of segments in the open packet (0 = none open). */
  get segments(): number {
    return this.segs;
  }

  /**
   * Starts a new output packet at (out, base) with `cap` bytes of room, beginning with the packet
   * at (buf, off, len). Returns false if it does not fit.
   */
  open(out: Uint8Array, base: number, cap: number, buf: Uint8Array, off: number, len: number): boolean {
    if (VNET_HDR_LEN + len > cap) return false;
    this.out = out;
    this.base = base;
    this.cap = cap;
    this.total = len;
    this.segs = 1;
    this.closed = false;
    copyBytes(buf, off, out, base + VNET_HDR_LEN, len);
    this.hdrLen = coalescibleHeaderLen(buf, off, len);
    if (this.hdrLen > 0) {
      this.mss = len - this.hdrLen;
      this.nextSeq = (readU32(buf, off + 24) + this.mss) >>> 0;
      this.closed = (buf[off + 33]! & PSH) !== 0;
    }
    return true;
  }

  /** Appends (buf, off, len) to the open packet when the merge rule allows; returns whether it did. */
  tryAppend(buf: Uint8Array, off: number, len: number): boolean {
    if (this.segs === 0 || this.hdrLen === 0 || this.closed) return false;
    const h = this.hdrLen;
    if (coalescibleHeaderLen(buf, off, len) !== h) return false;
    const plen = len - h;
    if (plen > this.mss || this.total + plen > MAX_SUPER || VNET_HDR_LEN + this.total + plen > this.cap)
      return false;
    if (readU32(buf, off + 24) !== this.nextSeq) return false;
    const first = this.base + VNET_HDR_LEN;
    const o = this.out;
    if (!sameFlow(buf, off, o, first, h)) return false;
    copyBytes(buf, off + h, o, first + this.total, plen);
    this.total += plen;
    this.segs++;
    this.nextSeq = (this.nextSeq + plen) >>> 0;
    const flags = buf[off + 33]!;
    if (flags & PSH) o[first + 33] = o[first + 33]! | PSH;
    if (plen < this.mss || flags & PSH) this.closed = true;
    return true;
  }

  /** Finishes the open packet (vnet header, lengths, checksums); returns bytes from `base` to write. */
  finish(): number {
    const o = this.out;
    const first = this.base + VNET_HDR_LEN;
    if (this.segs <= 1 || this.hdrLen === 0) {
      writeEmptyVnetHdr(o, this.base);
    } else {
      fixMergedHeader(o, first, this.total);
      writeMergedVnetHdr(o, this.base, this.hdrLen, this.mss);
    }
    const n = VNET_HDR_LEN + this.total;
    this.segs = 0;
    return n;
  }
}

/**
 * Whether the segment at (buf, off) may follow the one at (ref, refOff), both with h bytes of IP+TCP
 * header: same TOS, IP flags, TTL, addresses, ports, ACK number, window and TCP options.
 */
export function sameFlow(buf: Uint8Array, off: number, ref: Uint8Array, refOff: number, h: number): boolean {
  // TOS (1), flags/frag (6-7), TTL (8)
  if (
    buf[off + 1] !== ref[refOff + 1] ||
    buf[off + 6] !== ref[refOff + 6] ||
    buf[off + 8] !== ref[refOff + 8]
  )
    return false;
  // addresses and ports (12-23)
  for (let i = 12; i < 24; i++) if (buf[off + i] !== ref[refOff + i]) return false;
  // ack (28-31), window (34-35), options (40..h)
  for (let i = 28; i < 32; i++) if (buf[off + i] !== ref[refOff + i]) return false;
  if (buf[off + 34] !== ref[refOff + 34] || buf[off + 35] !== ref[refOff + 35]) return false;
  for (let i = 40; i < h; i++) if (buf[off + i] !== ref[refOff + i]) return false;
  return true;
}

/** Writes the vnet header of a merged TCPv4 super-packet with h header bytes and the given MSS. */
export function writeMergedVnetHdr(o: Uint8Array, at: number, h: number, mss: number): void {
  o[at] = VNET_F_NEEDS_CSUM;
  o[at + 1] = GSO_TCPV4;
  writeLe16(o, at + 2, h);
  writeLe16(o, at + 4, mss);
  writeLe16(o, at + 6, 20);
  writeLe16(o, at + 8, 16);
}

/**
 * Fixes the IP/TCP header at `first` of a merged packet of `total` bytes: IP total length and
 * header checksum, and the TCP checksum field set to the pseudo-header sum, so the kernel
 * completes it (NEEDS_CSUM: the payload is summed by the kernel only if the packet leaves the node).
 */
export function fixMergedHeader(o: Uint8Array, first: number, total: number): void {
  writeU16(o, first + 2, total);
  refreshHeaderChecksum(o, first);
  writeU16(o, first + 20 + 16, pseudoHeaderSum(o, first, PROTO_TCP, total - 20));
}

function writeLe16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

/** IP+TCP header length when the packet may be coalesced (IHL 5, TCP, not a fragment, ACK-only flags, payload > 0); else 0. */
export function coalescibleHeaderLen(buf: Uint8Array, off: number, len: number): number {
  if (buf[off] !== 0x45 || buf[off + 9] !== PROTO_TCP || len < 40) return 0;
  if ((readU16(buf, off + 6) & 0x3fff) !== 0) return 0; // MF or fragment offset
  const doff = (buf[off + 32]! >>> 4) * 4;
  const h = 20 + doff;
  if (doff < 20 || h >= len) return 0;
  const flags = buf[off + 33]!;
  if ((flags & ~PSH) !== ACK) return 0;
  return h;
}
