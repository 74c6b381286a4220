/**
 * The batched AEAD against answers from outside the code under test: RFC 8439's vectors, LibreSSL's
 * ChaCha20-Poly1305 vectors whose nonce starts with 4 zero bytes (WireGuard's form, so the native
 * path takes them unchanged), node:crypto one message at a time, and @noble/ciphers (a separate
 * implementation) on seeded random batches.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { createCipheriv } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { seededRandom, type Rng } from '../test/support/seeded-random.js';
import {
  AEAD_TAG_BYTES,
  jsOpenBatch,
  jsSealBatch,
  openBatch,
  sealBatch,
  wgNonce,
  type OpenBatch,
  type SealBatch,
} from './wg-aead.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A nonce of 4 zero bytes ‖ 8 bytes is WireGuard's: those 8 bytes are the counter, little-endian. */
const counterOf = (nonce: string): bigint => {
  const b = Buffer.from(nonce, 'hex');
  if (b.length !== 12 || b.readUInt32LE(0) !== 0) throw new Error(`${nonce} is not a WireGuard nonce`);
  return b.readBigUInt64LE(4);
};

// RFC 8439 §2.8.2 (key, nonce, AAD, plaintext, ciphertext, tag).
const RFC_2_8_2 = {
  key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
  nonce: '070000004041424344454647',
  aad: '50515253c0c1c2c3c4c5c6c7',
  plain:
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  cipher: `d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b
    1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b6116`,
  tag: '1ae10b594f09e26a7e902ecbd0600691',
};

// RFC 8439 Appendix A.5: its nonce has WireGuard's form. The RFC's tag covers its AAD; with empty
// AAD (WireGuard's) the ciphertext is the same and the tag is LibreSSL's vector below.
const RFC_A5 = {
  key: '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0',
  nonce: '000000000102030405060708',
  plain: `496e7465726e65742d4472616674732061726520647261667420646f63756d656e74732076616c696420666f722061
    206d6178696d756d206f6620736978206d6f6e74687320616e64206d617920626520757064617465642c207265706c61
    6365642c206f72206f62736f6c65746564206279206f7468657220646f63756d656e747320617420616e792074696d65
    2e20497420697320696e617070726f70726961746520746f2075736520496e7465726e65742d447261667473206173
    207265666572656e6365206d6174657269616c206f7220746f2063697465207468656d206f74686572207468616e2061
    73202fe2809c776f726b20696e2070726f67726573732e2fe2809d`,
  cipher: `64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0
    bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
    9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e9
    9040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
    0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130
    305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b`,
  tagWithRfcAad: 'eead9d67890cbb22392336fea1851f38',
};

// LibreSSL's ChaCha20-Poly1305 AEAD vectors with empty AAD and a zero-prefixed nonce
// (key, nonce, plaintext, ciphertext ‖ tag).
const EMPTY_AAD = [
  {
    key: '9a97f65b9b4c721b960a672145fca8d4e32e67f9111ea979ce9c4826806aeee6',
    nonce: '000000003de9c0da2bd7f91e',
    plain: '',
    sealed: '5a6e21f4ba6dbee57380e79e79c30def',
  },
  {
    key: '4290bcb154173531f314af57f3be3b5006da371ece272afa1b5dbdd1100a1007',
    nonce: '00000000cd7cf67be39c794a',
    plain: '86d09974840bded2a5ca',
    sealed: 'e3e446f7ede9a19b62a4dc8dae9a28bb548811461f49f8cec5ae',
  },
  {
    key: RFC_A5.key,
    nonce: RFC_A5.nonce,
    plain: RFC_A5.plain,
    sealed: RFC_A5.cipher + '6e3570b1acaaf1f24f2a644f01acd12b',
  },
];

const IMPLEMENTATIONS: [string, SealBatch, OpenBatch][] = [
  ['native', sealBatch, openBatch],
  ['node:crypto', jsSealBatch, jsOpenBatch],
];

