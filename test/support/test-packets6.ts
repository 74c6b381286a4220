/** IPv6 packets for the dual-stack datapath tests (reference checksums: RFC 8200 §8.1 pseudo-header). */
import { checksum, writeU16 } from '../../encap/packet/checksum.js';
import { pseudoHeaderSum6 } from '../../encap/packet/partial-checksum6.js';
import { parseIpv6 } from '../../core/ipv6.js';

/** The 16 bytes of an IPv6 address in text. */
export function ipv6Bytes(text: string): Uint8Array {
  const ip = parseIpv6(text);
  if (ip === undefined) throw new Error(`not an IPv6 address: ${text}`);
  return Uint8Array.from(Buffer.from(ip.toString(16).padStart(32, '0'), 'hex'));
}

/** A UDP-in-IPv6 packet with a complete checksum and hop limit `hops`. */
export function makeUdp6(src: string, dst: string, payload: Uint8Array, hops = 64): Uint8Array {
  const b = new Uint8Array(48 + payload.length);
  b[0] = 0x60;
  writeU16(b, 4, 8 + payload.length);
  b[6] = 17;
  b[7] = hops;
  b.set(ipv6Bytes(src), 8);
  b.set(ipv6Bytes(dst), 24);
  writeU16(b, 40, 40000);
  writeU16(b, 42, 5201);
  writeU16(b, 44, 8 + payload.length);
  b.set(payload, 48);
  writeU16(b, 46, checksum(b, 40, 8 + payload.length, pseudoHeaderSum6(b, 0, 17, 8 + payload.length)));
  return b;
}
