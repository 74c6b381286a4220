/**
 * The peer bookkeeping vxlan and host-gw share: which leases are programmed, how a run of lease
 * events becomes one batch of netlink requests, and how a full reconcile is asked of KernelSync.
 * A backend supplies only what a lease means in the kernel (`entriesOf`) and its reconcile scope.
 */
import type { Logger } from 'pino';
import { formatCidr, formatIpv4 } from '../../core/ipv4.js';
import { subnetKeyOf } from '../../core/subnet-key.js';
import { collapseEvents, type Lease, type LeaseEvent } from '../../core/lease.js';
import type { KernelMetrics } from './kernel-metrics.js';
import type { KernelSync, PeerEntries, ReconcileScope } from './kernel-sync.js';

export interface PeerProgrammerOptions {
  readonly sync: KernelSync;
  readonly metrics: KernelMetrics;
  readonly log: Logger;
  /** The kernel entries a lease needs, or why this backend cannot use it (a metric label). */
  readonly entriesOf: (lease: Lease) => PeerEntries | string;
  readonly scope: () => ReconcileScope;
  /** What to say (and count) when a peer's entries cannot be added. */
  readonly addFailure: { readonly message: string; readonly reason?: string };
}

export class PeerProgrammer {
  private readonly peers = new Map<string, Lease>();

  constructor(private readonly o: PeerProgrammerOptions) {}

  get size(): number {
    return this.peers.size;
  }

  /** A run of events: their net effect, in one netlink send for removals and one for additions. */
  apply(events: readonly LeaseEvent[]): void {
    const { sync, metrics, entriesOf } = this.o;
    const t0 = performance.now();
    const removes: PeerEntries[] = [];
    const adds: Array<{ key: string; lease: Lease; entries: PeerEntries }> = [];
    for (const ev of collapseEvents(events)) {
      const key = subnetKeyOf(ev.lease.subnet);
      const prev = this.peers.get(key);
      const old = prev ? entriesOf(prev) : undefined;
      const entries = ev.type === 'added' ? entriesOf(ev.lease) : undefined;
      if (typeof entries !== 'object') {
        if (typeof entries === 'string') metrics.peersIgnored.inc({ reason: entries });
        this.peers.delete(key);
        if (typeof old === 'object') removes.push(old);
        continue;
      }
      // A changed lease (new MAC or IP) must not leave its old neighbour/FDB entries behind; the
      // route is replaced in place.
      if (typeof old === 'object') removes.push({ ...old, routes: [] });
      adds.push({ key, lease: ev.lease, entries });
    }
    sync.removeMany(removes);
    const errors = sync.addMany(adds.map((a) => a.entries));
    adds.forEach((a, i) => {
      // Kept even when programming failed: the periodic reconcile retries it.
      this.peers.set(a.key, a.lease);
      if (errors[i]) {
        if (this.o.addFailure.reason) metrics.peersIgnored.inc({ reason: this.o.addFailure.reason });
        this.o.log.error(
          {
            subnet: formatCidr(a.lease.subnet),
            publicIp: formatIpv4(a.lease.attrs.publicIp),
            err: errors[i],
          },
          this.o.addFailure.message,
        );
      }
    });
    const perEvent = (performance.now() - t0) / 1000 / Math.max(1, events.length);
    for (let i = 0; i < events.length; i++) metrics.programSeconds.observe(perEvent);
    metrics.peersProgrammed.set(this.peers.size);
  }

  /** Replaces the peer set and makes the kernel match it exactly. */
  reset(all: readonly Lease[]): void {
    this.peers.clear();
    for (const l of all) {
      const e = this.o.entriesOf(l);
      if (typeof e === 'string') this.o.metrics.peersIgnored.inc({ reason: e });
      else this.peers.set(subnetKeyOf(l.subnet), l);
    }
    this.reconcile();
  }

  /** Compares the kernel with the current peer set and fixes the difference. */
  reconcile(): void {
    const desired: PeerEntries[] = [];
    for (const l of this.peers.values()) {
      const e = this.o.entriesOf(l);
      if (typeof e === 'object') desired.push(e);
    }
    this.o.sync.reconcile(desired, this.o.scope());
    this.o.metrics.peersProgrammed.set(this.peers.size);
  }
}
