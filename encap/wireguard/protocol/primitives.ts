/**
 * The WireGuard paper's primitives (§5.4), each a thin call into a vetted implementation:
 *   HASH      BLAKE2s-256                      node:crypto 'blake2s256'
 *   HMAC      HMAC-BLAKE2s-256 (RFC 2104)      node:crypto createHmac('blake2s256')
 *   KDF1..3   HKDF with that HMAC (paper §5.4) built from HMAC, as Noise's HKDF
 *   MAC       keyed BLAKE2s-128                @noble/hashes (node cannot key BLAKE2s)
 *   AEAD      ChaCha20-Poly1305, 96-bit nonce = 4 zero bytes ‖ counter LE64 (RFC 8439) node:crypto
 *   XAEAD     XChaCha20-Poly1305, 192-bit nonce @noble/ciphers (node lacks it)
 * Nothing here is a primitive of our own; this file only fixes how WireGuard calls them.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export const HASH_LEN = 32;
export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const MAC_LEN = 16;

/** HASH(parts[0] ‖ parts[1] ‖ ...): BLAKE2s-256. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HMAC-BLAKE2s-256(key, parts...). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** KDF_n(key, input) of the paper: τ0 = HMAC(key, input), τi = HMAC(τ0, τ(i−1) ‖ i). */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const t0 = hmac(key, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    prev = hmac(t0, prev, Uint8Array.of(i));
    out.push(prev);
  }
  t0.fill(0);
  return out;
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte digest (MAC1 keys are 32 bytes, cookies 16). */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: MAC_LEN });
}

function nonce96(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 4);
  return n;
}

/** AEAD(key, counter, plaintext, aad) → ciphertext ‖ 16-byte tag. */
export function aeadSeal(
  key: Uint8Array,
  counter: bigint,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce96(counter), { authTagLength: TAG_LEN });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  const out = new Uint8Array(body.length + TAG_LEN);
  out.set(body, 0);
  out.set(c.getAuthTag(), body.length);
  return out;
}

/** The inverse of aeadSeal; undefined when the tag does not verify (never throws on bad input). */
export function aeadOpen(
  key: Uint8Array,
  counter: bigint,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < TAG_LEN) return undefined;
  const bodyLen = sealed.length - TAG_LEN;
  const d = createDecipheriv('chacha20-poly1305', key, nonce96(counter), { authTagLength: TAG_LEN });
  d.setAAD(aad, { plaintextLength: bodyLen });
  d.setAuthTag(sealed.subarray(bodyLen));
  const body = d.update(sealed.subarray(0, bodyLen));
  try {
    d.final();
  } catch {
    body.fill(0);
    return undefined;
  }
  return new Uint8Array(body);
}

/** XAEAD(key, 24-byte nonce, plaintext, aad) → ciphertext ‖ tag (cookie replies). */
export function xaeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** The inverse of xaeadSeal; undefined when the tag does not verify. */
export function xaeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < TAG_LEN) return undefined;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

/** Constant-time equality of two byte strings (lengths are public). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
