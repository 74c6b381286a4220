/**
 * WireGuard's four messages (paper §5.4), all little-endian, each opening with a 32-bit type whose
 * upper three bytes are zero ("reserved"):
 *   1 initiation   148 B  type, sender, ephemeral 32, static 32+16, timestamp 12+16, mac1, mac2
 *   2 response      92 B  type, sender, receiver, ephemeral 32, empty 0+16, mac1, mac2
 *   3 cookie reply  64 B  type, receiver, nonce 24, cookie 16+16
 *   4 transport   ≥ 32 B  type, receiver, counter 64, packet (padded to 16) + 16
 * Decoders never throw on wire input: they return a drop reason, and their fields are views into
 * the datagram (no copies), valid as long as the caller keeps the bytes unchanged.
 */
export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_TRANSPORT = 4;

export const INITIATION_BYTES = 148;
export const RESPONSE_BYTES = 92;
export const COOKIE_REPLY_BYTES = 64;
export const TRANSPORT_HEADER_BYTES = 16;
/** The smallest transport message: a keepalive (empty packet, tag only). */
export const TRANSPORT_MIN_BYTES = TRANSPORT_HEADER_BYTES + 16;
/** Inner packets are zero-padded to a multiple of this before sealing (paper §5.4.6). */
export const TRANSPORT_PADDING = 16;

/** Why a received message was refused; the caller counts them by this name. */
export type WgDropReason =
  | 'truncated' // shorter than its type's size
  | 'bad_length' // a handshake message of the wrong size
  | 'unknown_type' // type not 1–4, or reserved bytes not zero
  | 'bad_mac1' // MAC1 is not ours: not meant for this interface, or altered
  | 'bad_mac2' // MAC2 present but wrong while we demand it
  | 'cookie_sent' // under load without a valid MAC2: answered with a cookie reply instead
  | 'bad_ephemeral' // the ephemeral key is a low-order point (DH result all zeros)
  | 'bad_static' // the encrypted static key does not decrypt
  | 'unknown_peer' // the static key decrypts but belongs to no configured peer
  | 'bad_timestamp' // the encrypted timestamp does not decrypt
  | 'replayed_initiation' // timestamp not newer than the greatest seen from this peer
  | 'initiation_flood' // a peer's initiations arrive faster than the rate limit
  | 'unknown_receiver' // a response or cookie reply for no handshake of ours
  | 'bad_response' // the response's empty payload does not authenticate
  | 'bad_cookie'; // the cookie reply does not decrypt

export type Decoded<T> = { ok: true; msg: T } | { ok: false; reason: WgDropReason };

export interface Initiation {
  sender: number;
  ephemeral: Uint8Array; // 32
  encryptedStatic: Uint8Array; // 48
  encryptedTimestamp: Uint8Array; // 28
  mac1: Uint8Array; // 16
  mac2: Uint8Array; // 16
}

