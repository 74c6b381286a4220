/**
 * The WireGuard wire (the WireGuard paper, §5.4): every UDP payload is one message whose first
 * byte is its type and whose next three bytes are zero.
 *
 *   1 handshake initiation (148)  2 handshake response (92)  3 cookie reply (64)
 *   4 transport data (≥ 32):  04 00 00 00 | receiver index (LE32) | counter (LE64) |
 *                             ChaCha20-Poly1305(key, nonce = 0^32 ‖ counter LE64, plaintext, AAD ∅)
 *                             = ciphertext of the padded inner packet ‖ 16-byte tag
 *
 * Types 1–3 belong to the control plane (encap/wireguard/protocol/); this file is what the data
 * path does per packet: the transport header, the padding rule, and the first look at a datagram.
 * Unlike the udp and VXLAN wires the header is per packet (the counter), so the engine calls the
 * framing hooks (wire.ts) instead of copying one header per peer, and sends with scatter-gather off.
 */
import { reasonIndex } from '../counters.js';
import type { PeerEntry } from '../peer-table.js';
import { WIRE_OK, type PacketFraming, type Wire } from './wire.js';

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_TRANSPORT = 4;
export const INITIATION_LEN = 148;
export const RESPONSE_LEN = 92;
export const COOKIE_REPLY_LEN = 64;
export const TRANSPORT_HEADER_LEN = 16;
export const TAG_LEN = 16;
export const TRANSPORT_MIN_LEN = TRANSPORT_HEADER_LEN + TAG_LEN;
/** Padding (≤ 15) and tag (16) after an inner packet. */
export const TRAILER_MAX = 15 + TAG_LEN;

const TRUNCATED = reasonIndex('truncated');
const UNKNOWN_TYPE = reasonIndex('unknown_message_type');

/**
 * Plaintext length of a transport message carrying `len` inner bytes: padded to a multiple of 16
 * but never past the MTU (a full-MTU packet is sent unpadded), as the paper's §6.4 asks and as
 * wireguard-go and the kernel do. An empty packet (a keepalive) stays empty.
 */
export function paddedLength(len: number, mtu: number): number {
  const p = (len + 15) & ~15;
  return p > mtu ? Math.max(len, mtu) : p;
}

/** Writes a type-4 header: receiver index and the 64-bit counter as two 32-bit halves. */
export function writeTransportHeader(
  b: Uint8Array,
  at: number,
  receiver: number,
  lo: number,
  hi: number,
): void {
  b[at] = MSG_TRANSPORT;
  b[at + 1] = 0;
  b[at + 2] = 0;
  b[at + 3] = 0;
  writeLe32(b, at + 4, receiver);
  writeLe32(b, at + 8, lo);
  writeLe32(b, at + 12, hi);
}

export function writeLe32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
}

export function readLe32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/**
 * The message type of a datagram (1–4), or a drop reason: shorter than a type word → truncated,
 * another type or reserved bytes set → unknown_message_type. Lengths are the receiver's to check.
 */
export function messageType(b: Uint8Array, at: number, len: number): number {
  if (len < 4) return -1 - TRUNCATED;
  const t = b[at]!;
  if (t < MSG_INITIATION || t > MSG_TRANSPORT || b[at + 1] !== 0 || b[at + 2] !== 0 || b[at + 3] !== 0)
    return -1 - UNKNOWN_TYPE;
  return t;
}

/** The engine's view of the WireGuard wire; the per-packet work is the framing's (wg-dataplane.ts). */
export class WireguardWire implements Wire {
  readonly headerLen = TRANSPORT_HEADER_LEN;
  /** A WireGuard peer is known by its session, not its address: endpoints roam. */
  readonly senderPortFixed = false;
  /** Every WireGuard sender (kernel, wireguard-go, us) encrypts complete packets. */
  readonly innerChecksumMayBePartial = false;

  constructor(readonly framing: PacketFraming) {}

  encapsulate(_slab: Uint8Array, _at: number, _peer: PeerEntry): void {
    // Never called: with `framing` set the engine frames every packet through it (counter per packet).
    throw new Error('WireguardWire: the engine must frame packets through wire.framing');
  }

  decapsulate(b: Uint8Array, at: number, len: number): number {
    const t = messageType(b, at, len);
    if (t < 0) return -1 - t;
    if (t !== MSG_TRANSPORT) return UNKNOWN_TYPE;
    return len < TRANSPORT_MIN_LEN ? TRUNCATED : WIRE_OK;
  }
}
