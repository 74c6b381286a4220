/**
 * A lease is the only contract between the control plane and the backends: a subnet, the node's
 * public IP, and what its backend published. A peer is another node's lease; a LeaseEvent says one
 * appeared, changed or left. How leases are stored (flannel's etcd schema) is subnet-lease's
 * business; this file is what every layer may know about them.
 */
import { subnetKeyOf, type LeaseSubnets } from './subnet-key.js';

export interface LeaseAttrs {
  readonly publicIp: number;
  /** PublicIPv6: where peers reach us over IPv6 (dual-stack vxlan and host-gw). */
  readonly publicIpv6?: bigint;
  /** Absent for the udp backend, which flannel publishes without a BackendType. */
  readonly backendType?: string;
  /** Backend-specific JSON, e.g. {"VNI":1,"VtepMAC":"…"} for vxlan. */
  readonly backendData?: unknown;
  /** BackendV6Data: what the backend published for its IPv6 side (vxlan: the flannel-v6 device). */
  readonly backendV6Data?: unknown;
}

/** `subnet` always; `ipv6Subnet` beside it for a dual-stack lease (one etcd key holds both). */
export interface Lease extends LeaseSubnets {
  readonly attrs: LeaseAttrs;
  /** When etcd will drop the key; undefined for reservations (keys without an etcd lease). */
  readonly expiration?: Date;
  /** The etcd lease the key is attached to (ours only). */
  readonly etcdLeaseId?: string;
  /**
   * The etcd revision that created the key. Two dual-stack nodes can create different keys holding
   * the same IPv6 subnet (the txn guards only the key); the later creator yields (lease-manager).
   */
  readonly createRevision?: bigint;
}

export type LeaseEvent =
  { readonly type: 'added'; readonly lease: Lease } | { readonly type: 'removed'; readonly lease: Lease };

export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return (
    a.publicIp === b.publicIp &&
    a.publicIpv6 === b.publicIpv6 &&
    (a.backendType ?? '') === (b.backendType ?? '') &&
    JSON.stringify(a.backendData ?? null) === JSON.stringify(b.backendData ?? null) &&
    JSON.stringify(a.backendV6Data ?? null) === JSON.stringify(b.backendV6Data ?? null)
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

/** Same subnets and attributes: a PUT of it changes nothing a backend programs. */
export function sameLease(a: Lease, b: Lease): boolean {
  const a6 = a.ipv6Subnet;
  const b6 = b.ipv6Subnet;
  const same6 =
    a6 === undefined || b6 === undefined ? a6 === b6 : a6.ip === b6.ip && a6.prefixLen === b6.prefixLen;
  return same6 && sameAttrs(a.attrs, b.attrs);
}
