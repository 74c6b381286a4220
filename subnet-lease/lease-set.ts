/**
 * The set of peer leases a node knows, keyed by subnet key. A resync (after compaction, a broken
 * watch or an etcd restart) replaces the whole set; `reset` returns only the difference, so the
 * backend never sees a remove/add flap for a peer that did not change.
 */
import { sameAttrs, subnetKeyOf, type Lease } from './lease.js';

export type LeaseEvent =
  { readonly type: 'added'; readonly lease: Lease } | { readonly type: 'removed'; readonly lease: Lease };

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

/**
 * The net effect of a run of events: the last event per subnet, in first-seen order. Each event is
 * absolute (this lease is present / this subnet is gone), so the last one decides; a backend can
 * then program a whole batch at once without replaying intermediate states.
 */
export function collapseEvents(events: readonly LeaseEvent[]): LeaseEvent[] {
  const last = new Map<string, LeaseEvent>();
  for (const e of events) {
    const k = subnetKeyOf(e.lease.subnet);
    last.delete(k); // re-insert: order by the last event keeps removals before later re-adds
    last.set(k, e);
  }
  return [...last.values()];
}
