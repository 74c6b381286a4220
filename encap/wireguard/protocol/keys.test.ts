/** X25519 through node:crypto against RFC 7748, and the base64 key text `wg` uses. */
import { describe, expect, it } from 'vitest';
import { dh, formatKey, generateKeyPair, keyPairFrom, parseKey, publicKeyOf } from './keys.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('X25519 (RFC 7748)', () => {
  it('§5.2 first vector: scalar × u-coordinate', () => {
    // X25519 of an arbitrary point: only DH takes one, so read it as a "public key".
    const out = dh(
      hex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'),
      hex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'),
    );
    expect(toHex(out!)).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
  });

  it('§6.1 Alice and Bob: public keys and the shared secret both ways', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const alicePub = publicKeyOf(alice);
    const bobPub = publicKeyOf(bob);
    expect(toHex(alicePub)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(bobPub)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(dh(alice, bobPub)!)).toBe(k);
    expect(toHex(dh(bob, alicePub)!)).toBe(k);
  });

  it('refuses low-order points (all-zero result) instead of deriving zeros', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    expect(dh(alice, new Uint8Array(32))).toBeUndefined();
    expect(dh(alice, hex('01'.padEnd(64, '0')))).toBeUndefined(); // u = 1, order 4
    expect(dh(alice, new Uint8Array(31))).toBeUndefined();
  });

  it('generates a key pair from the injected random source', () => {
    const fixed = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const kp = generateKeyPair(() => Uint8Array.from(fixed));
    expect(toHex(kp.publicKey)).toBe(toHex(keyPairFrom(fixed).publicKey));
  });
});

describe('base64 keys', () => {
  it('round-trips the text `wg` prints', () => {
    const text = 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=';
    const key = parseKey(`${text}\n`, 'PublicKey');
    expect(toHex(key)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(formatKey(key)).toBe(text);
  });

  it('refuses bad text with one line naming the field', () => {
    for (const bad of [
      '',
      'abc',
      'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=',
      'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=',
    ]) {
      expect(() => parseKey(bad, 'PSK')).toThrow(/^PSK: not a WireGuard key \(want 44 base64/);
    }
    try {
      parseKey('nope', 'PSK');
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('\n');
    }
  });
});
