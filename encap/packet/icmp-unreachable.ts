/**
 * ICMP Destination Unreachable / Net Unreachable (type 3, code 0), written back into the TUN when
 * a packet's destination has no peer, as flannel's proxy does: source = our TUN address, TTL 8,
 * the offending IP header plus 8 bytes of its payload. Not sent for ICMP packets or non-first
 * fragments (no ICMP about ICMP; fragments lack the L4 header).
 */
import { checksum, copyBytes, writeU16, writeU32 } from './checksum.js';
import { headerLenOf, isNonFirstFragment, protoOf, PROTO_ICMP, srcOf, totalLenOf } from './ipv4-packet.js';

export const ICMP_UNREACH_MAX = 20 + 8 + 60 + 8;

/** Whether a reply is due for this (already validated) packet. */
export function wantsUnreachable(buf: Uint8Array, off: number): boolean {
  return protoOf(buf, off) !== PROTO_ICMP && !isNonFirstFragment(buf, off);
}

/**
 * Writes the reply for the packet at (buf, off) into (out, outOff); returns its length.
 * `out` must have ICMP_UNREACH_MAX bytes free.
 */
export function buildNetUnreachable(
  buf: Uint8Array,
  off: number,
  out: Uint8Array,
  outOff: number,
  localIp: number,
): number {
  const ihl = headerLenOf(buf, off);
  const quoted = Math.min(ihl + 8, totalLenOf(buf, off));
  const len = 20 + 8 + quoted;
  out.fill(0, outOff, outOff + 28);
  out[outOff] = 0x45;
  writeU16(out, outOff + 2, len);
  out[outOff + 8] = 8; // TTL, as flannel
  out[outOff + 9] = PROTO_ICMP;
  writeU32(out, outOff + 12, localIp);
  writeU32(out, outOff + 16, srcOf(buf, off));
  writeU16(out, outOff + 10, checksum(out, outOff, 20));
  const icmp = outOff + 20;
  out[icmp] = 3; // destination unreachable
  out[icmp + 1] = 0; // net unreachable
  copyBytes(buf, off, out, icmp + 8, quoted);
  writeU16(out, icmp + 2, checksum(out, icmp, 8 + quoted));
  return len;
}
