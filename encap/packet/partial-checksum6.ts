/**
 * partial-checksum.ts for inner IPv6: a kernel VXLAN peer over a veth underlay leaves the inner
 * TCP/UDP checksum as the pseudo-header sum (CHECKSUM_PARTIAL never finished), which the pod's
 * kernel behind our TUN would drop as corrupt. A field equal to the RFC 8200 §8.1 pseudo-header
 * sum (source, destination, upper-layer length, next header) is completed here; a complete one
 * equal to it by chance is recomputed over the same bytes, which changes nothing. Only TCP or UDP
 * right after the fixed header: behind extension headers the kernel never offloads (it finishes the
 * checksum itself), so those arrive complete.
 */
import { readU16, writeU16 } from './checksum.js';
import { DST6, IPV6_HEADER, SRC6 } from './ipv6-packet.js';
import type { SumFn } from './tcp-gso.js';

const PROTO_TCP = 6;
const PROTO_UDP = 17;

/** Pseudo-header sum for TCP/UDP over the IPv6 header at `ipOff`, folded, not complemented. */
export function pseudoHeaderSum6(buf: Uint8Array, ipOff: number, proto: number, l4Len: number): number {
  let s = proto + (l4Len >>> 16) + (l4Len & 0xffff);
  for (let i = ipOff + SRC6; i < ipOff + DST6 + 16; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Completes a partial inner checksum in place; true when it did. `pkt` is a checked IPv6 packet. */
export function completePartialL4v6(b: Uint8Array, pkt: number, len: number, sum: SumFn): boolean {
  const proto = b[pkt + 6]!;
  if (proto !== PROTO_TCP && proto !== PROTO_UDP) return false;
  const l4 = pkt + IPV6_HEADER;
  const l4Len = len - IPV6_HEADER;
  if (l4Len < (proto === PROTO_TCP ? 20 : 8)) return false;
  const field = l4 + (proto === PROTO_TCP ? 16 : 6);
  const pseudo = pseudoHeaderSum6(b, pkt, proto, l4Len);
  if (readU16(b, field) !== pseudo) return false;
  writeU16(b, field, 0);
  let c = ~sum(b, l4, l4Len, pseudo) & 0xffff;
  if (c === 0 && proto === PROTO_UDP) c = 0xffff; // 0 would mean "no checksum", which IPv6 forbids
  writeU16(b, field, c);
  return true;
}
