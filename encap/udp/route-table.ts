/**
 * Longest-prefix match of a destination to a peer, keyed by integers (no strings on the hot path):
 * one Map per prefix length present, tried from the longest. Lookups allocate nothing.
 * flannel's proxy used a linear list where the first match won; here the most specific wins.
 */
import { maskOf } from '../../core/ipv4.js';

export class RouteTable<T> {
  private readonly byLen = new Map<number, Map<number, T>>();
  private lens: number[] = [];
  private masks: number[] = [];

  get size(): number {
    let n = 0;
    for (const m of this.byLen.values()) n += m.size;
    return n;
  }

  set(net: number, prefixLen: number, value: T): void {
    let m = this.byLen.get(prefixLen);
    if (!m) {
      m = new Map();
      this.byLen.set(prefixLen, m);
      this.reindex();
    }
    m.set(net & maskOf(prefixLen), value);
  }

  delete(net: number, prefixLen: number): boolean {
    const m = this.byLen.get(prefixLen);
    if (!m) return false;
    const had = m.delete(net & maskOf(prefixLen));
    if (m.size === 0) {
      this.byLen.delete(prefixLen);
      this.reindex();
    }
    return had;
  }

  clear(): void {
    this.byLen.clear();
    this.reindex();
  }

  lookup(ip: number): T | undefined {
    const lens = this.lens;
    for (let i = 0; i < lens.length; i++) {
      // Int32 keys (no >>> 0): an address above 2^31 as a double would be boxed per lookup.
      const v = this.byLen.get(lens[i]!)!.get(ip & this.masks[i]!);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  private reindex(): void {
    this.lens = [...this.byLen.keys()].sort((a, b) => b - a);
    this.masks = this.lens.map(maskOf);
  }
}
