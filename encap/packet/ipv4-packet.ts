/**
 * IPv4 header checks and in-place edits for forwarded packets. Pure functions over a byte array
 * and an offset: the datapath calls them per packet, so they allocate nothing and return codes,
 * not exceptions.
 */
import { checksum, readU16, readU32, updateChecksum, writeU16 } from './checksum.js';

export const IPV4_MIN_HEADER = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

/** Why a packet is not forwarded. Values index the drop counters; keep them dense. */
export const enum Verdict {
  Ok = 0,
  TooShort = 1,
  NotIpv4 = 2,
  BadIhl = 3,
  BadLength = 4,
  BadHeaderChecksum = 5,
  TtlExpired = 6,
}

/**
 * Checks that [off, off+len) holds exactly one well-formed IPv4 packet: version 4, IHL ≥ 5 and
 * inside the data, total length equal to the data length, header checksum valid.
 */
export function checkIpv4(buf: Uint8Array, off: number, len: number): Verdict {
  if (len < IPV4_MIN_HEADER) return Verdict.TooShort;
  const vihl = buf[off]!;
  if (vihl >>> 4 !== 4) return Verdict.NotIpv4;
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER || ihl > len) return Verdict.BadIhl;
  if (readU16(buf, off + 2) !== len) return Verdict.BadLength;
  if (checksum(buf, off, ihl) !== 0) return Verdict.BadHeaderChecksum;
  return Verdict.Ok;
}

export const srcOf = (buf: Uint8Array, off: number): number => readU32(buf, off + 12);
export const dstOf = (buf: Uint8Array, off: number): number => readU32(buf, off + 16);
export const protoOf = (buf: Uint8Array, off: number): number => buf[off + 9]!;
export const headerLenOf = (buf: Uint8Array, off: number): number => (buf[off]! & 0x0f) * 4;
export const totalLenOf = (buf: Uint8Array, off: number): number => readU16(buf, off + 2);

/** True for fragments other than the first (offset ≠ 0): they carry no L4 header. */
export function isNonFirstFragment(buf: Uint8Array, off: number): boolean {
  return (readU16(buf, off + 6) & 0x1fff) !== 0;
}

/**
 * Decrements the TTL as a router does, fixing the header checksum incrementally (RFC 1624).
 * Returns false (and leaves the packet alone) when the TTL would reach zero.
 */
export function decrementTtl(buf: Uint8Array, off: number): boolean {
  const ttl = buf[off + 8]!;
  if (ttl <= 1) return false;
  const proto = buf[off + 9]!;
  const oldWord = (ttl << 8) | proto;
  buf[off + 8] = ttl - 1;
  writeU16(buf, off + 10, updateChecksum(readU16(buf, off + 10), oldWord, ((ttl - 1) << 8) | proto));
  return true;
}

/** Recomputes the header checksum from scratch (after several fields changed). */
export function refreshHeaderChecksum(buf: Uint8Array, off: number): void {
  const ihl = headerLenOf(buf, off);
  writeU16(buf, off + 10, 0);
  writeU16(buf, off + 10, checksum(buf, off, ihl));
}