/** A batch laid out like the engine's: messages back to back at odd offsets, each with tag room. */
interface Batch {
  keys: Uint8Array;
  keyIdx: Int32Array;
  counters: BigUint64Array;
  slab: Uint8Array;
  offs: Int32Array;
  lens: Int32Array;
  plain: Uint8Array[];
}

function batchOf(
  messages: Uint8Array[],
  keys: Uint8Array,
  keyIdx: number[],
  counters: bigint[],
  gap = 3,
): Batch {
  const offs = new Int32Array(messages.length);
  let at = gap;
  messages.forEach((m, i) => {
    offs[i] = at;
    at += m.length + AEAD_TAG_BYTES + gap;
  });
  const slab = new Uint8Array(at);
  messages.forEach((m, i) => slab.set(m, offs[i]));
  return {
    keys,
    keyIdx: Int32Array.from(keyIdx),
    counters: BigUint64Array.from(counters),
    slab,
    offs,
    lens: Int32Array.from(messages.map((m) => m.length)),
    plain: messages,
  };
}

const sealedLens = (b: Batch): Int32Array => b.lens.map((l) => l + AEAD_TAG_BYTES);
const sealedAt = (b: Batch, i: number): Uint8Array =>
  b.slab.subarray(b.offs[i]!, b.offs[i]! + b.lens[i]! + AEAD_TAG_BYTES);

describe('known answers', () => {
  it('node:crypto, the reference, gives RFC 8439 §2.8.2 with its nonce and AAD', () => {
    const v = RFC_2_8_2;
    const c = createCipheriv('chacha20-poly1305', hex(v.key), hex(v.nonce), { authTagLength: 16 });
    c.setAAD(hex(v.aad), { plaintextLength: Buffer.byteLength(v.plain) });
    const body = Buffer.concat([c.update(v.plain, 'utf8'), c.final()]);
    expect(toHex(body)).toBe(toHex(hex(v.cipher)));
    expect(toHex(c.getAuthTag())).toBe(v.tag);
  });

  it('wgNonce is 4 zero bytes and the counter little-endian', () => {
    expect(toHex(wgNonce(0x0807060504030201n))).toBe('000000000102030405060708');
    expect(toHex(wgNonce(2n ** 64n - 1n))).toBe('00000000ffffffffffffffff');
  });

  for (const [name, seal, open] of IMPLEMENTATIONS) {
    it(`${name}: seals and opens LibreSSL's empty-AAD vectors (RFC 8439 A.5 among them) as one batch`, () => {
      const b = batchOf(
        EMPTY_AAD.map((v) => hex(v.plain)),
        hex(EMPTY_AAD.map((v) => v.key).join('')),
        [0, 1, 2],
        EMPTY_AAD.map((v) => counterOf(v.nonce)),
      );
      seal(b.keys, b.keyIdx, b.counters, b.slab, b.offs, b.lens, 3);
      EMPTY_AAD.forEach((v, i) => expect(toHex(sealedAt(b, i)), `vector ${i}`).toBe(toHex(hex(v.sealed))));
      const ok = new Uint8Array(3);
      expect(open(b.keys, b.keyIdx, b.counters, b.slab, b.offs, sealedLens(b), ok, 3)).toBe(3);
      expect([...ok]).toEqual([1, 1, 1]);
      EMPTY_AAD.forEach((v, i) =>
        expect(toHex(b.slab.subarray(b.offs[i]!, b.offs[i]! + b.lens[i]!))).toBe(toHex(hex(v.plain))),
      );
    });

    it(`${name}: refuses RFC 8439 A.5 with the RFC's tag, which covers AAD WireGuard does not send`, () => {
      const msg = hex(RFC_A5.cipher + RFC_A5.tagWithRfcAad);
      const b = batchOf([msg], hex(RFC_A5.key), [0], [counterOf(RFC_A5.nonce)]);
      const ok = Uint8Array.of(7);
      expect(open(b.keys, b.keyIdx, b.counters, b.slab, b.offs, Int32Array.of(msg.length), ok, 1)).toBe(0);
      expect(ok[0]).toBe(0);
      const body = b.slab.subarray(b.offs[0]!, b.offs[0]! + msg.length - AEAD_TAG_BYTES);
      expect(body.every((x) => x === 0)).toBe(true); // zeroed, neither plaintext nor ciphertext
      expect(toHex(b.slab.subarray(b.offs[0]! + body.length, b.offs[0]! + msg.length))).toBe(
        RFC_A5.tagWithRfcAad,
      );
    });
  }
});

