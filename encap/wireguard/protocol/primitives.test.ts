/**
 * Each primitive against its standard's own known answers, so a wrong library call (nonce layout,
 * digest length, key handling) fails here before it can fail a handshake:
 *   BLAKE2s-256      RFC 7693 Appendix B ("abc")
 *   keyed BLAKE2s    the BLAKE2 reference KAT (blake2s-kat.txt: key 00..1f, inputs "" and 00)
 *   keyed BLAKE2s-128 (MAC) values from CPython's hashlib.blake2s (the BLAKE2 reference code),
 *                    printed with digest_size=16 (no RFC lists a 128-bit keyed digest)
 *   ChaCha20-Poly1305 RFC 8439 Appendix A.5, whose nonce 00000000‖0102030405060708 is exactly
 *                    WireGuard's layout (4 zero bytes ‖ counter LE64) with counter 0x0807060504030201
 *   XChaCha20-Poly1305 draft-irtf-cfrg-xchacha-03 Appendix A.3.1
 */
import { describe, expect, it } from 'vitest';
import { blake2s } from '@noble/hashes/blake2.js';
import { aeadOpen, aeadSeal, hash, kdf, hmac, mac, xaeadOpen, xaeadSeal } from './primitives.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

describe('BLAKE2s', () => {
  it('HASH is BLAKE2s-256 (RFC 7693 Appendix B)', () => {
    expect(toHex(hash(new TextEncoder().encode('abc')))).toBe(
      '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    );
  });

  it('hashes the concatenation of its parts', () => {
    expect(toHex(hash(hex('6162'), hex('63')))).toBe(toHex(hash(hex('616263'))));
  });

  it('keyed BLAKE2s-256 of the library MAC uses matches the reference KAT', () => {
    expect(toHex(blake2s(new Uint8Array(0), { key: seq(32) }))).toBe(
      '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49',
    );
    expect(toHex(blake2s(hex('00'), { key: seq(32) }))).toBe(
      '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1',
    );
  });

  it('MAC is keyed BLAKE2s with a 16-byte digest (not a truncated 32-byte one)', () => {
    expect(toHex(mac(seq(32), new Uint8Array(0)))).toBe('9536f9b267655743dee97b8a670f9f53');
    expect(toHex(mac(seq(32), seq(64)))).toBe('f1efa90d2547036841ecd3627fafbc36');
    // Cookies are 16-byte keys (mac2 = MAC(cookie, ...)).
    expect(toHex(mac(seq(16), new TextEncoder().encode('abc')))).toBe('75296c2d2c0f51210b383f386bc8b1ff');
  });

  it('KDF_n chains HMAC as the paper writes it', () => {
    const key = seq(32);
    const input = hex('0102');
    const t0 = hmac(key, input);
    const t1 = hmac(t0, hex('01'));
    const t2 = hmac(t0, t1, hex('02'));
    const t3 = hmac(t0, t2, hex('03'));
    expect(kdf(3, key, input).map(toHex)).toEqual([t1, t2, t3].map(toHex));
    expect(kdf(1, key, input).map(toHex)).toEqual([toHex(t1)]);
  });
});

describe('ChaCha20-Poly1305 (RFC 8439 A.5)', () => {
  const key = hex('1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0');
  const counter = 0x0807060504030201n;
  const aad = hex('f33388860000000000004e91');
  const sealed = hex(`
    64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2
    4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf
    332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
    9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4
    b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e
    af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
    0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10
    49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29
    a6ad5cb4022b02709b eead9d67890cbb22392336fea1851f38`);
  const plain = hex(`
    496e7465726e65742d4472616674732061726520647261667420646f63756d65
    6e74732076616c696420666f722061206d6178696d756d206f6620736978206d
    6f6e74687320616e64206d617920626520757064617465642c207265706c6163
    65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65
    6e747320617420616e792074696d652e20497420697320696e617070726f7072
    6961746520746f2075736520496e7465726e65742d4472616674732061732072
    65666572656e6365206d6174657269616c206f7220746f206369746520746865
    6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67
    726573732e2fe2809d`);

  it('opens the RFC ciphertext and seals the plaintext back to it', () => {
    expect(toHex(aeadOpen(key, counter, sealed, aad)!)).toBe(toHex(plain));
    expect(toHex(aeadSeal(key, counter, plain, aad))).toBe(toHex(sealed));
  });

  it('refuses a flipped bit anywhere, a wrong counter, a wrong aad, a short input', () => {
    for (const at of [0, 100, sealed.length - 17, sealed.length - 1]) {
      const bad = Uint8Array.from(sealed);
      bad[at]! ^= 0x01;
      expect(aeadOpen(key, counter, bad, aad)).toBeUndefined();
    }
    expect(aeadOpen(key, counter + 1n, sealed, aad)).toBeUndefined();
    expect(aeadOpen(key, counter, sealed, hex('00'))).toBeUndefined();
    expect(aeadOpen(key, counter, sealed.subarray(0, 15), aad)).toBeUndefined();
  });
});

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 A.3.1)', () => {
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plain = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = hex(`
    bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
    731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
    2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
    21f9664c97637da9768812f615c68b13b52e c0875924c1c7987947deafd8780acf49`);

  it('seals to the draft bytes and opens them', () => {
    expect(toHex(xaeadSeal(key, nonce, plain, aad))).toBe(toHex(sealed));
    expect(toHex(xaeadOpen(key, nonce, sealed, aad)!)).toBe(toHex(plain));
  });

  it('refuses a tampered tag', () => {
    const bad = Uint8Array.from(sealed);
    bad[bad.length - 1]! ^= 0x80;
    expect(xaeadOpen(key, nonce, bad, aad)).toBeUndefined();
  });
});
