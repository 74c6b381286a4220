/**
 * host-gw backend: no encapsulation, a kernel route per peer — <peer subnet> via <peer PublicIP>
 * dev <external interface> — so peers must share our L2. Nearly pure configuration over the
 * shared kernel-sync code: refuse NAT at start (flannel's rule), count peers whose gateway is
 * not on-link instead of failing, re-add missing routes every 10 s.
 */
import { OverlaydError } from '../../core/errors.js';
import type { Lease } from '../../core/lease.js';
import { findLink } from '../../sys/rtnetlink/link-ops.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelBackend } from '../kernel/kernel-backend.js';
import type { PeerEntries, ReconcileScope } from '../kernel/kernel-sync.js';
import { OVERLAYD_RTPROT } from '../kernel/periodic.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  return new HostGwBackend(ctx);
}

class HostGwBackend extends KernelBackend {
  readonly type = 'host-gw' as const;
  private ifindex = 0;

  constructor(ctx: BackendContext) {
    super(ctx, {
      message: 'cannot route to peer: host-gw needs every node on one L2 (is the gateway on-link?)',
      reason: 'gateway_not_onlink',
    });
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

  protected scope(): ReconcileScope {
    return { protocol: OVERLAYD_RTPROT };
  }

  protected entriesOf(peer: Lease): PeerEntries | string {
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
}
