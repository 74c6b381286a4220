/**
 * Curve25519 keys as WireGuard handles them: raw 32-byte strings, written as base64 (44 characters,
 * as `wg genkey` prints them). X25519 itself is node:crypto's; raw keys enter it through JWK
 * (base64url "d"/"x"), so no DER is assembled by hand.
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { OverlaydError } from '../../../core/errors.js';

export const KEY_BYTES = 32;

/** A static or ephemeral key pair: the raw private scalar and its public point. */
export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/**
 * RFC 8410 §7's PKCS#8 wrapping of an X25519 private key is a fixed 16-byte prefix before the raw
 * scalar (SEQUENCE { version 0, AlgorithmIdentifier { 1.3.101.110 }, OCTET STRING { OCTET STRING
 * (32) } }). A private JWK would need "x" (the public key) up front, which is what we want node to
 * compute, so private keys enter through DER and public keys through JWK.
 */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_BYTES)
    throw new RangeError(`X25519 private key must be 32 bytes, got ${raw.length}`);
  // RFC 7748 §5: clamping is part of X25519, so any 32 bytes are a valid scalar.
  return createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
}

function jwkPublic(key: KeyObject): Uint8Array {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('node:crypto exported an X25519 key without "x"');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/** The public key of a raw private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return jwkPublic(createPublicKey(privateKeyObject(privateKey)));
}

/** A key pair from a raw private key. */
export function keyPairFrom(privateKey: Uint8Array): KeyPair {
  return { privateKey: Uint8Array.from(privateKey), publicKey: publicKeyOf(privateKey) };
}

/** A fresh key pair from `random` (injected so handshakes are reproducible in tests). */
export function generateKeyPair(random: (n: number) => Uint8Array): KeyPair {
  const priv = random(KEY_BYTES);
  if (priv.length !== KEY_BYTES) throw new RangeError('random(32) returned the wrong length');
  return keyPairFrom(priv);
}

/**
 * X25519(privateKey, publicKey), or undefined when the result is all zeros (the peer sent a
 * low-order point: the paper requires rejecting it, and OpenSSL refuses to derive it).
 */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  if (publicKey.length !== KEY_BYTES) return undefined;
  const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' });
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: pub });
  } catch {
    return undefined;
  }
  return out.every((b) => b === 0) ? undefined : new Uint8Array(out);
}

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/**
 * A base64 key as `wg` writes them (32 bytes → 44 characters ending in "="). `field` names where the
 * key came from, so the one-line error says what to fix.
 */
export function parseKey(text: string, field: string): Uint8Array {
  const t = text.trim();
  if (!BASE64_KEY.test(t))
    throw new OverlaydError(
      'BAD_CONFIG',
      `${field}: not a WireGuard key (want 44 base64 characters encoding 32 bytes, as \`wg genkey\` prints; got ${t.length} characters)`,
    );
  return new Uint8Array(Buffer.from(t, 'base64'));
}

/** The base64 text of a 32-byte key. */
export function formatKey(key: Uint8Array): string {
  if (key.length !== KEY_BYTES) throw new RangeError(`key must be 32 bytes, got ${key.length}`);
  return Buffer.from(key).toString('base64');
}
