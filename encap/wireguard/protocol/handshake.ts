/**
 * WireGuard's handshake messages as bytes: Noise_IKpsk2 (noise.ts) with the payloads WireGuard
 * puts in it (a TAI64N timestamp, then nothing), framed by messages.ts and signed by macs.ts.
 * MAC checks on receive stay with the caller (control.ts), which knows whether it is under load.
 */
import type { KeyPair } from './keys.js';
import type { MacSender } from './macs.js';
import {
  encodeInitiation,
  encodeResponse,
  type Initiation,
  type Response,
  type WgDropReason,
} from './messages.js';
import {
  readInitiation,
  readResponse,
  writeInitiation,
  writeResponse,
  type InitiatorHandshake,
  type ResponderHandshake,
  type TransportKeys,
} from './noise.js';
import { TAI64N_BYTES } from './tai64n.js';

const ZERO16 = new Uint8Array(16);

export type Result<T> = ({ ok: true } & T) | { ok: false; reason: WgDropReason };

/** Message 1, mac1/mac2 filled by `macs`. */
export function createInitiation(opts: {
  local: KeyPair;
  peerPublicKey: Uint8Array;
  ephemeral: KeyPair;
  timestamp: Uint8Array;
  sender: number;
  macs: MacSender;
  nowMs: number;
}): Result<{ bytes: Uint8Array; state: InitiatorHandshake }> {
  const w = writeInitiation({
    local: opts.local,
    remoteStatic: opts.peerPublicKey,
    ephemeral: opts.ephemeral,
    payload: opts.timestamp,
  });
  if (!w.ok) return w;
  const bytes = encodeInitiation({
    sender: opts.sender,
    ephemeral: w.parts.ephemeral,
    encryptedStatic: w.parts.encryptedStatic,
    encryptedTimestamp: w.parts.encryptedPayload,
    mac1: ZERO16,
    mac2: ZERO16,
  });
  opts.macs.sign(bytes, opts.nowMs);
  return { ok: true, bytes, state: w.state };
}

/** Decrypts message 1 (its MACs already checked): who sent it and when it says it did. */
export function consumeInitiation(opts: {
  local: KeyPair;
  msg: Initiation;
  isKnownPeer: (publicKey: Uint8Array) => boolean;
}): Result<{ state: ResponderHandshake; peerPublicKey: Uint8Array; timestamp: Uint8Array }> {
  const r = readInitiation({
    local: opts.local,
    parts: {
      ephemeral: opts.msg.ephemeral,
      encryptedStatic: opts.msg.encryptedStatic,
      encryptedPayload: opts.msg.encryptedTimestamp,
    },
    isKnownPeer: opts.isKnownPeer,
  });
  if (!r.ok) return r;
  if (r.state.payload.length !== TAI64N_BYTES) return { ok: false, reason: 'bad_timestamp' };
  return { ok: true, state: r.state, peerPublicKey: r.state.remoteStatic, timestamp: r.state.payload };
}

/** Message 2 answering `state`, and the session keys it creates (responder: send = responderSend). */
export function createResponse(opts: {
  state: ResponderHandshake;
  ephemeral: KeyPair;
  psk: Uint8Array;
  sender: number;
  receiver: number;
  macs: MacSender;
  nowMs: number;
}): Result<{ bytes: Uint8Array; keys: TransportKeys }> {
  const w = writeResponse({ state: opts.state, ephemeral: opts.ephemeral, psk: opts.psk });
  if (!w.ok) return w;
  const bytes = encodeResponse({
    sender: opts.sender,
    receiver: opts.receiver,
    ephemeral: w.parts.ephemeral,
    encryptedNothing: w.parts.encryptedPayload,
    mac1: ZERO16,
    mac2: ZERO16,
  });
  opts.macs.sign(bytes, opts.nowMs);
  return { ok: true, bytes, keys: w.keys };
}

/** Reads message 2 (MACs already checked) as the initiator of `state`. */
export function consumeResponse(opts: {
  state: InitiatorHandshake;
  msg: Response;
  psk: Uint8Array;
}): Result<{ keys: TransportKeys }> {
  const r = readResponse({
    state: opts.state,
    parts: { ephemeral: opts.msg.ephemeral, encryptedPayload: opts.msg.encryptedNothing },
    psk: opts.psk,
  });
  if (!r.ok) return r;
  if (r.payload.length !== 0) return { ok: false, reason: 'bad_response' };
  return { ok: true, keys: r.keys };
}
