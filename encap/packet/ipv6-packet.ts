/**
 * The inner IPv6 packet (RFC 8200 §3) as the dual-stack datapath checks and forwards it:
 *   0      version (4 bits) = 6, traffic class, flow label
 *   4      payload length (16 bits): bytes after this 40-byte header
 *   6      next header, 7 hop limit
 *   8      source address (16), 24 destination address (16)
 * No header checksum (the hop limit changes alone). Addresses are read as four big-endian words,
 * as core/ipv6-words.ts writes them, so a prefix test is four masked compares and no bigint.
 */
import { readU16 } from './checksum.js';

export const IPV6_HEADER = 40;
export const SRC6 = 8;
export const DST6 = 24;

export const enum Verdict6 {
  Ok = 0,
  TooShort = 1,
  NotIpv6 = 2,
  BadLength = 3,
}

/**
 * Checks that [off, off+len) holds exactly one IPv6 packet: at least the fixed header, version 6,
 * payload length equal to the bytes after the header (a jumbogram's 0 is refused: no MTU we run
 * on carries one).
 */
export function checkIpv6(buf: Uint8Array, off: number, len: number): Verdict6 {
  if (len < IPV6_HEADER) return Verdict6.TooShort;
  if (buf[off]! >>> 4 !== 6) return Verdict6.NotIpv6;
  if (readU16(buf, off + 4) !== len - IPV6_HEADER) return Verdict6.BadLength;
  return Verdict6.Ok;
}

/** Word k (0..3) of the address at buf[at, at+16), unsigned. */
export function word6(buf: Uint8Array, at: number, k: number): number {
  const i = at + 4 * k;
  return ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

/** Whether the address at buf[at, at+16) is inside net/mask (four words each). */
export function inNet6(buf: Uint8Array, at: number, net: Uint32Array, mask: Uint32Array): boolean {
  for (let k = 0; k < 4; k++) if ((word6(buf, at, k) & mask[k]!) >>> 0 !== net[k]) return false;
  return true;
}

/** Decrements the hop limit as a router does; false when it was 0 or 1 (the packet must not go on). */
export function decrementHopLimit(buf: Uint8Array, off: number): boolean {
  const h = buf[off + 7]!;
  if (h <= 1) return false;
  buf[off + 7] = h - 1;
  return true;
}
