/**
 * TCP segmentation in userspace (the "GSO split"): a TSO super-packet read from the TUN is cut
 * into MSS-sized IPv4/TCP segments written back to back into an output slot, so one sendmsg with
 * UDP_SEGMENT sends them all. Per segment: IP total length, IP id + i, header checksum; TCP seq +
 * i*MSS, FIN/PSH only on the last, CWR only on the first, full TCP checksum (the wire carries
 * complete packets: flanneld peers write them to their TUN as they are).
 */
import {
  checksum,
  copyBytes,
  fold16,
  pseudoHeaderSum,
  readU16,
  readU32,
  sum16,
  writeU16,
  writeU32,
} from './checksum.js';
import { headerLenOf, PROTO_TCP } from './ipv4-packet.js';

/** Sum function: ones' complement sum, folded, not complemented (native csum or the TS sum16). */
export type SumFn = (buf: Uint8Array, off: number, len: number, seed: number) => number;

export interface SplitResult {
  /** Number of segments written. */
  count: number;
  /** Bytes from one segment start to the next (= headers + MSS); the UDP_SEGMENT size. */
  stride: number;
  /** Bytes written in all. */
  bytes: number;
}

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/**
 * Splits the TCPv4 packet at (src, off, len) into segments of `mss` payload bytes at (out, outOff),
 * each after a gap of `lead` bytes for a wire header (VXLAN's), which the stride includes.
 * Returns false (writing nothing useful) when it is not a TCPv4 packet with a sane header or the
 * output does not fit in `outCap` bytes.
 */
export function splitTcp4(
  src: Uint8Array,
  off: number,
  len: number,
  mss: number,
  out: Uint8Array,
  outOff: number,
  outCap: number,
  sum: SumFn,
  result: SplitResult,
  lead = 0,
): boolean {
  if (len < 40 || src[off + 9] !== PROTO_TCP || mss <= 0) return false;
  const ihl = headerLenOf(src, off);
  const tcp = off + ihl;
  const doff = (src[tcp + 12]! >>> 4) * 4;
  const hdrLen = ihl + doff;
  if (doff < 20 || hdrLen > len) return false;
  const payload = len - hdrLen;
  const count = Math.max(1, Math.ceil(payload / mss));
  const stride = lead + hdrLen + mss;
  const bytes = (count - 1) * stride + lead + hdrLen + (payload - (count - 1) * mss);
  if (bytes > outCap) return false;
  const seq0 = readU32(src, tcp + 4);
  const id0 = readU16(src, off + 4);
  const flags = src[tcp + 13]!;
  for (let i = 0; i < count; i++) {
    const seg = outOff + i * stride + lead;
    const plen = i === count - 1 ? payload - i * mss : mss;
    copyBytes(src, off, out, seg, hdrLen);
    copyBytes(src, off + hdrLen + i * mss, out, seg + hdrLen, plen);
    writeU16(out, seg + 2, hdrLen + plen);
    writeU16(out, seg + 4, (id0 + i) & 0xffff);
    writeU16(out, seg + 10, 0);
    writeU16(out, seg + 10, checksum(out, seg, ihl));
    const t = seg + ihl;
    writeU32(out, t + 4, (seq0 + i * mss) >>> 0);
    let f = flags;
    if (i !== count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) f &= ~TCP_CWR;
    out[t + 13] = f;
    writeU16(out, t + 16, 0);
    const seed = pseudoHeaderSum(out, seg, PROTO_TCP, doff + plen);
    writeU16(out, t + 16, ~sum(out, t, doff + plen, seed) & 0xffff);
  }
  result.count = count;
  result.stride = stride;
  result.bytes = bytes;
  return true;
}

/**
 * Sums of consecutive `chunk`-byte pieces of [off, off+len) into out[0..] (16-bit, folded, not
 * complemented); returns how many. The native csumChunks, or chunkSums16 below (the reference).
 */
export type ChunkSumFn = (
  buf: Uint8Array,
  off: number,
  len: number,
  chunk: number,
  out: Uint32Array,
) => number;

export function chunkSums16(
  buf: Uint8Array,
  off: number,
  len: number,
  chunk: number,
  out: Uint32Array,
): number {
  let n = 0;
  for (let at = 0; at < len; at += chunk) out[n++] = sum16(buf, off + at, Math.min(chunk, len - at));
  return n;
}

/**
 * What segmentTcp4 planned: segment i is the lead gap and header at hdrOff + i*(lead + hdrLen)
 * (lead + hdrLen bytes, the header after the gap), then payload payloadOff + i*mss.
 */
