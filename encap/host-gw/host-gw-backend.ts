/**
 * host-gw backend: no encapsulation, a kernel route per peer — <peer subnet> via <peer PublicIP>
 * dev <external interface> — so peers must share our L2. Nearly pure configuration over the
 * shared kernel-sync code: refuse NAT at start (flannel's rule), count peers whose gateway is
 * not on-link instead of failing, re-add missing routes every 10 s.
 */
import { OverlaydError } from '../../daemon/errors.js';
import { formatCidr, formatIpv4 } from '../../subnet-lease/ipv4.js';
import type { Lease } from '../../subnet-lease/lease.js';
import { collapseEvents, type LeaseEvent } from '../../subnet-lease/lease-set.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelMetrics } from '../kernel/kernel-metrics.js';
import { KernelSync, type PeerEntries } from '../kernel/kernel-sync.js';
import { OVERLAYD_RTPROT, PeriodicReconciler } from '../kernel/periodic.js';
import { findLink } from '../sys/rtnetlink/link-ops.js';
import { RtNetlink } from '../sys/rtnetlink/netlink-socket.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  return new HostGwBackend(ctx);
}

class HostGwBackend implements Backend {
  readonly type = 'host-gw' as const;
  private readonly nl = new RtNetlink();
  private readonly metrics: KernelMetrics;
  private readonly sync: KernelSync;
  private readonly peers = new Map<string, Lease>();
  private ifindex = 0;
  private readonly periodic: PeriodicReconciler;

  constructor(private readonly ctx: BackendContext) {
    this.metrics = new KernelMetrics(ctx.metrics);
    this.sync = new KernelSync(this.nl, this.metrics, ctx.log);
    this.periodic = new PeriodicReconciler(ctx.log, undefined, () => this.reconcileNow());
  }

  async register(): Promise<Registration> {
    const { extIface } = this.ctx;
    if (extIface.publicIp !== extIface.ifaceAddr) {
      throw new OverlaydError(
        'BACKEND',
        `host-gw: your PublicIP ${extIface.publicIp} differs from the interface address ${extIface.ifaceAddr} - probably you're on a NAT, which host-gw cannot cross; use vxlan or udp, or drop --public-ip`,
      );
    }
    const link = findLink(this.nl, extIface.name);
    if (!link) throw new OverlaydError('BACKEND', `external interface ${extIface.name} not found`);
    this.ifindex = link.index;
    return { backendType: 'host-gw', mtu: extIface.mtu };
  }

  async start(): Promise<void> {
    this.periodic.start();
  }

  private entriesOf(peer: Lease): PeerEntries | undefined {
    if (peer.attrs.backendType !== 'host-gw') return undefined;
    return {
      neighs: [],
      fdbs: [],
      routes: [
        {
          dst: peer.subnet.ip,
          dstLen: peer.subnet.prefixLen,
          gateway: peer.attrs.publicIp,
          oif: this.ifindex,
          protocol: OVERLAYD_RTPROT,
        },
      ],
    };
  }

  addPeer(peer: Lease): Promise<void> {
    return this.applyPeerEvents([{ type: 'added', lease: peer }]);
  }

  removePeer(peer: Lease): Promise<void> {
    return this.applyPeerEvents([{ type: 'removed', lease: peer }]);
  }

  /** A run of events: their net effect, programmed in one netlink send (plus one for removals). */
  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    const end = this.metrics.programSeconds.startTimer();
    const removes: PeerEntries[] = [];
    const adds: Lease[] = [];
    for (const ev of collapseEvents(events)) {
      const key = formatCidr(ev.lease.subnet);
      const prev = this.peers.get(key);
      if (prev) {
        const old = this.entriesOf(prev);
        if (old) removes.push(old);
        this.peers.delete(key);
      }
      if (ev.type === 'removed') continue;
      if (!this.entriesOf(ev.lease)) {
        this.metrics.peersIgnored.inc({ reason: 'other_backend' });
        continue;
      }
      adds.push(ev.lease);
    }
    // A route being replaced (same subnet, new gateway) is removed first, then added anew.
    this.sync.removeMany(removes);
    const errors = this.sync.addMany(adds.map((l) => this.entriesOf(l)!));
    adds.forEach((lease, i) => {
      this.peers.set(formatCidr(lease.subnet), lease);
      if (errors[i]) {
        this.metrics.peersIgnored.inc({ reason: 'gateway_not_onlink' });
        this.ctx.log.error(
          { subnet: formatCidr(lease.subnet), gateway: formatIpv4(lease.attrs.publicIp), err: errors[i] },
          'cannot route to peer: host-gw needs every node on one L2 (is the gateway on-link?)',
        );
      }
    });
    const seconds = end() / Math.max(1, events.length);
    for (let i = 1; i < events.length; i++) this.metrics.programSeconds.observe(seconds);
    this.metrics.peersProgrammed.set(this.peers.size);
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    this.peers.clear();
    for (const l of all) {
      if (this.entriesOf(l)) this.peers.set(formatCidr(l.subnet), l);
      else this.metrics.peersIgnored.inc({ reason: 'other_backend' });
    }
    this.reconcileNow();
  }

  private reconcileNow(): void {
    const desired = [...this.peers.values()].map((l) => this.entriesOf(l)!);
    this.sync.reconcile(desired, { protocol: OVERLAYD_RTPROT });
    this.metrics.peersProgrammed.set(this.peers.size);
  }

  async close(): Promise<void> {
    this.periodic.stop();
    this.nl.close();
  }
}
