/**
 * The set of peer leases a node knows, keyed by subnet key. A resync (after compaction, a broken
 * watch or an etcd restart) replaces the whole set; `reset` returns only the difference, so the
 * backend never sees a remove/add flap for a peer that did not change.
 */
import { sameAttrs, type Lease, type LeaseEvent } from '../core/lease.js';
import { subnetKeyOf } from '../core/subnet-key.js';

export class LeaseSet {
  private readonly byKey = new Map<string, Lease>();

  get size(): number {
    return this.byKey.size;
  }

  leases(): Lease[] {
    return [...this.byKey.values()];
  }

  /** A PUT: an event unless the lease is already known with the same attributes. */
  put(lease: Lease): LeaseEvent | undefined {
    const key = subnetKeyOf(lease.subnet);
    const known = this.byKey.get(key);
    this.byKey.set(key, lease);
    if (known && sameAttrs(known.attrs, lease.attrs)) return undefined;
    return { type: 'added', lease };
  }

  /** A DELETE: returns the cached lease (with its attributes) so the backend can undo exactly it. */
  delete(subnetKey: string): LeaseEvent | undefined {
    const known = this.byKey.get(subnetKey);
    if (!known) return undefined;
    this.byKey.delete(subnetKey);
    return { type: 'removed', lease: known };
  }

  /** Replaces the set with a snapshot; removals come first so a moved subnet is freed before reuse. */
  reset(snapshot: readonly Lease[]): LeaseEvent[] {
    const next = new Map(snapshot.map((l) => [subnetKeyOf(l.subnet), l] as const));
    const events: LeaseEvent[] = [];
    for (const [key, lease] of this.byKey) {
      if (!next.has(key)) events.push({ type: 'removed', lease });
    }
    for (const [key, lease] of next) {
      const known = this.byKey.get(key);
      if (!known || !sameAttrs(known.attrs, lease.attrs)) events.push({ type: 'added', lease });
    }
    this.byKey.clear();
    for (const [k, v] of next) this.byKey.set(k, v);
    return events;
  }
}