export interface SegmentPlan {
  count: number;
  hdrLen: number;
  mss: number;
  payloadOff: number;
  /** Payload bytes of all segments. */
  payloadLen: number;
}

/** segmentTcp4's answer when the headers do not fit in hdrCap (the caller takes a new header slot). */
export const SEGMENT_NO_ROOM = 0;
/** segmentTcp4's answer when the packet is not a TCPv4 packet with a sane header. */
export const SEGMENT_BAD = -1;

/**
 * GSO split without copying payload: builds only the headers of the segments of the TCPv4 TSO
 * packet at (src, off, len), back to back at (hdrs, hdrOff), and leaves each segment's payload
 * where it is, so the segments can be sent as iovecs (header i, payload i, header i+1, ...). The
 * headers are those splitTcp4 writes (same ids, seq, flags, checksums); the TCP checksums come from
 * one chunkSum call over the payload, where it lies. `lead` bytes are left free in front of each
 * header, for a wire header the caller writes there: header and wire header are then one iovec.
 * Returns the bytes used at hdrOff (gaps included), or SEGMENT_NO_ROOM / SEGMENT_BAD.
 */
export function segmentTcp4(
  src: Uint8Array,
  off: number,
  len: number,
  mss: number,
  hdrs: Uint8Array,
  hdrOff: number,
  hdrCap: number,
  sums: Uint32Array,
  chunkSum: ChunkSumFn,
  plan: SegmentPlan,
  lead = 0,
): number {
  if (len < 40 || src[off + 9] !== PROTO_TCP || mss <= 0) return SEGMENT_BAD;
  const ihl = headerLenOf(src, off);
  const tcp = off + ihl;
  const doff = (src[tcp + 12]! >>> 4) * 4;
  const hdrLen = ihl + doff;
  if (doff < 20 || hdrLen > len) return SEGMENT_BAD;
  const payload = len - hdrLen;
  const count = Math.max(1, Math.ceil(payload / mss));
  if (count > sums.length) return SEGMENT_BAD;
  const step = lead + hdrLen;
  if (count * step > hdrCap) return SEGMENT_NO_ROOM;
  sums[0] = 0; // an empty payload has no chunk
  chunkSum(src, off + hdrLen, payload, mss, sums);
  const seq0 = readU32(src, tcp + 4);
  const id0 = readU16(src, off + 4);
  const flags = src[tcp + 13]!;
  for (let i = 0; i < count; i++) {
    const seg = hdrOff + i * step + lead;
    const plen = i === count - 1 ? payload - i * mss : mss;
    for (let k = 0; k < hdrLen; k++) hdrs[seg + k] = src[off + k]!; // 40-60 bytes: a loop beats a call
    writeU16(hdrs, seg + 2, hdrLen + plen);
    writeU16(hdrs, seg + 4, (id0 + i) & 0xffff);
    writeU16(hdrs, seg + 10, 0);
    writeU16(hdrs, seg + 10, checksum(hdrs, seg, ihl));
    const t = seg + ihl;
    writeU32(hdrs, t + 4, (seq0 + i * mss) >>> 0);
    let f = flags;
    if (i !== count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) f &= ~TCP_CWR;
    hdrs[t + 13] = f;
    writeU16(hdrs, t + 16, 0);
    // The TCP header is a whole number of 32-bit words, so header and payload sums just add.
    const seed = fold16(pseudoHeaderSum(hdrs, seg, PROTO_TCP, doff + plen) + sums[i]!);
    writeU16(hdrs, t + 16, checksum(hdrs, t, doff, seed));
  }
  plan.count = count;
  plan.hdrLen = hdrLen;
  plan.mss = mss;
  plan.payloadOff = off + hdrLen;
  plan.payloadLen = payload;
  return count * step;
}

/**
 * Completes a partial L4 checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at csumStart+csumOffset
 * holds the pseudo-header sum; fold the bytes from csumStart to the end into it.
 */
export function completeChecksum(
  buf: Uint8Array,
  off: number,
  len: number,
  csumStart: number,
  csumOffset: number,
  sum: SumFn,
): boolean {
  const field = off + csumStart + csumOffset;
  if (csumStart >= len || csumStart + csumOffset + 2 > len) return false;
  const seed = readU16(buf, field);
  writeU16(buf, field, 0);
  writeU16(buf, field, ~sum(buf, off + csumStart, len - csumStart, seed) & 0xffff);
  return true;
}
