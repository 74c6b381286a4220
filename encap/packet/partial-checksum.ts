/**
 * Inner TCP/UDP checksums a kernel VXLAN peer left unfinished. Linux's vxlan device offloads the
 * inner checksum to the underlay device (local checksum offload); a NIC fills it in, but a veth
 * (containers, namespaces on one host) hands the datagram on still CHECKSUM_PARTIAL, and a UDP
 * socket receives the bytes as they are: the checksum field holds only the pseudo-header sum. The
 * kernel-to-kernel path never notices (the flag travels with the skb); a TUN write has no such
 * flag, so the pod's kernel would drop the packet as corrupt (a SYN-ACK, every segment).
 *
 * A field equal to the pseudo-header sum is that partial form; the checksum is then computed
 * here. A complete checksum equal to it by chance (1 in 65536) gets recomputed over the same
 * bytes, which changes nothing a correct packet needs. Fragments are left alone.
 */
import { pseudoHeaderSum, readU16, writeU16 } from './checksum.js';
import { headerLenOf } from './ipv4-packet.js';
import type { SumFn } from './tcp-gso.js';

const PROTO_TCP = 6;
const PROTO_UDP = 17;

/** Completes a partial inner checksum in place; true when it did. `pkt` is a checked IPv4 packet. */
export function completePartialL4(b: Uint8Array, pkt: number, len: number, sum: SumFn): boolean {
  const proto = b[pkt + 9]!;
  if (proto !== PROTO_TCP && proto !== PROTO_UDP) return false;
  if ((readU16(b, pkt + 6) & 0x3fff) !== 0) return false; // a fragment: no whole L4 segment here
  const ihl = headerLenOf(b, pkt);
  const l4 = pkt + ihl;
  const l4Len = len - ihl;
  const field = l4 + (proto === PROTO_TCP ? 16 : 6);
  if (l4Len < (proto === PROTO_TCP ? 20 : 8)) return false;
  const pseudo = pseudoHeaderSum(b, pkt, proto, l4Len);
  if (readU16(b, field) !== pseudo) return false;
  writeU16(b, field, 0);
  let c = ~sum(b, l4, l4Len, pseudo) & 0xffff;
  if (c === 0 && proto === PROTO_UDP) c = 0xffff; // 0 means "no checksum" in UDP
  writeU16(b, field, c);
  return true;
}
