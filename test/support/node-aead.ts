/**
 * Batched ChaCha20-Poly1305 through node:crypto, one call per message: an implementation of the
 * BatchAead contract (WG-DESIGN.md, sys/wg-aead.ts) independent of the native one, so the data
 * plane's tests check bytes against node's OpenSSL rather than against the code under test.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { BatchAead } from '../../encap/udp/wg-dataplane.js';

const nonceOf = (c: bigint): Buffer => {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(c, 4);
  return n;
};

export const nodeAead: BatchAead = {
  sealBatch(keys, keyIdx, counters, slab, off, len, n) {
    for (let i = 0; i < n; i++) {
      const key = keys.subarray(32 * keyIdx[i]!, 32 * keyIdx[i]! + 32);
      const c = createCipheriv('chacha20-poly1305', key, nonceOf(counters[i]!), { authTagLength: 16 });
      const at = off[i]!;
      const ct = c.update(slab.subarray(at, at + len[i]!));
      c.final();
      slab.set(ct, at);
      slab.set(c.getAuthTag(), at + len[i]!);
    }
  },
  openBatch(keys, keyIdx, counters, slab, off, len, ok, n) {
    let good = 0;
    for (let i = 0; i < n; i++) {
      ok[i] = 0;
      const key = keys.subarray(32 * keyIdx[i]!, 32 * keyIdx[i]! + 32);
      const at = off[i]!;
      const body = len[i]! - 16;
      if (body < 0) continue;
      const d = createDecipheriv('chacha20-poly1305', key, nonceOf(counters[i]!), { authTagLength: 16 });
      d.setAuthTag(slab.subarray(at + body, at + body + 16));
      const pt = d.update(slab.subarray(at, at + body));
      try {
        d.final();
      } catch {
        continue;
      }
      slab.set(pt, at);
      ok[i] = 1;
      good++;
    }
    return good;
  },
};
