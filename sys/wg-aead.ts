/**
 * WireGuard's transport AEAD over a batch of messages, in place: ChaCha20-Poly1305 (RFC 8439)
 * with a 96-bit nonce of 4 zero bytes ‖ the 64-bit counter little-endian, and empty associated
 * data (WireGuard paper §5.4.6). `sealBatch`/`openBatch` are one native call per batch against
 * the OpenSSL inside node (sys/native/aead.c); `jsSealBatch`/`jsOpenBatch` are the same contract
 * through node:crypto, one Cipher per message: the reference the native path is tested against,
 * and the per-packet baseline of bench/aead.ts.
 *
 * The batch layout is the engine's: message i is slab[offs[i], offs[i] + lens[i]) with key
 * keys[32·keyIdx[i], 32·keyIdx[i] + 32) and counter counters[i]; `n` messages, n ≤ the length
 * of every per-message array.
 *
 * Contract shared by both implementations:
 * - seal: lens[i] is the plaintext length; it becomes ciphertext in place and its 16-byte tag is
 *   written at offs[i] + lens[i], so each message needs 16 bytes of room after it.
 * - open: lens[i] counts the tag (≥ 16). On a verified tag, ok[i] = 1 and the first lens[i] − 16
 *   bytes are the plaintext; otherwise ok[i] = 0 and those bytes are zeroed (never readable as
 *   plaintext, never the ciphertext either); the tag bytes are left as they were. Returns how many
 *   verified.
 * - A wrong argument (kind of typed array, n < 0 or past an array, a key index outside `keys`, a
 *   range outside the slab: all overflow-safe) throws a TypeError or RangeError naming it, before
 *   any byte changes. An Error with code 'EAEADBATCH' means the batch stopped part-way (OpenSSL
 *   out of memory, or offs/lens/keyIdx in shared memory changed during the call): its message
 *   says which messages were done, and the caller drops the whole batch.
 * - The native calls keep one OpenSSL context per thread, so datapath workers may call them
 *   concurrently on their own batches.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { nativeSys } from './native.js';

export const AEAD_KEY_BYTES = 32;
export const AEAD_TAG_BYTES = 16;

export type SealBatch = (
  keys: Uint8Array,
  keyIdx: Int32Array,
  counters: BigUint64Array,
  slab: Uint8Array,
  offs: Int32Array,
  lens: Int32Array,
  n: number,
) => void;

export type OpenBatch = (
  keys: Uint8Array,
  keyIdx: Int32Array,
  counters: BigUint64Array,
  slab: Uint8Array,
  offs: Int32Array,
  lens: Int32Array,
  ok: Uint8Array,
  n: number,
) => number;

/** Seals n messages in place (native, one call). See the module comment for the contract. */
export const sealBatch: SealBatch = (keys, keyIdx, counters, slab, offs, lens, n) =>
  nativeSys().sealBatch(keys, keyIdx, counters, slab, offs, lens, n);

/** Opens n messages in place (native, one call); returns how many verified. */
export const openBatch: OpenBatch = (keys, keyIdx, counters, slab, offs, lens, ok, n) =>
  nativeSys().openBatch(keys, keyIdx, counters, slab, offs, lens, ok, n);

/** WireGuard's nonce for a counter: 4 zero bytes ‖ counter as little-endian 64. */
export function wgNonce(counter: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt.asUintN(64, counter), 4);
  return nonce;
}

/** seal's range includes the tag after the message; open's lens already do. */
function checkBatch(
  fn: string,
  keys: Uint8Array,
  keyIdx: Int32Array,
  counters: BigUint64Array,
  offs: Int32Array,
  lens: Int32Array,
  slabLen: number,
  n: number,
  extra: number,
  more: number,
): void {
  if (keys.length % AEAD_KEY_BYTES !== 0)
    throw new RangeError(`${fn}: keys must hold whole 32-byte keys, got ${keys.length} bytes`);
  const most = Math.min(keyIdx.length, counters.length, offs.length, lens.length, more);
  if (!Number.isInteger(n) || n < 0 || n > most)
    throw new RangeError(`${fn}: n must be an integer in 0..${most}, got ${n}`);
  const nkeys = keys.length / AEAD_KEY_BYTES;
  for (let i = 0; i < n; i++) {
    const k = keyIdx[i]!;
    if (k < 0 || k >= nkeys) throw new RangeError(`${fn}: keyIdx[${i}] must be 0..${nkeys - 1}, got ${k}`);
    const off = offs[i]!;
    const len = lens[i]!;
    const min = extra === 0 ? AEAD_TAG_BYTES : 0;
    if (off < 0 || len < min || off + len + extra > slabLen)
      throw new RangeError(
        `${fn}: message ${i} (offs ${off}, lens ${len}) is outside the slab of ${slabLen} bytes`,
      );
  }
}

/** sealBatch through node:crypto, one Cipher per message. */
export const jsSealBatch: SealBatch = (keys, keyIdx, counters, slab, offs, lens, n) => {
  checkBatch('jsSealBatch', keys, keyIdx, counters, offs, lens, slab.length, n, AEAD_TAG_BYTES, Infinity);
  for (let i = 0; i < n; i++) {
    const k = keyIdx[i]! * AEAD_KEY_BYTES;
    const off = offs[i]!;
    const len = lens[i]!;
    const c = createCipheriv(
      'chacha20-poly1305',
      keys.subarray(k, k + AEAD_KEY_BYTES),
      wgNonce(counters[i]!),
      {
        authTagLength: AEAD_TAG_BYTES,
      },
    );
    const body = c.update(slab.subarray(off, off + len));
    c.final();
    slab.set(body, off);
    slab.set(c.getAuthTag(), off + len);
  }
};

/** openBatch through node:crypto, one Decipher per message; plaintext is written only once verified. */
export const jsOpenBatch: OpenBatch = (keys, keyIdx, counters, slab, offs, lens, ok, n) => {
  checkBatch('jsOpenBatch', keys, keyIdx, counters, offs, lens, slab.length, n, 0, ok.length);
  let verified = 0;
  for (let i = 0; i < n; i++) {
    const k = keyIdx[i]! * AEAD_KEY_BYTES;
    const off = offs[i]!;
    const body = lens[i]! - AEAD_TAG_BYTES;
    const d = createDecipheriv(
      'chacha20-poly1305',
      keys.subarray(k, k + AEAD_KEY_BYTES),
      wgNonce(counters[i]!),
      {
        authTagLength: AEAD_TAG_BYTES,
      },
    );
    d.setAuthTag(slab.subarray(off + body, off + body + AEAD_TAG_BYTES));
    const plain = d.update(slab.subarray(off, off + body));
    let good = true;
    try {
      d.final();
    } catch {
      good = false; // node:crypto reports a bad tag by throwing from final()
    }
    if (good) slab.set(plain, off);
    else slab.fill(0, off, off + body);
    ok[i] = good ? 1 : 0;
    if (good) verified++;
  }
  return verified;
};