export interface Response {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array; // 32
  encryptedNothing: Uint8Array; // 16
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface CookieReply {
  receiver: number;
  nonce: Uint8Array; // 24
  encryptedCookie: Uint8Array; // 32
}

export interface TransportHeader {
  receiver: number;
  counter: bigint;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The message type of a datagram, or undefined if it is none of WireGuard's (reserved ≠ 0). */
export function messageType(b: Uint8Array): number | undefined {
  if (b.length < 4) return undefined;
  const t = view(b).getUint32(0, true);
  return t >= MSG_INITIATION && t <= MSG_TRANSPORT ? t : undefined;
}

function checkFixed(b: Uint8Array, type: number, size: number): WgDropReason | undefined {
  if (b.length < 4) return 'truncated';
  if (view(b).getUint32(0, true) !== type) return 'unknown_type';
  if (b.length < size) return 'truncated';
  if (b.length > size) return 'bad_length';
  return undefined;
}

function put(out: Uint8Array, at: number, field: Uint8Array, len: number, name: string): void {
  if (field.length !== len) throw new RangeError(`${name} must be ${len} bytes, got ${field.length}`);
  out.set(field, at);
}

export function encodeInitiation(m: Initiation): Uint8Array {
  const out = new Uint8Array(INITIATION_BYTES);
  const v = view(out);
  v.setUint32(0, MSG_INITIATION, true);
  v.setUint32(4, m.sender >>> 0, true);
  put(out, 8, m.ephemeral, 32, 'ephemeral');
  put(out, 40, m.encryptedStatic, 48, 'encryptedStatic');
  put(out, 88, m.encryptedTimestamp, 28, 'encryptedTimestamp');
  put(out, 116, m.mac1, 16, 'mac1');
  put(out, 132, m.mac2, 16, 'mac2');
  return out;
}

export function decodeInitiation(b: Uint8Array): Decoded<Initiation> {
  const bad = checkFixed(b, MSG_INITIATION, INITIATION_BYTES);
  if (bad) return { ok: false, reason: bad };
  return {
    ok: true,
    msg: {
      sender: view(b).getUint32(4, true),
      ephemeral: b.subarray(8, 40),
      encryptedStatic: b.subarray(40, 88),
      encryptedTimestamp: b.subarray(88, 116),
      mac1: b.subarray(116, 132),
      mac2: b.subarray(132, 148),
    },
  };
}

export function encodeResponse(m: Response): Uint8Array {
  const out = new Uint8Array(RESPONSE_BYTES);
  const v = view(out);
  v.setUint32(0, MSG_RESPONSE, true);
  v.setUint32(4, m.sender >>> 0, true);
  v.setUint32(8, m.receiver >>> 0, true);
  put(out, 12, m.ephemeral, 32, 'ephemeral');
  put(out, 44, m.encryptedNothing, 16, 'encryptedNothing');
  put(out, 60, m.mac1, 16, 'mac1');
  put(out, 76, m.mac2, 16, 'mac2');
  return out;
}

export function decodeResponse(b: Uint8Array): Decoded<Response> {
  const bad = checkFixed(b, MSG_RESPONSE, RESPONSE_BYTES);
  if (bad) return { ok: false, reason: bad };
  const v = view(b);
  return {
    ok: true,
    msg: {
      sender: v.getUint32(4, true),
      receiver: v.getUint32(8, true),
      ephemeral: b.subarray(12, 44),
      encryptedNothing: b.subarray(44, 60),
      mac1: b.subarray(60, 76),
      mac2: b.subarray(76, 92),
    },
  };
}

export function encodeCookieReply(m: CookieReply): Uint8Array {
  const out = new Uint8Array(COOKIE_REPLY_BYTES);
  const v = view(out);
  v.setUint32(0, MSG_COOKIE_REPLY, true);
  v.setUint32(4, m.receiver >>> 0, true);
  put(out, 8, m.nonce, 24, 'nonce');
  put(out, 32, m.encryptedCookie, 32, 'encryptedCookie');
  return out;
}

export function decodeCookieReply(b: Uint8Array): Decoded<CookieReply> {
  const bad = checkFixed(b, MSG_COOKIE_REPLY, COOKIE_REPLY_BYTES);
  if (bad) return { ok: false, reason: bad };
  return {
    ok: true,
    msg: {
      receiver: view(b).getUint32(4, true),
      nonce: b.subarray(8, 32),
      encryptedCookie: b.subarray(32, 64),
    },
  };
}

/** Writes a transport header at `at` (the datapath seals the packet after it in place). */
export function writeTransportHeader(out: Uint8Array, at: number, h: TransportHeader): void {
  const v = new DataView(out.buffer, out.byteOffset + at, TRANSPORT_HEADER_BYTES);
  v.setUint32(0, MSG_TRANSPORT, true);
  v.setUint32(4, h.receiver >>> 0, true);
  v.setBigUint64(8, h.counter, true);
}

export function decodeTransportHeader(b: Uint8Array): Decoded<TransportHeader> {
  if (b.length < 4) return { ok: false, reason: 'truncated' };
  const v = view(b);
  if (v.getUint32(0, true) !== MSG_TRANSPORT) return { ok: false, reason: 'unknown_type' };
  if (b.length < TRANSPORT_MIN_BYTES) return { ok: false, reason: 'truncated' };
  return { ok: true, msg: { receiver: v.getUint32(4, true), counter: v.getBigUint64(8, true) } };
}

/** The padded length of an inner packet of `len` bytes, capped at `mtu` (paper §5.4.6). */
export function paddedLength(len: number, mtu: number): number {
  const padded = Math.ceil(len / TRANSPORT_PADDING) * TRANSPORT_PADDING;
  return Math.max(len, Math.min(padded, mtu));
}
