/**
 * A lease is the only contract between the control plane and the backends: a subnet, the node's
 * public IP, and what its backend published. A peer is another node's lease; a LeaseEvent says one
 * appeared, changed or left. How leases are stored (flannel's etcd schema) is subnet-lease's
 * business; this file is what every layer may know about them.
 */
import type { Ipv4Net } from './ipv4.js';
import { subnetKeyOf } from './subnet-key.js';

export interface LeaseAttrs {
  readonly publicIp: number;
  /** Absent for the udp backend, which flannel publishes without a BackendType. */
  readonly backendType?: string;
  /** Backend-specific JSON, e.g. {"VNI":1,"VtepMAC":"…"} for vxlan. */
  readonly backendData?: unknown;
}

export interface Lease {
  readonly subnet: Ipv4Net;
  readonly attrs: LeaseAttrs;
  /** When etcd will drop the key; undefined for reservations (keys without an etcd lease). */
  readonly expiration?: Date;
  /** The etcd lease the key is attached to (ours only). */
  readonly etcdLeaseId?: string;
}

export type LeaseEvent =
  { readonly type: 'added'; readonly lease: Lease } | { readonly type: 'removed'; readonly lease: Lease };

export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return (
    a.publicIp === b.publicIp &&
    (a.backendType ?? '') === (b.backendType ?? '') &&
    JSON.stringify(a.backendData ?? null) === JSON.stringify(b.backendData ?? null)
  );
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
