/**
 * route-table.ts for IPv6 destinations: longest-prefix match of an inner destination (four words
 * in a packet) to a peer. One bucket map per prefix length present, tried from the longest; a
 * bucket is keyed by a 32-bit mix of the masked words and holds a short chain compared word by
 * word, so a lookup allocates nothing and makes no bigint. flannel gives every node a subnet of
 * one length (SubnetLenIPv6, /64 by default), so a lookup is normally one map probe.
 */
import { maskWord6 } from '../../core/ipv6-words.js';
import { word6 } from '../packet/ipv6-packet.js';

interface Route6<T> {
  readonly net: Uint32Array;
  readonly value: T;
  readonly next: Route6<T> | undefined;
}

interface Level<T> {
  readonly len: number;
  readonly mask: Uint32Array;
  readonly buckets: Map<number, Route6<T>>;
}

/** A 32-bit key of masked words (collisions are resolved by the chain). */
const keyOf = (w0: number, w1: number, w2: number, w3: number): number =>
  (Math.imul(w0 ^ (w1 >>> 7), 0x9e3779b1) ^ Math.imul(w2 ^ (w3 >>> 3), 0x85ebca77) ^ w3) | 0;

export class RouteTable6<T> {
  private levels: Level<T>[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.levels = [];
    this.count = 0;
  }

  /** Adds (or replaces) the route for net/prefixLen; net is four words. */
  set(net: ArrayLike<number>, prefixLen: number, value: T): void {
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 128)
      throw new RangeError(`an IPv6 prefix length is 0..128, got ${prefixLen}`);
    let level = this.levels.find((l) => l.len === prefixLen);
    if (!level) {
      const mask = Uint32Array.from([0, 1, 2, 3], (k) => maskWord6(prefixLen, k));
      level = { len: prefixLen, mask, buckets: new Map() };
      this.levels.push(level);
      this.levels.sort((a, b) => b.len - a.len);
    }
    const m = level.mask;
    const w = Uint32Array.from([0, 1, 2, 3], (k) => (net[k]! & m[k]!) >>> 0);
    const key = keyOf(w[0]!, w[1]!, w[2]!, w[3]!);
    let head = level.buckets.get(key);
    // Replace: drop an equal net from the chain first.
    let chain: Route6<T> | undefined;
    let replaced = false;
    for (let r = head; r; r = r.next)
      if (sameNet(r.net, w)) replaced = true;
      else chain = { net: r.net, value: r.value, next: chain };
    head = { net: w, value, next: chain };
    level.buckets.set(key, head);
    if (!replaced) this.count++;
  }

  /** The peer of the most specific route containing the address at buf[at, at+16). */
  lookup(buf: Uint8Array, at: number): T | undefined {
    const a0 = word6(buf, at, 0);
    const a1 = word6(buf, at, 1);
    const a2 = word6(buf, at, 2);
    const a3 = word6(buf, at, 3);
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const { mask, buckets } = levels[i]!;
      const w0 = (a0 & mask[0]!) >>> 0;
      const w1 = (a1 & mask[1]!) >>> 0;
      const w2 = (a2 & mask[2]!) >>> 0;
      const w3 = (a3 & mask[3]!) >>> 0;
      for (let r = buckets.get(keyOf(w0, w1, w2, w3)); r; r = r.next) {
        const n = r.net;
        if (n[0] === w0 && n[1] === w1 && n[2] === w2 && n[3] === w3) return r.value;
      }
    }
    return undefined;
  }
}

function sameNet(a: Uint32Array, b: Uint32Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
