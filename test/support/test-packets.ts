/** Builders of well-formed packets for the packet and datapath tests (reference checksums, no shortcuts). */
import { checksum, pseudoHeaderSum, writeU16, writeU32 } from '../../encap/packet/checksum.js';
import { PROTO_TCP, PROTO_UDP } from '../../encap/packet/ipv4-packet.js';

export interface Tcp4Spec {
  src: number;
  dst: number;
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: Uint8Array;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  tos?: number;
  df?: boolean;
}

export function makeTcp4(s: Tcp4Spec): Uint8Array {
  const opts = s.options ?? new Uint8Array(0);
  const doff = 20 + opts.length;
  const len = 20 + doff + s.payload.length;
  const b = new Uint8Array(len);
  b[0] = 0x45;
  b[1] = s.tos ?? 0;
  writeU16(b, 2, len);
  writeU16(b, 4, s.id ?? 0x1234);
  writeU16(b, 6, s.df === false ? 0 : 0x4000);
  b[8] = s.ttl ?? 64;
  b[9] = PROTO_TCP;
  writeU32(b, 12, s.src);
  writeU32(b, 16, s.dst);
  writeU16(b, 10, checksum(b, 0, 20));
  writeU16(b, 20, s.sport ?? 40000);
  writeU16(b, 22, s.dport ?? 5201);
  writeU32(b, 24, s.seq ?? 1000);
  writeU32(b, 28, s.ack ?? 77);
  b[32] = (doff / 4) << 4;
  b[33] = s.flags ?? 0x10;
  writeU16(b, 34, s.window ?? 502);
  b.set(opts, 40);
  b.set(s.payload, 20 + doff);
  writeU16(
    b,
    36,
    checksum(b, 20, doff + s.payload.length, pseudoHeaderSum(b, 0, PROTO_TCP, doff + s.payload.length)),
  );
  return b;
}

export function makeUdp4(src: number, dst: number, payload: Uint8Array, ttl = 64): Uint8Array {
  const len = 28 + payload.length;
  const b = new Uint8Array(len);
  b[0] = 0x45;
  writeU16(b, 2, len);
  writeU16(b, 6, 0x4000);
  b[8] = ttl;
  b[9] = PROTO_UDP;
  writeU32(b, 12, src);
  writeU32(b, 16, dst);
  writeU16(b, 10, checksum(b, 0, 20));
  writeU16(b, 20, 1234);
  writeU16(b, 22, 5678);
  writeU16(b, 24, 8 + payload.length);
  b.set(payload, 28);
  writeU16(b, 26, checksum(b, 20, 8 + payload.length, pseudoHeaderSum(b, 0, PROTO_UDP, 8 + payload.length)));
  return b;
}

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (Math.random() * 256) | 0;
  return b;
}

/** True when the TCP checksum of the IPv4 packet verifies. */
export function tcpChecksumOk(b: Uint8Array, off = 0): boolean {
  const ihl = (b[off]! & 15) * 4;
  const tlen = ((b[off + 2]! << 8) | b[off + 3]!) - ihl;
  return checksum(b, off + ihl, tlen, pseudoHeaderSum(b, off, PROTO_TCP, tlen)) === 0;
}
