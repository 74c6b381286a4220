/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, the handshake of WireGuard (paper §5.4.2–§5.4.5):
 *     <- s
 *     ...
 *     -> e, es, s, ss, {payload}        initiation: WireGuard's payload is the TAI64N timestamp
 *     <- e, ee, se, psk, {payload}      response:   WireGuard's payload is empty
 * with prologue "WireGuard v1 zx2c4 Jason@zx2c4.com" (the paper's Identifier) and, when no
 * preshared key is configured, a psk of 32 zero bytes. The paper writes Noise's MixKey as KDF1/KDF2
 * and MixKeyAndHash(psk) as KDF3, so these functions are exactly Noise's HandshakeState with the
 * payload left to the caller; that is what lets the cacophony test vectors check them.
 *
 * Pure functions over explicit state: the ephemeral key pair is an argument (tests inject it), and
 * every failure is a returned reason, never a throw.
 */
import { aeadOpen, aeadSeal, hash, kdf } from './primitives.js';
import { dh, type KeyPair } from './keys.js';
import type { WgDropReason } from './messages.js';

export const CONSTRUCTION = new TextEncoder().encode('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
export const IDENTIFIER = new TextEncoder().encode('WireGuard v1 zx2c4 Jason@zx2c4.com');
const EMPTY = new Uint8Array(0);
export const ZERO_PSK = new Uint8Array(32);

/** The symmetric state between messages: Noise's chaining key and handshake hash. */
export interface SymmetricState {
  ck: Uint8Array;
  h: Uint8Array;
}

/** Noise's InitializeSymmetric(protocol name) + MixHash(prologue) + MixHash(responder static). */
export function initialState(responderStatic: Uint8Array, prologue: Uint8Array = IDENTIFIER): SymmetricState {
  // The name is 37 bytes, longer than HASHLEN, so Noise hashes it (the paper's Ci := HASH(Construction)).
  const ck = hash(CONSTRUCTION);
  const h = hash(hash(ck, prologue), responderStatic);
  return { ck, h };
}

/** Session keys from Noise's Split(): the initiator sends with `initiatorSend`. */
export interface TransportKeys {
  initiatorSend: Uint8Array;
  responderSend: Uint8Array;
}

function split(ck: Uint8Array): TransportKeys {
  const [initiatorSend, responderSend] = kdf(2, ck, EMPTY) as [Uint8Array, Uint8Array];
  return { initiatorSend, responderSend };
}

/** What the initiator keeps until the response arrives. */
export interface InitiatorHandshake extends SymmetricState {
  local: KeyPair;
  ephemeral: KeyPair;
  remoteStatic: Uint8Array;
}

export interface InitiationParts {
  ephemeral: Uint8Array; // 32
  encryptedStatic: Uint8Array; // 32 + 16
  encryptedPayload: Uint8Array; // payload + 16 (WireGuard: 12 + 16)
}

export type NoiseResult<T> = ({ ok: true } & T) | { ok: false; reason: WgDropReason };

/** -> e, es, s, ss, {payload}. Fails only if the responder's static key is a low-order point. */
export function writeInitiation(opts: {
  local: KeyPair;
  remoteStatic: Uint8Array;
  ephemeral: KeyPair;
  payload: Uint8Array;
  prologue?: Uint8Array;
}): NoiseResult<{ parts: InitiationParts; state: InitiatorHandshake }> {
  let { ck, h } = initialState(opts.remoteStatic, opts.prologue);
  const e = opts.ephemeral.publicKey;
  [ck] = kdf(1, ck, e) as [Uint8Array];
  h = hash(h, e);
  const es = dh(opts.ephemeral.privateKey, opts.remoteStatic);
  if (!es) return { ok: false, reason: 'bad_ephemeral' };
  let k: Uint8Array;
  [ck, k] = kdf(2, ck, es) as [Uint8Array, Uint8Array];
  const encryptedStatic = aeadSeal(k, 0n, opts.local.publicKey, h);
  h = hash(h, encryptedStatic);
  const ss = dh(opts.local.privateKey, opts.remoteStatic);
  if (!ss) return { ok: false, reason: 'bad_ephemeral' };
  [ck, k] = kdf(2, ck, ss) as [Uint8Array, Uint8Array];
  const encryptedPayload = aeadSeal(k, 0n, opts.payload, h);
  h = hash(h, encryptedPayload);
  k.fill(0);
  return {
    ok: true,
    parts: { ephemeral: e, encryptedStatic, encryptedPayload },
    state: { ck, h, local: opts.local, ephemeral: opts.ephemeral, remoteStatic: opts.remoteStatic },
  };
}

/** What the responder learns from an initiation and keeps to answer it. */
export interface ResponderHandshake extends SymmetricState {
  remoteStatic: Uint8Array;
  remoteEphemeral: Uint8Array;
  payload: Uint8Array;
}

/**
 * Reads -> e, es, s, ss, {payload} with our static key. Who the initiator is (remoteStatic) is
 * known only after `s` decrypts; the caller then checks it is a configured peer and the payload's
 * timestamp is fresh before answering.
 */
export function readInitiation(opts: {
  local: KeyPair;
  parts: InitiationParts;
  prologue?: Uint8Array;
  /** Asked once `s` decrypts, before the second DH: false refuses with 'unknown_peer'. */
  isKnownPeer?: (remoteStatic: Uint8Array) => boolean;
}): NoiseResult<{ state: ResponderHandshake }> {
  let { ck, h } = initialState(opts.local.publicKey, opts.prologue);
  const e = opts.parts.ephemeral;
  [ck] = kdf(1, ck, e) as [Uint8Array];
  h = hash(h, e);
  const es = dh(opts.local.privateKey, e);
  if (!es) return { ok: false, reason: 'bad_ephemeral' };
  let k: Uint8Array;
  [ck, k] = kdf(2, ck, es) as [Uint8Array, Uint8Array];
  const remoteStatic = aeadOpen(k, 0n, opts.parts.encryptedStatic, h);
  if (!remoteStatic || remoteStatic.length !== 32) return { ok: false, reason: 'bad_static' };
  if (opts.isKnownPeer && !opts.isKnownPeer(remoteStatic)) return { ok: false, reason: 'unknown_peer' };
  h = hash(h, opts.parts.encryptedStatic);
  const ss = dh(opts.local.privateKey, remoteStatic);
  if (!ss) return { ok: false, reason: 'bad_static' };
  [ck, k] = kdf(2, ck, ss) as [Uint8Array, Uint8Array];
  const payload = aeadOpen(k, 0n, opts.parts.encryptedPayload, h);
  if (!payload) return { ok: false, reason: 'bad_timestamp' };
  h = hash(h, opts.parts.encryptedPayload);
  k.fill(0);
  return { ok: true, state: { ck, h, remoteStatic, remoteEphemeral: Uint8Array.from(e), payload } };
}

export interface ResponseParts {
  ephemeral: Uint8Array; // 32
  encryptedPayload: Uint8Array; // payload + 16 (WireGuard: 0 + 16)
}

/** <- e, ee, se, psk, {payload}; then Split(). */
export function writeResponse(opts: {
  state: ResponderHandshake;
  ephemeral: KeyPair;
  psk: Uint8Array;
  payload?: Uint8Array;
}): NoiseResult<{ parts: ResponseParts; keys: TransportKeys; h: Uint8Array }> {
  let { ck, h } = opts.state;
  const e = opts.ephemeral.publicKey;
  [ck] = kdf(1, ck, e) as [Uint8Array];
  h = hash(h, e);
  const ee = dh(opts.ephemeral.privateKey, opts.state.remoteEphemeral);
  const se = dh(opts.ephemeral.privateKey, opts.state.remoteStatic);
  if (!ee || !se) return { ok: false, reason: 'bad_ephemeral' };
  [ck] = kdf(1, ck, ee) as [Uint8Array];
  [ck] = kdf(1, ck, se) as [Uint8Array];
  let tau: Uint8Array;
  let k: Uint8Array;
  [ck, tau, k] = kdf(3, ck, opts.psk) as [Uint8Array, Uint8Array, Uint8Array];
  h = hash(h, tau);
  const encryptedPayload = aeadSeal(k, 0n, opts.payload ?? EMPTY, h);
  h = hash(h, encryptedPayload);
  const keys = split(ck);
  for (const b of [ck, tau, k]) b.fill(0);
  return { ok: true, parts: { ephemeral: e, encryptedPayload }, keys, h };
}

/** Reads <- e, ee, se, psk, {payload} as the initiator; then Split(). */
export function readResponse(opts: {
  state: InitiatorHandshake;
  parts: ResponseParts;
  psk: Uint8Array;
}): NoiseResult<{ payload: Uint8Array; keys: TransportKeys; h: Uint8Array }> {
  let { ck, h } = opts.state;
  const e = opts.parts.ephemeral;
  [ck] = kdf(1, ck, e) as [Uint8Array];
  h = hash(h, e);
  const ee = dh(opts.state.ephemeral.privateKey, e);
  const se = dh(opts.state.local.privateKey, e);
  if (!ee || !se) return { ok: false, reason: 'bad_ephemeral' };
  [ck] = kdf(1, ck, ee) as [Uint8Array];
  [ck] = kdf(1, ck, se) as [Uint8Array];
  let tau: Uint8Array;
  let k: Uint8Array;
  [ck, tau, k] = kdf(3, ck, opts.psk) as [Uint8Array, Uint8Array, Uint8Array];
  h = hash(h, tau);
  const payload = aeadOpen(k, 0n, opts.parts.encryptedPayload, h);
  if (!payload) return { ok: false, reason: 'bad_response' };
  h = hash(h, opts.parts.encryptedPayload);
  const keys = split(ck);
  for (const b of [ck, tau, k]) b.fill(0);
  return { ok: true, payload, keys, h };
}
