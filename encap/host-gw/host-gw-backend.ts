/**
 * host-gw backend: no encapsulation, a kernel route per peer — <peer subnet> via <peer PublicIP>
 * dev <external interface> — so peers must share our L2. Nearly pure configuration over the
 * shared kernel-sync code: refuse NAT at start (flannel's rule), count peers whose gateway is
 * not on-link instead of failing, re-add missing routes every 10 s.
 */
import { OverlaydError } from '../../core/errors.js';
import type { Lease, LeaseEvent } from '../../core/lease.js';
import { PeerProgrammer } from '../kernel/peer-programmer.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelMetrics } from '../kernel/kernel-metrics.js';
import { KernelSync, type PeerEntries } from '../kernel/kernel-sync.js';
import { OVERLAYD_RTPROT, PeriodicReconciler } from '../kernel/periodic.js';
import { findLink } from '../../sys/rtnetlink/link-ops.js';
import { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  return new HostGwBackend(ctx);
}

class HostGwBackend implements Backend {
  readonly type = 'host-gw' as const;
  private readonly nl = new RtNetlink();
  private readonly metrics: KernelMetrics;
  private readonly programmer: PeerProgrammer;
  private ifindex = 0;
  private readonly periodic: PeriodicReconciler;

  constructor(private readonly ctx: BackendContext) {
    this.metrics = new KernelMetrics(ctx.metrics);
    this.programmer = new PeerProgrammer({
      sync: new KernelSync(this.nl, this.metrics, ctx.log),
      metrics: this.metrics,
      log: ctx.log,
      entriesOf: (l) => this.entriesOf(l),
      scope: () => ({ protocol: OVERLAYD_RTPROT }),
      addFailure: {
        message: 'cannot route to peer: host-gw needs every node on one L2 (is the gateway on-link?)',
        reason: 'gateway_not_onlink',
      },
    });
    this.periodic = new PeriodicReconciler(ctx.log, undefined, () => this.programmer.reconcile());
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

  private entriesOf(peer: Lease): PeerEntries | string {
    if (peer.attrs.backendType !== 'host-gw') return 'other_backend';
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

  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    this.programmer.apply(events);
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    this.programmer.reset(all);
  }

  async close(): Promise<void> {
    this.periodic.stop();
    this.nl.close();
  }
}