/** A random batch: keys from a pool, lengths from the engine's sizes and random ones. */
function randomBatch(rng: Rng, count: number): Batch {
  const nkeys = 1 + rng.int(4);
  const sizes = [0, 1, 15, 16, 1420, 65000];
  const messages = Array.from({ length: count }, (_, i) =>
    rng.bytes(i < sizes.length ? sizes[i]! : rng.chance(0.5) ? sizes[rng.int(sizes.length)]! : rng.int(2000)),
  );
  const counter = (): bigint => {
    const near = [0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n];
    return rng.chance(0.3) ? near[rng.int(near.length)]! : (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
  };
  return batchOf(
    messages,
    rng.bytes(32 * nkeys),
    messages.map(() => rng.int(nkeys)),
    messages.map(counter),
    rng.int(8),
  );
}

describe('native against node:crypto and @noble/ciphers on seeded random batches', () => {
  it('seals the same bytes, and opens back to the plaintext', () => {
    const rng = seededRandom();
    for (let round = 0; round < 12; round++) {
      const b = randomBatch(rng, 6 + rng.int(60));
      const n = b.plain.length;
      const viaJs = b.slab.slice();
      sealBatch(b.keys, b.keyIdx, b.counters, b.slab, b.offs, b.lens, n);
      jsSealBatch(b.keys, b.keyIdx, b.counters, viaJs, b.offs, b.lens, n);
      expect(toHex(b.slab) === toHex(viaJs), `round ${round}, ${rng.why}`).toBe(true);
      for (let i = 0; i < n; i += 1 + rng.int(4)) {
        const k = b.keyIdx[i]! * 32;
        const noble = chacha20poly1305(b.keys.subarray(k, k + 32), wgNonce(b.counters[i]!)).encrypt(
          b.plain[i]!,
        );
        expect(toHex(sealedAt(b, i)) === toHex(noble), `message ${i} vs noble, ${rng.why}`).toBe(true);
      }
      const ok = new Uint8Array(n);
      expect(openBatch(b.keys, b.keyIdx, b.counters, b.slab, b.offs, sealedLens(b), ok, n), rng.why).toBe(n);
      expect(
        ok.every((x) => x === 1),
        rng.why,
      ).toBe(true);
      b.plain.forEach((m, i) =>
        expect(
          toHex(b.slab.subarray(b.offs[i]!, b.offs[i]! + m.length)) === toHex(m),
          `${i}, ${rng.why}`,
        ).toBe(true),
      );
    }
  });

  it('a counter is the full 64 bits: 2^64−1 and 2^64−2 differ, and match node:crypto', () => {
    const rng = seededRandom();
    const msg = rng.bytes(64);
    const key = rng.bytes(32);
    const b = batchOf([msg, msg, msg], key, [0, 0, 0], [2n ** 64n - 1n, 2n ** 64n - 2n, 2n ** 63n]);
    const viaJs = b.slab.slice();
    sealBatch(b.keys, b.keyIdx, b.counters, b.slab, b.offs, b.lens, 3);
    jsSealBatch(b.keys, b.keyIdx, b.counters, viaJs, b.offs, b.lens, 3);
    expect(toHex(b.slab)).toBe(toHex(viaJs));
    expect(toHex(sealedAt(b, 0))).not.toBe(toHex(sealedAt(b, 1)));
  });
});

describe('tampering', () => {
  for (const [name, seal, open] of IMPLEMENTATIONS) {
    it(`${name}: a flipped bit in ciphertext or tag, a wrong key or a wrong counter fails that message only`, () => {
      const rng = seededRandom();
      for (let round = 0; round < 8; round++) {
        const b = randomBatch(rng, 8 + rng.int(24));
        const n = b.plain.length;
        seal(b.keys, b.keyIdx, b.counters, b.slab, b.offs, b.lens, n);
        const lens = sealedLens(b);
        const bad = new Set<number>();
        const keyIdx = b.keyIdx.slice();
        const counters = b.counters.slice();
        const keys = new Uint8Array(b.keys.length + 32);
        keys.set(b.keys);
        keys.set(rng.bytes(32), b.keys.length); // a key no message was sealed with
        for (let i = 0; i < n; i++) {
          if (!rng.chance(0.4)) continue;
          bad.add(i);
          const how = rng.int(3);
          if (how === 0) b.slab[b.offs[i]! + rng.int(lens[i]!)]! ^= 1 << rng.int(8);
          else if (how === 1) keyIdx[i] = keys.length / 32 - 1;
          else counters[i] = BigInt.asUintN(64, counters[i]! + 1n);
        }
        const ok = new Uint8Array(n).fill(9);
        expect(open(keys, keyIdx, counters, b.slab, b.offs, lens, ok, n), rng.why).toBe(n - bad.size);
        for (let i = 0; i < n; i++) {
          const body = b.slab.subarray(b.offs[i]!, b.offs[i]! + b.lens[i]!);
          expect(ok[i], `message ${i}, ${rng.why}`).toBe(bad.has(i) ? 0 : 1);
          if (bad.has(i))
            expect(
              body.every((x) => x === 0),
              `message ${i} zeroed, ${rng.why}`,
            ).toBe(true);
          else expect(toHex(body) === toHex(b.plain[i]!), `message ${i}, ${rng.why}`).toBe(true);
        }
      }
    });
  }

  it('native: n = 0 touches nothing and returns 0', () => {
    const slab = Uint8Array.of(1, 2, 3);
    const ok = Uint8Array.of(5);
    const none = new Int32Array(0);
    expect(openBatch(new Uint8Array(0), none, new BigUint64Array(0), slab, none, none, ok, 0)).toBe(0);
    sealBatch(new Uint8Array(0), none, new BigUint64Array(0), slab, none, none, 0);
    expect([...slab, ...ok]).toEqual([1, 2, 3, 5]);
  });
});

describe('threads', () => {
  it('worker threads sealing at once each get their own context (results match node:crypto)', async () => {
    const addon = new URL('../build/Release/overlayd_sys.node', import.meta.url).pathname;
    // Plain JS: a worker does not go through vitest's TypeScript transform.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { createCipheriv, randomBytes } = require('node:crypto');
      const sys = require(workerData.addon);
      let bad = 0;
      for (let round = 0; round < 300; round++) {
        const keys = randomBytes(64), n = 16, len = 200 + round;
        const slab = new Uint8Array(n * (len + 16)), offs = new Int32Array(n), lens = new Int32Array(n).fill(len);
        const keyIdx = new Int32Array(n), counters = new BigUint64Array(n);
        for (let i = 0; i < n; i++) { offs[i] = i * (len + 16); keyIdx[i] = i & 1; counters[i] = BigInt(round * n + i); }
        const plain = randomBytes(slab.length); slab.set(plain);
        sys.sealBatch(keys, keyIdx, counters, slab, offs, lens, n);
        for (let i = 0; i < n; i++) {
          const nonce = Buffer.alloc(12); nonce.writeBigUInt64LE(counters[i], 4);
          const c = createCipheriv('chacha20-poly1305', keys.subarray(32 * keyIdx[i], 32 * keyIdx[i] + 32), nonce, { authTagLength: 16 });
          const want = Buffer.concat([c.update(plain.subarray(offs[i], offs[i] + len)), c.final(), c.getAuthTag()]);
          if (!want.equals(slab.subarray(offs[i], offs[i] + len + 16))) bad++;
        }
      }
      parentPort.postMessage(bad);`;
    const run = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { addon } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
  });
});
